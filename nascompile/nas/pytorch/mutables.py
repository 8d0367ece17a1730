"""``nni.nas.pytorch.mutables``: the choice points of a hand-written model (:mod:`nascompile.nn.mutables`)."""
from ...nn.mutables import DepthChoice, InputChoice, LayerChoice, Mutable, MutableScope, ValueChoice

__all__ = ["Mutable", "LayerChoice", "InputChoice", "MutableScope", "ValueChoice", "DepthChoice"]
