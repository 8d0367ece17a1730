"""The modules of a supernet whose structure depends on a choice: :class:`Repeat` (a depth
choice) and :class:`ValueOp` (an op whose arguments or input shapes depend on value choices),
and the keyed value and depth choices they read."""
from __future__ import annotations

import itertools
from typing import Mapping

import torch.nn as nn

from ..errors import Loc, NasError
from ..ir.graph import Node
from ..ir.values import evaluate
from ..nn.arch_weights import ArchWeightMutator
from ..nn.mutables import DepthChoice, ValueChoice
from ..ops.registry import Args

__all__ = ["Repeat", "ValueOp", "SupernetValue", "SupernetDepth", "MAX_VARIANTS", "build_op", "node_loc"]

MAX_VARIANTS = 256  # variants one op may need for the combinations of its values


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


class _NoRelaxation:
    """Refuses the weighted mutators: they learn layer choices only and would silently keep
    the first value of this choice."""

    def _attach(self, mutator, label: str) -> None:
        if isinstance(mutator, ArchWeightMutator):
            what = "depth" if isinstance(self, DepthChoice) else "value"
            raise NasError(f"{type(mutator).__name__} cannot relax the {what} choice '{label}' of a "
                           f"supernet: the weighted modes (DARTS, GDAS, ProxylessNAS) learn layer "
                           f"choices only", Loc(path=label),
                           hint="search this space with SinglePathMutator, or write the values as a "
                                "layer choice between fixed candidates")
        super()._attach(mutator, label)


class SupernetValue(_NoRelaxation, ValueChoice):
    """A supernet's value choice (refused by the weighted modes)."""


class SupernetDepth(_NoRelaxation, DepthChoice):
    """A supernet's depth choice (refused by the weighted modes)."""


class Repeat(nn.Module):
    """A chain of blocks (``block0`` ...); ``depth`` (a :class:`DepthChoice`, or a fixed int)
    says how many of them run."""

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
        depth = self._modules["depth"].value if self._label else self._depth
        for attr in self._blocks[:depth]:
            x = self._modules[attr](x)
        return x


class ValueOp(nn.Module):
    """An op whose arguments or input shapes depend on choices: one variant (``v0``, ``v1``...)
    per distinct (input shapes, arguments) over the combinations of its labels.

    The labels of its arguments are read from keyed value choices (``value0``...); those of its
    input shapes (a value chosen upstream, or which inputs a concatenation took) from the shapes
    of the tensors it receives. ``variant(sample)`` is the module a sample runs.
    """

    def __init__(self, op_name: str, arg_choices, shape_dependent: bool, variants: dict, keys: dict):
        super().__init__()
        self.op_name = op_name
        self._values = tuple(f"value{i}" for i in range(len(arg_choices)))
        for attr, choice in zip(self._values, arg_choices):
            self.add_module(attr, choice)
        self._shape_dependent = shape_dependent
        self._index: dict = {}
        for k, (key, module) in enumerate(variants.items()):
            self.add_module(f"v{k}", module)
            self._index[key] = f"v{k}"
        self._keys = keys  # {sample of its labels (sorted items): key}, for variant()

    @classmethod
    def create(cls, op, x, node: Node, arg_labels, shape_labels, decisions, path) -> "ValueOp":
        for label in arg_labels:
            if decisions[label].kind not in ("value", "depth"):
                raise NasError(f"op '{node.target}': an argument depends on the {decisions[label].kind} "
                               f"choice '{label}', which a supernet cannot turn into variants",
                               node_loc(node, path))
        labels = list(arg_labels) + list(shape_labels)
        domains = [decisions[label].domain() for label in labels]
        n = 1
        for d in domains:
            n *= len(d)
        if n > 64 * MAX_VARIANTS:
            raise NasError(f"op '{node.target}' depends on {len(labels)} choices ({', '.join(labels)}): "
                           f"{n} combinations are too many variants for a supernet", node_loc(node, path),
                           hint="make the op's arguments a layer choice between fixed candidates")
        args = Args(node.args)
        variants: dict = {}
        keys: dict = {}
        for combo in itertools.product(*domains):
            sample = dict(zip(labels, combo))
            shapes = evaluate(x, sample)
            dims = [d for s in (shapes if op.arity != (1, 1) else [shapes]) for d in s]
            if any(not isinstance(d, int) or d <= 0 for d in dims):
                continue  # no tensor has this shape (an empty concatenation): never run
            values = tuple(_typed(sample[label]) for label in arg_labels)
            key = (_shape_key(shapes, op.arity) if shape_labels else None, values)
            keys[tuple(sorted(sample.items(), key=lambda kv: kv[0]))] = key
            if key not in variants:
                if len(variants) == MAX_VARIANTS:
                    raise NasError(f"op '{node.target}' needs more than {MAX_VARIANTS} variants for the "
                                   f"choices {', '.join(labels)}", node_loc(node, path))
                a = Args({k: evaluate(v, sample) for k, v in args.items()})
                variants[key] = build_op(op, shapes, a, node, path)
        choices = [SupernetValue(list(decisions[label].options), key=label) for label in arg_labels]
        return cls(node.target, choices, bool(shape_labels), variants, keys)

    def variant(self, sample: Mapping) -> nn.Module:
        """The variant that runs under ``sample`` (a canonical sample giving its labels)."""
        for items, key in self._keys.items():
            if all(_same(sample.get(label, _MISSING), value) for label, value in items):
                return self._modules[self._index[key]]
        raise NasError(f"op '{self.op_name}': no variant for this architecture", Loc("<arch>"))

    def forward(self, *xs):
        values = tuple(_typed(self._modules[a].value) for a in self._values)
        shapes = tuple(tuple(x.shape[1:]) for x in xs) if self._shape_dependent else None
        attr = self._index.get((shapes, values))
        if attr is None:
            raise self._no_variant(shapes, values)
        return self._modules[attr](*xs)

    def _no_variant(self, shapes, values) -> NasError:
        return NasError(f"op '{self.op_name}': no variant for input shapes {shapes} and values "
                       f"{[v for _, v in values]}", Loc("<model>"),
                       hint="a weighted mode may combine inputs the space never chooses together")


_MISSING = object()


def _typed(v):
    return (type(v).__name__, v)


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _shape_key(shapes, arity) -> tuple:
    return (tuple(shapes),) if arity == (1, 1) else tuple(tuple(s) for s in shapes)
