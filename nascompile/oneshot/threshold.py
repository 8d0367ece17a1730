"""Single-Path NAS's decisions: trainable thresholds on the norms of a superkernel's outer parts.

A choice whose values are **nested slices of one superkernel** (:mod:`nascompile.backends.superkernel`)
is decided by its weights: value ``v_i`` adds the region ``S(v_i) \\ S(v_{i-1})`` to the
smaller one (the ring of a 5x5 kernel around its centred 3x3, the hidden channels an
expansion of 6 adds to one of 3, the block a depth of 3 adds to a depth of 2), and a trainable
threshold ``t_i`` per step gives the indicator

    g_i = 1( rms(W[S(v_i) \\ S(v_{i-1})]) - t_i >= 0 )     (hard forward, sigmoid gradient)

so that value ``v_i`` runs when ``g_1 ... g_i`` hold and ``g_{i+1}`` does not: its weight
``(g_1 ... g_i)(1 - g_{i+1})`` is 1 for one value and 0 for the others, and the op runs once
with ``W * sum_i w_i M_i``, i.e. ``W[S(v_0)] + g_1 W[S(v_1)\\S(v_0)] + g_1 g_2 ...`` — the
paper's ``w_3x3 + 1(.) w_5x5\\3x3``. ``rms`` is the L2 norm of the convolution and linear
kernels (parameters of rank >= 2) in the region, over every op that reads the choice (a width
multiplier: every op it scales), divided by the square root of their number; the choice's
other values, and every other choice, at their largest. The paper thresholds the plain L2
norm; a region of thousands of weights has a norm of tens, where the sigmoid is flat to
float precision and the threshold gets no gradient, so here the norm is taken per weight (the
same decision for a threshold scaled by ``sqrt(n)``). Thresholds start at 0 (as in the paper):
a search starts at the largest value of every nested choice.

Which choices are nested (:func:`nested_choices`): a value choice of numbers, or a
``choice(..., share=true)`` layer choice (the candidates of one op, differing in numbers),
read only by shared ops whose regions grow with the value along every dimension; a depth
choice read only by chains (:class:`~nascompile.backends.value_op.Repeat`: depth ``d + 1`` adds
block ``d``, Single-Path NAS's skippable block). A shared layer choice is decided along each
argument that differs (``kernel``, then ``expand``: the paper's order; an axis's norms are
taken with the earlier axes at their selected values); its candidates must be every
combination of those values.

Every other choice (a layer choice between different ops, a value choice of a module that
holds one variant per value) has no nested weights: it is decided by learnt logits, the same
way — the argmax's one-hot forward, the softmax's gradient backward — with every candidate
computed (the selected one with autograd, the others without, as ProxylessNAS's idle path),
so that the gradient compares the candidates as the indicators' compares a kernel with its
ring. Input choices are as in DARTS (every input summed; the strongest edges exported).
``gate_dropout`` drops each indicator to 0 with that probability in training (the paper's
code: 0.4 during its warm-up, so that the smaller kernels train too).

Example::

    mutator = ThresholdMutator(build_supernet(space), seed=0)
    loss(model(x), y).backward()          # thresholds and weights get the relaxed gradient
    mutator.export()                      # {"stage1/block0/op0": "k5_e3", "width": 1.0, ...}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..backends.value_op import Repeat, SharedOp
from ..nn.mutables import DepthChoice, ValueChoice
from ..nn.mutator import Weighted
from ..nn.arch_weights import scale
from ..nn.weighted import WeightedMutator

__all__ = ["ThresholdMutator", "indicator", "nested_choices", "Nested"]


def indicator(x: torch.Tensor) -> torch.Tensor:
    """``1(x >= 0)`` forward, the gradient of ``sigmoid(x)`` backward.

    >>> x = torch.tensor([-1.0, 2.0], requires_grad=True)
    >>> y = indicator(x); y.sum().backward(); y.tolist(), [round(g, 3) for g in x.grad.tolist()]
    ([0.0, 1.0], [0.197, 0.105])
    """
    s = torch.sigmoid(x)
    return (x >= 0).to(s.dtype) - s.detach() + s


@dataclass
class Nested:
    """A nested choice: ``axes`` (name, values from the smallest region up) whose combinations
    are the options (``option_of[values] -> option``), and per option the kernel regions it
    uses: ``parts[option] = [(module, parameter name, index), ...]``."""

    label: str
    axes: list
    option_of: dict
    parts: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)  # option -> number of kernel weights in its regions

    def __post_init__(self):
        self.sizes = {option: _size(parts) for option, parts in self.parts.items()}

    @property
    def steps(self) -> int:
        return sum(len(values) - 1 for _, values in self.axes)


def _length(index, dim: int) -> int:
    s = index
    return dim if s == slice(None) else s.stop - s.start


def _kernels(module: nn.Module):
    return [(name, p) for name, p in module.named_parameters() if p.dim() >= 2]


def _op_regions(op: SharedOp, label: str, options) -> dict | None:
    """Per option of ``label``: ``(module, name, index)`` of ``op``'s kernels, the op's other
    labels at their largest (the assignment with the largest region); None if an option gives
    the op no assignment."""
    kernels = _kernels(op.full)
    by_option: dict = {}
    for sample, key in op.choices.by_sample.items():
        value = dict(sample).get(label)
        regions = op.regions(key)
        size = sum(math.prod(_length(i, d) for i, d in zip(regions[n], p.shape)) for n, p in kernels)
        if value not in by_option or size > by_option[value][0]:
            by_option[value] = (size, key, regions)
    if any(o not in by_option for o in options):
        return None
    return {o: [(op.full, n, by_option[o][2][n]) for n, _ in kernels] for o in options}


def _contains(small, big) -> bool:
    """Every region of ``small`` inside the matching one of ``big`` (same tensors, in order)."""
    for (m, n, a), (_, _, b) in zip(small, big):
        shape = m.get_parameter(n).shape
        if any(_length(i, d) > _length(j, d) for i, j, d in zip(a, b, shape)):
            return False
    return True


def _size(parts) -> int:
    total = 0
    for m, n, index in parts:
        shape = m.get_parameter(n).shape
        total += math.prod(_length(i, d) for i, d in zip(index, shape))
    return total


def nested_choices(model: nn.Module, space, decisions, relaxable) -> dict:
    """``{label: Nested}`` for the choices of ``model`` decided by thresholds (module docstring).
    ``relaxable``: the labels whose modules all run mixtures."""
    readers: dict = {}
    for entry in space.entries:
        if isinstance(entry.module, ValueChoice):
            parent = model.get_submodule(entry.path.rsplit(".", 1)[0]) if "." in entry.path else model
            readers.setdefault(entry.label, []).append((parent, entry.module))
    found = {}
    for label, users in readers.items():
        d = decisions[label]
        if label not in relaxable:
            continue
        nested = _depth(label, d, users) if d.kind == "depth" else _values(label, d, users)
        if nested is not None:
            found[label] = nested
    return found


def _depth(label, d, users) -> Nested | None:
    if not all(isinstance(m, Repeat) and isinstance(c, DepthChoice) for m, c in users):
        return None
    values = tuple(sorted(d.options))
    parts = {}
    for depth in values:
        parts[depth] = [(m.get_submodule(f"block{k}"), n, (slice(None),) * p.dim())
                        for m, _ in users for k in range(depth) for n, p in _kernels(m.get_submodule(f"block{k}"))]
    if any(_size(parts[a]) >= _size(parts[b]) for a, b in zip(values, values[1:])):
        return None
    return Nested(label, [(label, values)], {(v,): v for v in values}, parts)


def _values(label, d, users) -> Nested | None:
    if not all(isinstance(m, SharedOp) for m, _ in users):
        return None
    ops = list({id(m): m for m, _ in users}.values())
    if d.kind == "layer":
        axes, option_of = _shared_axes(label, d, ops[0])
        if axes is None:
            return None
    else:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d.options):
            return None
        axes, option_of = [(label, tuple(sorted(d.options)))], {(v,): v for v in d.options}
    parts = {o: [] for o in d.options}
    for op in ops:
        regions = _op_regions(op, label, d.options)
        if regions is None:
            return None
        for o in d.options:
            parts[o] += regions[o]
    nested = Nested(label, axes, option_of, parts)
    for k, (_, values) in enumerate(axes):  # each step must add weights and keep the smaller inside
        for combo, option in option_of.items():
            if combo[k] == values[-1]:
                continue
            bigger = option_of[combo[:k] + (values[values.index(combo[k]) + 1],) + combo[k + 1:]]
            if not _contains(parts[option], parts[bigger]) or _size(parts[option]) >= _size(parts[bigger]):
                return None
    return nested


def _shared_axes(label, d, op: SharedOp):
    """The arguments a shared layer choice's candidates differ in, and each candidate's values."""
    args = {}
    for sample, key in op.choices.by_sample.items():
        name = dict(sample).get(label)
        args.setdefault(name, op.choices.assignments[key].args)
    if set(args) != set(d.options):
        return None, None
    order = [p.name for p in op.op.params]  # the op's own order: kernel before expand
    first = args[d.options[0]]
    names = sorted((n for n in first if len({repr(args[o][n]) for o in d.options}) > 1),
                   key=lambda n: order.index(n) if n in order else len(order))
    if not names or not all(isinstance(args[o][n], (int, float)) for o in d.options for n in names):
        return None, None
    axes = [(n, tuple(sorted({args[o][n] for o in d.options}))) for n in names]
    option_of = {tuple(args[o][n] for n in names): o for o in d.options}
    if len(option_of) != len(d.options) or len(option_of) != math.prod(len(v) for _, v in axes):
        return None, None  # not every combination is a candidate
    return axes, option_of


class ThresholdMutator(WeightedMutator):
    """Thresholded superkernels for the nested choices, straight-through argmax logits for the
    others (module docstring). ``thresholds[label]`` holds one parameter per step of each axis;
    ``arch_parameters()`` are the thresholds and the other choices' logits. While
    ``recording`` is on, ``drawn[label]`` collects the weight of each option per call (a
    differentiable cost can be taken from the very forward that ran)."""

    def __init__(self, model: nn.Module, seed: int = 0, gate_dropout: float = 0.0):
        super().__init__(model, gumbel=False, hard=True, seed=seed)
        self.nested = nested_choices(model, self.space, self.decisions, set(self.alpha))
        device = next(model.parameters(), torch.empty(0)).device
        for label in self.nested:
            del self.alpha[label], self._extras[label]
        self.thresholds = {label: nn.Parameter(torch.zeros(n.steps, device=device)) for label, n in self.nested.items()}
        self.gate_dropout = float(gate_dropout)
        self.recording = False
        self.drawn: dict[str, list] = {}

    # --- the protocol -----------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alpha.values()) + list(self.thresholds.values())

    def state_dict(self) -> dict:
        return {**super().state_dict(),
                "thresholds": {k: v.detach().cpu().clone() for k, v in self.thresholds.items()}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for k, v in state.get("thresholds", {}).items():
                self.thresholds[k].copy_(v)

    def export(self) -> dict:
        sample = super().export()
        with torch.no_grad():
            for label in self.nested:
                sample[label] = self.selected(label)
        return sample

    def export_probs(self) -> dict[str, list[float]]:
        """For a nested choice: each value's weight with the sigmoid in place of the indicator."""
        probs = super().export_probs()
        with torch.no_grad():
            for label in self.nested:
                weights = self.option_weights(label, soft=True)
                probs[label] = [float(weights[o]) for o in self.decisions[label].options]
        return probs

    def value_choice_mixture(self, choice):
        """A nested choice's weighted values, one draw per forward of the model (every op that
        reads the label sees the same); the others as the parent mode's."""
        label = choice.label
        if label not in self.nested:
            return super().value_choice_mixture(choice)
        if label not in self._mixtures:
            self._mixtures[label] = self.draw_mixture(label)
        return self._mixtures[label]

    def value_choice_value(self, choice):
        if choice.label in self.nested:
            with torch.no_grad():
                return self.selected(choice.label)
        return super().value_choice_value(choice)

    # --- the thresholded decision ---------------------------------------------------------------
    def selected(self, label: str):
        """The option the hard indicators select (no dropout)."""
        weights = self.option_weights(label, train=False)
        return max(weights, key=lambda o: float(weights[o].detach()))

    def option_weights(self, label: str, soft: bool = False, train: bool = False) -> dict:
        """``{option: weight}``: hard indicators with sigmoid gradients (``soft``: the sigmoids
        themselves), the axes in order; ``train`` applies ``gate_dropout``."""
        n = self.nested[label]
        t = self.thresholds[label]
        cache: dict = {}

        def norm2(option):
            if option not in cache:
                cache[option] = sum((m.get_parameter(name)[index] ** 2).sum() for m, name, index in n.parts[option])
            return cache[option]

        chosen = [values[-1] for _, values in n.axes]
        per_axis = []
        offset = 0
        for k, (_, values) in enumerate(n.axes):
            gates = []
            for i in range(1, len(values)):
                small = n.option_of[tuple(chosen[:k]) + (values[i - 1],) + tuple(chosen[k + 1:])]
                big = n.option_of[tuple(chosen[:k]) + (values[i],) + tuple(chosen[k + 1:])]
                added = n.sizes[big] - n.sizes[small]
                x = torch.sqrt((norm2(big) - norm2(small)).clamp_min(1e-12) / added) - t[offset + i - 1]
                g = torch.sigmoid(x) if soft else indicator(x)
                if train and self.gate_dropout > 0:
                    keep = torch.rand((), generator=self._gen) >= self.gate_dropout
                    g = g * keep.to(g.dtype)
                gates.append(g)
            offset += len(values) - 1
            weights, run = {}, None
            for i, v in enumerate(values):
                run = torch.ones((), device=t.device) if i == 0 else run * gates[i - 1]
                weights[v] = run * (1 - gates[i]) if i < len(gates) else run
            per_axis.append(weights)
            chosen[k] = max(weights, key=lambda v: float(weights[v].detach()))
        out = {}
        for combo, option in n.option_of.items():
            w = None
            for k, v in enumerate(combo):
                w = per_axis[k][v] if w is None else w * per_axis[k][v]
            out[option] = w
        return out

    def draw_mixture(self, label: str) -> list:
        if label not in self.nested:
            w = self.weights(label)
            k = int(w.detach().argmax())
            mix = [Weighted(v, w[i], i == k) for i, v in enumerate(self.decisions[label].options)]
            if self.recording:
                options = self.decisions[label].options
                row = torch.zeros(len(options), device=mix[0].weight.device)
                for m in mix:
                    row = row + m.weight * torch.tensor([o == m.value for o in options], dtype=row.dtype,
                                                        device=row.device)
                self.drawn.setdefault(label, []).append(row)
            return mix
        weights = self.option_weights(label, train=self.model.training)
        options = self.decisions[label].options
        if self.recording:
            self.drawn.setdefault(label, []).append(torch.stack([weights[o] for o in options]))
        return [Weighted(o, weights[o], True, True) for o in options]

    def layer_choice_forward(self, choice, args, kwargs):
        """Every candidate, scaled by the straight-through one-hot of the logits' argmax (the
        selected one with autograd, the others without)."""
        weights = self.weights(choice.label)
        k = int(weights.detach().argmax())
        outputs = []
        for i, c in enumerate(choice.candidates):
            with torch.set_grad_enabled(i == k and torch.is_grad_enabled()):
                y = c(*args, **kwargs)
            outputs.append(scale(weights[i], y))
        weights = weights[:len(choice)]
        if self.recording:
            self.drawn.setdefault(choice.label, []).append(weights)
        return outputs, weights

    def drawn_weights(self) -> dict[str, torch.Tensor]:
        """Per label, the mean of the weights its calls drew while recording."""
        return {label: torch.stack(ws).mean(0) for label, ws in self.drawn.items()}
