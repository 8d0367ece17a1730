"""The modules of a supernet whose structure depends on a value or depth choice.

* :class:`SharedOp`: an op whose sizes depend on choices, holding ONE set of weights — its
  largest assignment's (:mod:`nascompile.passes.sharing`); an assignment runs the module it
  would be as a fixed op, every weight a slice of the largest one's (:mod:`.slicing`).
* :class:`ValueOp`: an op that cannot share (a user module, a change of structure): one module
  (variant) per assignment.
* :class:`Repeat`: a chain of blocks whose depth is a choice.

Two ways to run, chosen by the mutator's answer for the values (``ValueChoice.mixture``):

**one value** with no weight (single-path modes: ENAS, SPOS, random) — the assignment runs at
its own size; tensors have the sampled architecture's shapes, so a step costs what the fixed
network costs.

**weighted values** (DARTS, GDAS, ProxylessNAS) — every tensor keeps the largest shape, and an
op's output is ``sum_j w_j * pad(op_j(x restricted to assignment j))`` over the joint values
``j`` of its choices (``w_j`` the product of their weights; ProxylessNAS's idle value without
autograd). Two cases compute it in one call: a convolution or linear layer runs once with the
weighted sum of its masked (sliced, zero-padded) kernels; a channel-wise op (normalisation,
activation, pooling) runs once at full width and its output channels are scaled by the
weighted mask. Depth: ``sum_d w_d * (output after d blocks)``.

**the superkernel** (Single-Path NAS: values with ``Weighted.kernels``) — a shared op runs its
largest module once with each weight ``W * sum_j w_j M_j`` (:mod:`.superkernel`).

BatchNorm statistics are shared per channel between the values that contain the channel (as in
Once-for-All); single-path trainers re-estimate them before scoring (SPOS's ``bn_batches``).
"""
from __future__ import annotations

import itertools
from typing import Mapping

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..ir.graph import Decision, Node
from ..nn.arch_weights import scale
from ..nn.mutables import DepthChoice, ValueChoice
from ..nn.mutator import Weighted
from ..ops.registry import Args
from ..passes.sharing import MAX_ASSIGNMENTS, OpChoices, typed
from .slicing import Template, first, pad_to, single_linear
from .superkernel import KernelMixture, regions

__all__ = ["Repeat", "ValueOp", "SharedOp", "SupernetValue", "SupernetDepth", "MAX_VARIANTS", "build_op",
           "node_loc", "choice_op", "ChoiceOp"]

MAX_VARIANTS = MAX_ASSIGNMENTS


def node_loc(node: Node, path: str) -> Loc:
    loc = node.loc
    return Loc(loc.file, loc.line, loc.col, loc.path or path)


def build_op(op, x, args: Args, node: Node, path: str) -> nn.Module:
    try:
        return op.build(x, args)
    except NasError as err:
        raise err.at(node_loc(node, path)) from None
    except Exception as err:
        raise NasError(f"op '{node.target}' cannot be built for input {x} and arguments "
                       f"{dict(args)}: {type(err).__name__}: {err}", node_loc(node, path)) from None


class SupernetValue(ValueChoice):
    """A supernet's value choice: the module reading it runs mixtures, so every mode learns it,
    unless ``unrelaxable`` says why this module cannot (the weighted modes then refuse the space)."""

    relaxable = True

    def __init__(self, candidates, key=None, unrelaxable: str | None = None, kind: str = "value"):
        super().__init__(candidates, key)
        self.kind = kind  # "layer" for the candidates of a choice(..., share=true)
        if unrelaxable is not None:
            self.relaxable = False
            self.unrelaxable = unrelaxable

    def decision(self, label: str) -> Decision:
        return Decision(label, self.kind, tuple(self.candidates))


class SupernetDepth(DepthChoice):
    """A supernet's depth choice (a :class:`Repeat` runs mixtures of depths)."""

    relaxable = True


def _mixture(choice) -> list:
    """What ``choice`` runs now; a fixed value (``apply_fixed_architecture``) is one value."""
    return choice.mixture() if isinstance(choice, ValueChoice) else [Weighted(choice.value)]


