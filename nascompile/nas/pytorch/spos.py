"""``nni.nas.pytorch.spos``: SPOS as NNI v1 shipped it (:mod:`nascompile.oneshot.spos_nni`):
``SPOSSupernetTrainer``, ``SPOSSupernetTrainingMutator`` (FLOPs-uniform draws with a
``flops_func``), and the ``SPOSEvolution`` tuner, which :func:`run_tuner` runs in this process
where NNI needed ``nnictl``."""
from ...oneshot.nni_mutators import SPOSSupernetTrainingMutator, nni_candidate
from ...oneshot.spos_nni import SPOSEvolution, SPOSSupernetTrainer, run_tuner

__all__ = ["SPOSSupernetTrainer", "SPOSSupernetTrainingMutator", "SPOSEvolution", "run_tuner", "nni_candidate"]
