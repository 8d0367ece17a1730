"""``nni.nas.pytorch.callbacks`` (:mod:`nascompile.oneshot.callbacks`): NNI's callback protocol
(``build(model, mutator, trainer)``, ``on_epoch_begin(epoch)``, ``on_epoch_end(epoch)``) and its
callbacks; ``LearningRateScheduler`` is the older NNI name of :class:`LRSchedulerCallback`."""
from ...oneshot.callbacks import ArchitectureCheckpoint, LRSchedulerCallback, ModelCheckpoint
from ...oneshot.callbacks import NniCallback as Callback

LearningRateScheduler = LRSchedulerCallback

__all__ = ["Callback", "LRSchedulerCallback", "LearningRateScheduler", "ArchitectureCheckpoint", "ModelCheckpoint"]
