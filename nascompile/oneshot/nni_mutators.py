"""NNI v1's mutator classes, by name, on nascompile's mutators (the trainers take them as
``mutator=``), and NNI's form of a sample for the functions NNI users wrote against it.

``DartsMutator(model)``           a :class:`~nascompile.nn.WeightedMutator` with DARTS's ``none``
``RandomMutator(model)``          a :class:`~nascompile.nn.SinglePathMutator` (uniform draws)
``ProxylessNasMutator(model)``    a :class:`~nascompile.nn.BinaryGateMutator`
``SPOSSupernetTrainingMutator(model, flops_func=None, flops_lb=None, flops_ub=None,
flops_bin_num=7, flops_sample_timeout=500)``  uniform draws, or with ``flops_func`` draws
                                  uniform over FLOPs: a bin of ``[flops_lb, flops_ub]`` is drawn
                                  first, then architectures until one falls in it
``EnasMutator``                   see :mod:`.enas_nni`

:func:`nni_candidate` turns a sample into what NNI's mutators handed such functions (SPOS's
``get_candidate_flops``): ``{mutable key: bool tensor}``, one-hot for a layer choice and
multi-hot for an input choice, keyed by each mutable's NNI key (its key, or ``LayerChoice3``).

Example::

    mutator = SPOSSupernetTrainingMutator(model, flops_func=model.get_candidate_flops,
                                          flops_lb=290e6, flops_ub=360e6)
    SposSupernetTrainer(model, loss, metrics, optimizer, 120, train_loader, valid_loader, mutator=mutator)
"""
from __future__ import annotations

import logging

import torch
import torch.nn as nn

from ..nn import BinaryGateMutator, InputChoice, LayerChoice, SinglePathMutator, WeightedMutator

__all__ = ["DartsMutator", "RandomMutator", "ProxylessNasMutator", "SPOSSupernetTrainingMutator", "nni_candidate"]

log = logging.getLogger(__name__)


class DartsMutator(WeightedMutator):
    """NNI's ``DartsMutator(model)``: alpha per layer choice plus DARTS's ``none``."""

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model, add_none=True, seed=seed)


class RandomMutator(SinglePathMutator):
    """NNI's ``RandomMutator(model)``: a uniform architecture on every ``resample()``."""


class ProxylessNasMutator(BinaryGateMutator):
    """NNI's ``ProxylessNasMutator(model)``: binary gates over two sampled paths."""


def nni_candidate(sample, space) -> dict:
    """``sample`` (canonical) as NNI's mutators gave it: ``{key: bool tensor}`` (module docstring);
    value choices keep their value."""
    out = {}
    for entry in space.entries:
        m, value = entry.module, sample.get(entry.label)
        if value is None or m.key in out:
            continue
        if isinstance(m, LayerChoice):
            out[m.key] = torch.tensor([n == value for n in m.names], dtype=torch.bool)
        elif isinstance(m, InputChoice):
            out[m.key] = torch.tensor([n in value for n in m.choose_from], dtype=torch.bool)
        else:
            out[m.key or entry.label] = value
    return out


class SPOSSupernetTrainingMutator(SinglePathMutator):
    """NNI's SPOS supernet mutator (module docstring). ``flops_func`` gets :func:`nni_candidate`
    of each draw; after ``flops_sample_timeout`` draws outside the bin, a warning and the last
    draw. Draws come from the mutator's seeded generator (NNI: numpy's global one)."""

    def __init__(self, model: nn.Module, flops_func=None, flops_lb=None, flops_ub=None, flops_bin_num: int = 7,
                 flops_sample_timeout: int = 500, seed: int = 0):
        self._flops_func = flops_func
        super().__init__(model, seed=seed)
        if flops_func is not None:
            if flops_lb is None or flops_ub is None or not flops_lb < flops_ub:
                raise ValueError(f"a flops_func needs flops_lb < flops_ub, got {flops_lb!r} and {flops_ub!r}")
            self._flops_bin_num = int(flops_bin_num)
            self._flops_bins = [flops_lb + (flops_ub - flops_lb) / flops_bin_num * i for i in range(flops_bin_num + 1)]
            self._flops_sample_timeout = int(flops_sample_timeout)

    def flops(self, sample) -> float:
        """``flops_func`` of a canonical sample."""
        return float(self._flops_func(nni_candidate(sample, self.space)))

    def resample(self) -> dict:
        if getattr(self, "_flops_func", None) is None or not hasattr(self, "_flops_bins"):
            return super().resample()
        for _ in range(self._flops_sample_timeout):
            idx = self._rng.randrange(self._flops_bin_num)
            sample = super().resample()
            if self._flops_bins[idx] <= self.flops(sample) <= self._flops_bins[idx + 1]:
                return sample
        log.warning("nascompile: no architecture within the FLOPs bin in %d draws: a uniform one",
                    self._flops_sample_timeout)
        return super().resample()
