"""``nni.nas.pytorch.enas``: ENAS with NNI v1's signature (:mod:`nascompile.oneshot.enas`).

``EnasTrainer(model, loss, metrics, reward_function, optimizer, num_epochs, dataset_train,
dataset_valid, mutator=None, batch_size=64, workers=4, device=None, log_frequency=None,
callbacks=None, entropy_weight=0.0001, skip_weight=0.8, baseline_decay=0.999, child_steps=500,
mutator_lr=0.00035, mutator_steps_aggregate=20, mutator_steps=50, aux_weight=0.4,
test_arc_per_epoch=1)``: ``child_steps`` weight steps on the first nine tenths of
``dataset_train`` (a model returning ``(logits, aux_logits)`` adds ``aux_weight`` times the
auxiliary loss), then ``mutator_steps`` controller updates of ``mutator_steps_aggregate`` rewards
each on the last tenth (gradient norm clipped to 5); each epoch validates ``test_arc_per_epoch``
sampled architectures on ``dataset_valid``. ``mutator`` defaults to NNI's
:class:`~nascompile.oneshot.enas_nni.EnasMutator` (``EnasMutator(model, tanh_constant=1.1,
cell_exit_extra_step=True)`` for the micro space). nascompile's keyword arguments may follow.
"""
from ...oneshot.enas import EnasTrainer as _EnasTrainer
from ...oneshot.enas_nni import EnasMutator

__all__ = ["EnasTrainer", "EnasMutator"]


class EnasTrainer(_EnasTrainer):
    """NNI v1's ``EnasTrainer`` (module docstring)."""

    def __init__(self, model, loss, metrics, reward_function, optimizer, num_epochs, dataset_train, dataset_valid,
                 mutator=None, batch_size=64, workers=4, device=None, log_frequency=None, callbacks=None,
                 entropy_weight=0.0001, skip_weight=0.8, baseline_decay=0.999, child_steps=500, mutator_lr=0.00035,
                 mutator_steps_aggregate=20, mutator_steps=50, aux_weight=0.4, test_arc_per_epoch=1, **kwargs):
        if mutator is None:
            mutator = EnasMutator(model)
        kwargs.setdefault("ctrl_grad_clip", 5.0)
        super().__init__(model, loss, metrics, reward_function, optimizer, num_epochs, dataset_train, dataset_valid,
                         mutator, batch_size, workers, device, log_frequency, callbacks or (),
                         entropy_weight=entropy_weight, skip_weight=skip_weight, baseline_decay=baseline_decay,
                         child_steps=child_steps, ctrl_lr=mutator_lr, ctrl_steps_aggregate=mutator_steps_aggregate,
                         ctrl_steps=mutator_steps, aux_weight=aux_weight, test_arc_per_epoch=test_arc_per_epoch,
                         **kwargs)
