"""``nni.nas.pytorch.random``: NNI's uniform mutator (:mod:`nascompile.oneshot.nni_mutators`)."""
from ...oneshot.nni_mutators import RandomMutator

__all__ = ["RandomMutator"]
