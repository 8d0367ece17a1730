"""The mutator protocol: what a supernet trainer sees of a hand-written model's space.

A mutator walks ``model.named_modules()``, labels the mutables (see :mod:`.space`), groups
mutables that share a label into one :class:`~nascompile.ir.graph.Decision` and attaches itself
to every mutable (a later mutator replaces an earlier one). The protocol a trainer sees:

``resample()``      draw an architecture from the mutator's current distribution; the
                    canonical sample (label -> candidate name / tuple of names / value).
``export()``        the canonical sample of the current (single-path) or best (weighted)
                    architecture; :func:`~nascompile.nn.apply_fixed_architecture` takes it as
                    it is, :func:`~nascompile.arch.encode_arch` makes it JSON.
``export_probs()``  ``{label: [p for each option]}``: the probability of each layer/value option,
                    or for an input choice the probability that each candidate is chosen.
``state_dict()``    everything that decides what the mutator does next (generators, the current
                    sample, architecture weights), as tensors, numbers, strings, lists and dicts
                    (a checkpoint holds it; ``torch.load(weights_only=True)`` reads it back);
``load_state_dict(state)`` restores it, so a resumed search draws what the killed one would have.
``arch_parameters()`` the trainable architecture weights (empty for sampling mutators).
``set_sample(sample)`` for mutators whose forward runs exactly one architecture
                    (``single_path``): make ``sample`` the current one (others refuse).

A model may carry ``constraints`` (a compiled supernet carries its space's
:class:`~nascompile.passes.constraints.ConstraintSet`, or None): an object whose
``violation(sample)`` is None for a valid architecture. Sampling mutators then draw only valid
architectures, by rejection (:func:`draw_valid`, at most :data:`MAX_DRAWS` draws per sample).

Mutables call hooks during ``forward`` (not for users): ``layer_choice_forward(choice,
args, kwargs)`` and ``input_choice_forward(choice, tensors)`` return ``(outputs to reduce,
mask over the candidates)``; ``value_choice_value(choice)`` returns the value, and
``value_choice_mixture(choice)`` the values with weights for a module that can run a mixture
(``[(value, None)]`` by default: one value). A caller may ask
``input_choice_needed(choice)`` first (through ``InputChoice.needed_inputs``) and compute only
the candidates it names (None: all of them).

Example::

    mutator = SinglePathMutator(model, seed=0)
    for x, y in data:
        mutator.resample()
        loss(model(x), y).backward()
    print(mutator.export())
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn as nn

from ..errors import NasError
from ..ir.graph import Decision
from .mutables import InputChoice, LayerChoice, ValueChoice
from .space import ModelSpace


MAX_DRAWS = 10_000  # rejected draws before a sampler gives up on the constraints


def draw_valid(draw, constraints, what: str = "sampler", key=None):
    """``draw()`` until ``constraints.violation(key(drawn))`` is None (no constraints: the first
    draw; ``key`` defaults to the drawn sample itself); after :data:`MAX_DRAWS` rejections, one
    :class:`NasError` naming the constraint that refused the most."""
    sample = draw()
    if not constraints:
        return sample
    refused: dict = {}
    for _ in range(MAX_DRAWS):
        broken = constraints.violation(sample if key is None else key(sample))
        if broken is None:
            return sample
        refused[broken[0].text] = refused.get(broken[0].text, 0) + 1
        sample = draw()
    text, n = max(refused.items(), key=lambda kv: kv[1])
    raise NasError(f"the {what} found no architecture satisfying the constraints in {MAX_DRAWS:,} draws "
                   f"('{text}' refused {n:,} of them)",
                   hint="loosen the constraint, or shrink the space to where it holds")


class Weighted(NamedTuple):
    """One value of a mixture (:meth:`Mutator.value_choice_mixture`): the module runs ``value``
    and scales its output by ``weight`` (None: 1, nothing to learn); with ``grad`` off it computes
    that output without autograd (ProxylessNAS's idle path: its gate still gets a gradient).
    With ``kernels`` a module holding one superkernel may instead run once with the weighted
    sum of its values' masked weights (Single-Path NAS's relaxation; the same output when one
    weight is 1 and the others 0)."""

    value: Any
    weight: torch.Tensor | None = None
    grad: bool = True
    kernels: bool = False


class Mutator:
    """Base of every mode; subclasses implement the protocol above and the three hooks.

    ``single_path`` is True for mutators whose forward runs exactly the architecture of
    ``export()`` and that take ``set_sample`` (so a trainer can score any architecture)."""

    single_path = False

    def __init__(self, model: nn.Module):
        self.model = model
        self.space = ModelSpace(model)
        self.decisions: dict[str, Decision] = self.space.decisions
        found = getattr(model, "constraints", None)  # see the module docstring (a user's own attribute is not it)
        self.constraints = found if callable(getattr(found, "violation", None)) else None
        for entry in self.space.entries:
            entry.module._attach(self, entry.label)

    # --- the protocol ---------------------------------------------------------------------
    def resample(self) -> dict:
        raise NotImplementedError

    def export(self) -> dict:
        raise NotImplementedError

    def export_probs(self) -> dict[str, list[float]]:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def arch_parameters(self) -> list[nn.Parameter]:
        return []

    def set_sample(self, sample) -> dict:
        raise NasError(f"{type(self).__name__} runs a mixture of architectures, not one: it cannot be set to a sample")

    # --- hooks called by the mutables ----------------------------------------------------------
    def layer_choice_forward(self, choice: LayerChoice, args: tuple, kwargs: dict):
        raise NotImplementedError

    def input_choice_forward(self, choice: InputChoice, tensors: list):
        raise NotImplementedError

    def value_choice_value(self, choice: ValueChoice):
        raise NotImplementedError

    def value_choice_mixture(self, choice: ValueChoice) -> list:
        """The values (with weights) a relaxable value choice runs now; one value by default."""
        return [Weighted(self.value_choice_value(choice))]

    def input_choice_needed(self, choice: InputChoice):
        """Which candidates of ``choice`` its next call reads (a tuple of bools), or None for all
        (the default). A query, not a forward hook: callers may skip computing the others."""
        return None


def run_chosen(choice: LayerChoice, name: str, args: tuple, kwargs: dict):
    """Run only candidate ``name``: ``([output], one-hot bool mask)``."""
    mask = torch.tensor([n == name for n in choice.names])
    return [choice[name](*args, **kwargs)], mask


def pick_inputs(choice: InputChoice, names, tensors: list):
    """The tensors of the candidates ``names`` (candidate order) and their multi-hot bool mask."""
    chosen = set(names)
    mask = [n in chosen for n in choice.choose_from]
    return [t for t, on in zip(tensors, mask) if on], torch.tensor(mask)


def inclusion_probs(d: Decision) -> list[float]:
    """Probability of each option under the uniform distribution over ``d.domain()``."""
    n = len(d.options)
    if d.kind != "input":
        return [1.0 / n] * n
    p = 0.5 if d.n_chosen is None else d.n_chosen / n
    return [p] * n


def one_hot_probs(d: Decision, value) -> list[float]:
    """Probabilities of a choice that is fixed to ``value`` (a canonical value of ``d``)."""
    if d.kind == "input":
        return [1.0 if o in value else 0.0 for o in d.options]
    return [1.0 if o == value and type(o) is type(value) else 0.0 for o in d.options]
