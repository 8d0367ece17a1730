"""Single-path mode (ENAS, SPOS, random search): one architecture at a time.

The mutator holds a canonical sample; ``forward`` runs only the sampled candidate of each
layer choice and only the sampled inputs of each input choice. ``resample()`` draws a new
sample uniformly (every layer/value option equally likely; every allowed input subset equally
likely) from a generator seeded by ``seed``, so a run is reproducible; under the model's
``constraints`` it redraws until the sample satisfies them (uniform over the valid samples;
:func:`~.mutator.draw_valid`). A controller (ENAS) sets its own sample with ``set_sample``.

Example::

    mutator = SinglePathMutator(model, seed=0)   # draws a first sample
    mutator.set_sample({"op": "conv5", "skip": [0]})
    y = model(x)                                 # runs conv5 only
"""
from __future__ import annotations

import random

import torch.nn as nn

from ..arch import encode_arch
from .mutator import Mutator, draw_valid, inclusion_probs, pick_inputs, run_chosen


class SinglePathMutator(Mutator):
    """Uniform single-path sampling; ``export()`` is the current sample."""

    single_path = True

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        self._rng = random.Random(seed)
        self._sample: dict = {}
        self.resample()

    def resample(self) -> dict:
        self._sample = draw_valid(self._draw, self.constraints, "single-path sampler")
        return dict(self._sample)

    def _draw(self) -> dict:
        sample = {}
        for label, d in self.decisions.items():
            if d.kind != "input":
                sample[label] = self._rng.choice(d.options)
                continue
            n = len(d.options)
            if d.n_chosen is None:
                keep = [i for i in range(n) if self._rng.random() < 0.5]
            else:
                keep = sorted(self._rng.sample(range(n), d.n_chosen))
            sample[label] = tuple(d.options[i] for i in keep)
        return sample

    def set_sample(self, sample) -> dict:
        """Make ``sample`` (any architecture-JSON encoding, or a canonical sample) the current
        architecture; returns its canonical form. Raises ArchError as :func:`~nascompile.arch.normalize_arch` does."""
        self._sample = self.space.normalize(sample, "<sample>")
        return dict(self._sample)

    def export(self) -> dict:
        return dict(self._sample)

    def state_dict(self) -> dict:
        return {"rng": self._rng.getstate(), "sample": encode_arch(self._sample, self.decisions)}

    def load_state_dict(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))
        self.set_sample(state["sample"])

    def export_probs(self) -> dict[str, list[float]]:
        return {label: inclusion_probs(d) for label, d in self.decisions.items()}

    def layer_choice_forward(self, choice, args, kwargs):
        return run_chosen(choice, self._sample[choice.label], args, kwargs)

    def input_choice_forward(self, choice, tensors):
        return pick_inputs(choice, self._sample[choice.label], tensors)

    def value_choice_value(self, choice):
        return self._sample[choice.label]

    def input_choice_needed(self, choice):
        chosen = self._sample[choice.label]
        return tuple(n in chosen for n in choice.choose_from)
