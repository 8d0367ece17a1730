"""``nni.nas.pytorch.utils``: meters (:mod:`nascompile.train.meters`), ``to_device``, and NNI's
program-wide counter of keyless mutables (which numbers ``LayerChoice1``, ``InputChoice2``, ...)."""
from ...nn import mutables as _mutables
from ...train import AverageMeter, AverageMeterGroup, to_device

__all__ = ["AverageMeter", "AverageMeterGroup", "to_device", "global_mutable_counting"]


def global_mutable_counting() -> int:
    """The next number of NNI's program-wide counter (a keyless LayerChoice/InputChoice takes one)."""
    return next(_mutables._NNI_NUMBERS)
