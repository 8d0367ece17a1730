"""``nni.nas.pytorch`` (NNI v1), on nascompile. Modules, as in NNI:

``mutables``      LayerChoice, InputChoice (``NO_KEY``), MutableScope, Mutable
``mutator``       Mutator (nascompile's mutator protocol)
``fixed``         apply_fixed_architecture, FixedArchitecture
``callbacks``     Callback (NNI's protocol), LRSchedulerCallback, ArchitectureCheckpoint, ModelCheckpoint
``utils``         AverageMeter, AverageMeterGroup, to_device, global_mutable_counting
``trainer``       Trainer (the one-shot trainer base), TorchTensorEncoder
``darts``         DartsTrainer, DartsMutator
``enas``          EnasTrainer, EnasMutator
``spos``          SPOSSupernetTrainer, SPOSSupernetTrainingMutator, SPOSEvolution (+ run_tuner)
``proxylessnas``  ProxylessNasTrainer, ProxylessNasMutator
``random``        RandomMutator
``classic_nas``   get_and_apply_next_architecture (+ report_final_result, report_intermediate_result)

Data, as NNI v1's trainers used it: DARTS and ENAS split ``dataset_train`` (DARTS half and half,
ENAS nine tenths and one tenth) for the weight and the architecture steps and only validate on
``dataset_valid``; SPOS and ProxylessNAS take loaders (``train_loader`` trains, ``valid_loader``
validates, and for ProxylessNAS also trains the architecture).

What differs on purpose (each documented where it lives): keyless mutables are labelled by
their module path (an NNI file with numbered keys ``LayerChoice1`` ... still loads:
:meth:`nascompile.nn.ModelSpace.from_nni_keys`), and ``trainer.export()`` writes those labels;
``InputChoice.choose_from`` holds candidate names (a ``NO_KEY`` candidate is named by its
position; ``sources`` keeps NNI's keys); ENAS exports its most likely architecture (NNI: one more
random draw) and starts its baseline at the first reward; a trainer seeds everything with
``seed=0`` unless told otherwise; ``nni.report_final_result`` is
:func:`nascompile.nn.report_final_result` (re-exported by :mod:`.classic_nas`).

Example::

    from nascompile.nas.pytorch import enas, mutables       # was: from nni.nas.pytorch import ...
    trainer = enas.EnasTrainer(model, loss=criterion, metrics=accuracy, reward_function=reward,
                               optimizer=optimizer, num_epochs=10, dataset_train=train,
                               dataset_valid=test, batch_size=128, log_frequency=10)
    trainer.train()
    trainer.export(file="final_architecture.json")
"""
from ...nn import InputChoice, LayerChoice, Mutable, MutableScope, Mutator
from ...oneshot import OneShotTrainer as Trainer
from .fixed import apply_fixed_architecture

__all__ = ["InputChoice", "LayerChoice", "Mutable", "MutableScope", "Mutator", "Trainer", "apply_fixed_architecture"]