def _product(weights):
    out = None
    for w in weights:
        if w is not None:
            out = w if out is None else out * w
    return out


def choice_op(op, choices: OpChoices, node: Node, decisions: Mapping, path: str) -> nn.Module:
    """The supernet module of an op node that depends on choices."""
    cls = SharedOp if choices.shared else ValueOp
    return cls(op, choices, node, decisions, path)


class ChoiceOp(nn.Module):
    """What :class:`SharedOp` and :class:`ValueOp` share: the keyed choices they read, and the
    dispatch between one value and a weighted mixture. Subclasses run one assignment
    (:meth:`run`) and may compute a mixture faster (:meth:`fast_mixture`)."""

    def __init__(self, op, choices: OpChoices, node: Node, decisions: Mapping, path: str):
        super().__init__()
        self.op_name = node.target
        self.choices = choices
        self.multi = op.arity != (1, 1)
        # the arguments' choices, then the value/depth choices that only shape the input: a
        # weighted mode tells the op their weights (input choices reach it through the shapes)
        shape_values = [label for label in choices.shape_labels if decisions[label].kind in ("value", "depth")]
        inputs = [label for label in choices.shape_labels if label not in shape_values]
        why = (f"op '{node.target}' at {path} takes a tensor whose width depends both on it and on the input "
               f"choice '{inputs[0]}' (a concatenation), and weights cannot mix such widths" if inputs else None)
        self._values = tuple(f"value{i}" for i in range(len(choices.arg_labels)))
        self._shape_values = tuple(f"shape{i}" for i in range(len(shape_values)))
        self._shape_value_labels = tuple(shape_values)
        for attr, label in zip(self._values + self._shape_values, choices.arg_labels + tuple(shape_values)):
            d = decisions[label]
            self.add_module(attr, SupernetValue(list(d.options), key=label, unrelaxable=why, kind=d.kind))

    # --- running --------------------------------------------------------------------------
    def run(self, key, xs):
        raise NotImplementedError

    def fast_mixture(self, xs, entries):
        """The weighted mixture of ``entries`` in one call, or None (then: one run per entry)."""
        return None

    def kernel_mixture(self, xs, entries):
        """The mixture as one run of a superkernel with the weighted masks (asked for by
        ``Weighted.kernels``), or None when this op cannot (then as any other mixture)."""
        return None

    def forward(self, *xs):
        arg_mixes = [_mixture(self._modules[a]) for a in self._values]
        shape_mixes = [_mixture(self._modules[a]) for a in self._shape_values]
        if all(len(m) == 1 and m[0].weight is None for m in arg_mixes + shape_mixes):
            values = tuple(typed(m[0].value) for m in arg_mixes)
            shapes = self._shape_key(xs) if self.choices.shape_labels else None
            key = (shapes, values)
            if key not in self.choices.assignments:
                raise self._no_assignment(shapes, values)
            return self.run(key, xs)
        entries = self._entries(arg_mixes + shape_mixes)
        if any(opt.kernels for m in arg_mixes + shape_mixes for opt in m):
            y = self.kernel_mixture(xs, entries)
            if y is not None:
                return self._padded(y)
        fast = self.fast_mixture(xs, entries)
        if fast is not None:
            return self._padded(fast)
        return self._padded(self.value_by_value(xs, entries))

    def value_by_value(self, xs, entries):
        """``sum_j w_j * pad(op_j(x restricted to assignment j))``, one run per entry."""
        total = None
        for key, w, grad in entries:
            a = self.choices.assignments[key]
            shapes = a.shapes if self.multi else [a.shapes]
            inputs = [first(x, s) for x, s in zip(xs, shapes)]
            with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
                y = self.run(key, inputs)
            y = y if w is None else scale(w, y)
            total = y if total is None else _add_padded(total, y)
        return total

    def _padded(self, y: torch.Tensor) -> torch.Tensor:
        """A weighted mode's output at the op's largest shape (every tensor keeps it)."""
        out = self.choices.out
        return pad_to(y, (y.shape[0],) + out) if out and tuple(y.shape[1:]) != out else y

    def _entries(self, mixes) -> list:
        """``[(assignment key, weight, grad)]`` for the joint values of the op's choices."""
        labels = self.choices.arg_labels + self._shape_value_labels
        out: dict = {}
        for combo in itertools.product(*mixes):
            sample = tuple(sorted(((label, opt.value) for label, opt in zip(labels, combo)), key=lambda kv: kv[0]))
            key = self.choices.by_sample.get(sample)
            if key is None:
                continue  # values that give no tensor (an empty concatenation)
            w = _product(opt.weight for opt in combo)
            grad = all(opt.grad for opt in combo)
            if key in out:  # two samples giving one assignment: their weights add up
                _, w0, g0 = out[key]
                w = (1.0 if w0 is None else w0) + (1.0 if w is None else w)
                grad = g0 or grad
            out[key] = (key, w, grad)
        return list(out.values())

    def _shape_key(self, xs):
        shapes = tuple(tuple(x.shape[1:]) for x in xs)
        return shapes if self.multi else (shapes[0],)

    def _no_assignment(self, shapes, values) -> NasError:
        return NasError(f"op '{self.op_name}': no variant for input shapes {shapes} and values "
                        f"{[v for _, v in values]}", Loc("<model>"),
                        hint="a weighted mode may combine inputs the space never chooses together")

    def variant(self, sample: Mapping) -> nn.Module:
        """The module the fixed network of ``sample`` (a canonical sample giving the op's
        labels) has at this op: for a shared op a new module holding copies of the slices."""
        key = self.choices.by_sample.get(tuple(sorted(((label, sample.get(label)) for label in self.choices.labels),
                                                      key=lambda kv: kv[0])))
        if key is None:
            raise NasError(f"op '{self.op_name}': no variant for this architecture", Loc("<arch>"))
        return self.module_of(key)

    def module_of(self, key) -> nn.Module:
        raise NotImplementedError


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    shape = tuple(max(p, q) for p, q in zip(a.shape, b.shape))
    return pad_to(a, shape) + pad_to(b, shape)


