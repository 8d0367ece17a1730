"""Mutables for hand-written models: LayerChoice, InputChoice, MutableScope, value choices.

Write the model once with mutables, then either search it with a mutator (one-shot), run it as
one trial of a multi-trial search, or fix it to an architecture and retrain::

    from nascompile.nn import LayerChoice, SinglePathMutator, apply_fixed_architecture

    mutator = SinglePathMutator(model, seed=0)      # supernet: one path per step
    model = apply_fixed_architecture(Net(), "final_architecture.json")   # retraining
"""
from .arch_weights import ArchWeightMutator
from .binary_gate import BinaryGateMutator
from .fixed import ChosenInputs, ChosenLayer, FixedValue, UnusedLayer, apply_fixed_architecture
from .mutables import DepthChoice, InputChoice, LayerChoice, Mutable, MutableScope, ValueChoice, reduce_tensors
from .mutator import Mutator
from .single_path import SinglePathMutator
from .space import ModelSpace, model_decisions
from .trial import get_and_apply_next_architecture, report_final_result, report_intermediate_result
from .weighted import WeightedMutator

__all__ = [
    "LayerChoice", "InputChoice", "ValueChoice", "DepthChoice", "MutableScope", "Mutable", "reduce_tensors",
    "ModelSpace", "model_decisions",
    "Mutator", "SinglePathMutator", "ArchWeightMutator", "WeightedMutator", "BinaryGateMutator",
    "apply_fixed_architecture", "FixedValue", "ChosenInputs", "ChosenLayer", "UnusedLayer",
    "get_and_apply_next_architecture", "report_intermediate_result", "report_final_result",
]
