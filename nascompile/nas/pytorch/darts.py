"""``nni.nas.pytorch.darts``: DARTS with NNI v1's signature (:mod:`nascompile.oneshot.darts`).

``DartsTrainer(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid,
mutator=None, batch_size=64, workers=4, device=None, log_frequency=None, callbacks=None,
arc_learning_rate=3.0E-4, unrolled=False)``: the weights train on the first half of
``dataset_train`` (gradient norm clipped to 5), alpha (Adam, betas (0.5, 0.999), weight decay
1e-3) on the second half, ``dataset_valid`` only validates; ``export()`` writes the ops of the
edges the input choices drop as all-false lists, as NNI's did. nascompile's keyword arguments
(``seed``, ``checkpoint_dir``, ...) may follow.
"""
from ...oneshot.darts import DartsTrainer as _DartsTrainer
from ...oneshot.nni_mutators import DartsMutator

__all__ = ["DartsTrainer", "DartsMutator"]


class DartsTrainer(_DartsTrainer):
    """NNI v1's ``DartsTrainer`` (module docstring)."""

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, mutator=None,
                 batch_size=64, workers=4, device=None, log_frequency=None, callbacks=None,
                 arc_learning_rate=3.0E-4, unrolled=False, **kwargs):
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, mutator,
                         batch_size, workers, device, log_frequency, callbacks or (),
                         arc_learning_rate=arc_learning_rate, unrolled=unrolled, **kwargs)