class ValueOp(ChoiceOp):
    """One variant (``v0``, ``v1``, ...) per assignment: an op that cannot share weights."""

    def __init__(self, op, choices: OpChoices, node: Node, decisions: Mapping, path: str):
        super().__init__(op, choices, node, decisions, path)
        self._index: dict = {}
        for k, (key, a) in enumerate(choices.assignments.items()):
            self.add_module(f"v{k}", build_op(op, a.shapes, a.args, node, path))
            self._index[key] = f"v{k}"

    def run(self, key, xs):
        return self._modules[self._index[key]](*xs)

    def module_of(self, key) -> nn.Module:
        return self._modules[self._index[key]]


class SharedOp(ChoiceOp):
    """One superkernel: ``full`` is the module of the largest assignment; every assignment runs
    its own module structure (a template on the meta device) over slices of ``full``'s weights."""

    def __init__(self, op, choices: OpChoices, node: Node, decisions: Mapping, path: str):
        super().__init__(op, choices, node, decisions, path)
        self.op = op
        largest = choices.largest
        self.full = build_op(op, largest.shapes, largest.args, node, path)
        self._templates: dict = {}
        for key, a in choices.assignments.items():
            with torch.device("meta"):
                module = build_op(op, a.shapes, a.args, node, path)
            try:
                self._templates[key] = Template(module, self.full)
            except ValueError as err:  # the op promised slices (Op.shareable) and broke it: a bug
                raise NasError(f"op '{node.target}' cannot share one set of weights: {err}",
                               node_loc(node, path)) from None
        self._linear = single_linear(list(self._templates.values()), self.full)
        self._channelwise = op.channelwise and not self.multi
        self._kernels = KernelMixture({key: t.shapes for key, t in self._templates.items()})

    def run(self, key, xs):
        return self._templates[key](self.full, xs, self.training)

    def regions(self, key) -> dict:
        """``{name: index}`` of the slices of ``full``'s parameters and buffers that assignment
        ``key`` uses (:func:`~.superkernel.regions`)."""
        return regions(self._templates[key].shapes, self.full)

    def kernel_mixture(self, xs, entries):
        """One run of the superkernel with ``W * sum_j w_j M_j`` (:mod:`.superkernel`). Checked
        once, on the first batch, value by value: an op that does not keep zero-padded channels
        at zero (e.g. a sigmoid of a padded channel) answers None from then on."""
        if self._linear is not None:
            return self.fast_mixture(xs, entries)
        if self._kernels.exact is None:
            self._kernels.exact = self._kernels_exact(xs, [key for key, _, _ in entries])
        if not self._kernels.exact:
            return None
        return self._kernels(self.full, xs, entries, self.training)

    def _kernels_exact(self, xs, keys) -> bool:
        """Whether each assignment's zero-padded input gives its zero-padded output in one run of
        the superkernel masked to it (the first two samples of ``xs``, in eval mode)."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                for key in keys:
                    a = self.choices.assignments[key]
                    shapes = a.shapes if self.multi else [a.shapes]
                    probe = [pad_to(first(x[:2].detach(), s), tuple(x[:2].shape)) for x, s in zip(xs, shapes)]
                    one = [(key, None, True)]
                    want = self._padded(self.value_by_value(probe, one))
                    got = self._padded(self._kernels(self.full, probe, one, False))
                    if want.shape != got.shape or not torch.allclose(want, got, rtol=1e-4, atol=1e-5):
                        return False
        finally:
            self.train(was)
        return True

    def fast_mixture(self, xs, entries):
        if self._linear is not None:
            weights = [(self._templates[key], w, grad) for key, w, grad in entries]
            return self._linear(self.full, xs[0], weights)
        if self._channelwise and all(self.choices.assignments[k].args == self.choices.largest.args
                                     for k, _, _ in entries):
            y = self.full(xs[0])
            c = torch.arange(y.shape[1], device=y.device)
            mask = sum((c < self.choices.assignments[key].shapes[0]).to(y.dtype) * (1.0 if w is None else w)
                       for key, w, _ in entries)
            return y * mask.view((1, -1) + (1,) * (y.dim() - 2))
        return None

    def module_of(self, key) -> nn.Module:
        a = self.choices.assignments[key]
        module = self.op.build(a.shapes, a.args)
        module.load_state_dict(self._templates[key].state(self.full))
        return module.to(next(self.full.parameters(), torch.empty(0)).device)


class Repeat(nn.Module):
    """A chain of blocks (``block0`` ...); ``depth`` (a :class:`SupernetDepth`, or a fixed int)
    says how many of them run; a weighted mode mixes the outputs at each depth it weighs."""

    def __init__(self, blocks, depth_choice: DepthChoice | None = None, depth: int | None = None):
        super().__init__()
        for k, block in enumerate(blocks):
            self.add_module(f"block{k}", block)
        self._blocks = tuple(f"block{k}" for k in range(len(blocks)))
        self._label = depth_choice is not None
        if depth_choice is not None:
            self.depth = depth_choice
        self._depth = len(blocks) if depth is None else int(depth)

    def forward(self, x):
        mix = _mixture(self._modules["depth"]) if self._label else [Weighted(self._depth)]
        if len(mix) == 1 and mix[0].weight is None:
            for attr in self._blocks[:mix[0].value]:
                x = self._modules[attr](x)
            return x
        weights = {}
        for opt in mix:
            weights[opt.value] = opt.weight if opt.value not in weights else weights[opt.value] + opt.weight
        total = scale(weights[0], x) if 0 in weights else None
        for d, attr in enumerate(self._blocks[:max(weights)], start=1):
            x = self._modules[attr](x)
            if d in weights:
                y = scale(weights[d], x)
                if total is not None and total.shape != y.shape:
                    raise NasError(f"a depth choice mixes outputs of shapes {tuple(total.shape[1:])} and "
                                   f"{tuple(y.shape[1:])}", Loc("<model>"),
                                   hint="a weighted mode needs every depth of a chain to give one shape; "
                                        "search it with a single-path algorithm")
                total = y if total is None else total + y
        return total
