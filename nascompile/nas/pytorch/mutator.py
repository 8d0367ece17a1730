"""``nni.nas.pytorch.mutator``: the mutator base (:mod:`nascompile.nn.mutator`; its protocol is
nascompile's: ``resample`` / ``export`` / ``state_dict``, see there)."""
from ...nn.mutator import Mutator

__all__ = ["Mutator"]
