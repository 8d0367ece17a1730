"""Which ops of a supernet share one set of weights across the values of their choices.

An op node whose arguments or input shapes depend on choices has one *assignment* per distinct
(input shapes, arguments) its choices can give it. It is **shared** (one superkernel) when its
op allows it (``Op.shareable``) and every assignment has the same structure (``Op.share_key``:
e.g. an inverted residual with expansion 1 has no expansion conv). A shared op holds the
weights of its *largest* assignment: every input dimension and every numeric argument at its
maximum over the assignments; an assignment uses slices of them (the first ``n`` along each
dimension, the centred ``k`` along a kernel's spatial dimensions). Otherwise the supernet
holds one module per assignment (*variants*).

This pass is torch-free: ``nascompile build`` counts the supernet's weights with it
(:func:`~nascompile.passes.stats.supernet_params`), and the torch back end builds from the
same analysis, so the two always agree.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping

from ..errors import SpaceError
from ..ir.values import evaluate, labels_of
from ..ops.registry import Args, StrictCtx

__all__ = ["Assignment", "OpChoices", "op_choices", "MAX_ASSIGNMENTS"]

MAX_ASSIGNMENTS = 256  # distinct (shapes, arguments) of one op: more would not be a supernet op
MAX_COMBINATIONS = 64 * MAX_ASSIGNMENTS  # label combinations enumerated to find them


@dataclass(frozen=True)
class Assignment:
    """One way an op runs: its input shape(s) and arguments under some values of its labels."""

    shapes: object   # a shape, or a list of shapes for a multi-input op
    args: Args
    key: tuple       # (input shapes or None, typed argument values): what tells assignments apart
    out: tuple = ()  # the output shape


@dataclass(frozen=True)
class OpChoices:
    """The choices one op node depends on, and what they make of it."""

    arg_labels: tuple      # labels its arguments read (value / depth choices)
    shape_labels: tuple    # labels only its input shapes read
    assignments: dict      # key -> Assignment, in enumeration order
    by_sample: dict        # sorted items of a sample of the labels -> key
    shared: bool           # one superkernel (else one module per assignment)
    largest: Assignment | None  # the weights a shared op holds
    out: tuple             # the largest output shape (what a weighted mixture pads every value to)

    @property
    def labels(self) -> tuple:
        return self.arg_labels + self.shape_labels


def typed(value) -> tuple:
    """A value with its type, so that 1 and 1.0 and True stay apart in keys."""
    return (type(value).__name__, value)


def shape_key(shapes, arity) -> tuple:
    return (tuple(shapes),) if arity == (1, 1) else tuple(tuple(s) for s in shapes)


def op_choices(op, node, x, decisions: Mapping) -> OpChoices | None:
    """The analysis of op node ``node`` (op ``op``, input shape(s) ``x``), or None when nothing
    about it depends on a choice. Raises SpaceError (without location) when an argument reads a
    layer or input choice, or when there are too many assignments."""
    arg_labels = tuple(sorted(labels_of(tuple(v for _, v in node.args))))
    shape_labels = tuple(sorted(labels_of(tuple(x) if op.arity == (1, 1) else tuple(map(tuple, x)))
                                - set(arg_labels)))
    if not arg_labels and not shape_labels:
        return None
    for label in arg_labels:  # a layer choice reaches arguments only through choice(..., share=true)
        if decisions[label].kind not in ("value", "depth", "layer"):
            raise SpaceError(f"op '{node.target}': an argument depends on the {decisions[label].kind} choice "
                             f"'{label}', which a supernet cannot turn into one op")
    labels = arg_labels + shape_labels
    domains = [decisions[label].domain() for label in labels]
    n = 1
    for d in domains:
        n *= len(d)
    if n > MAX_COMBINATIONS:
        raise SpaceError(f"op '{node.target}' depends on {len(labels)} choices ({', '.join(labels)}): "
                         f"{n} combinations are too many for one supernet op",
                         hint="make the op's arguments a layer choice between fixed candidates")
    args = Args(node.args)
    assignments: dict = {}
    by_sample: dict = {}
    for combo in itertools.product(*domains):
        sample = dict(zip(labels, combo))
        shapes = evaluate(x, sample)
        dims = [d for s in (shapes if op.arity != (1, 1) else [shapes]) for d in s]
        if any(not isinstance(d, int) or d <= 0 for d in dims):
            continue  # no tensor has this shape (an empty concatenation): never runs
        values = tuple(typed(sample[label]) for label in arg_labels)
        key = (shape_key(shapes, op.arity) if shape_labels else None, values)
        by_sample[tuple(sorted(sample.items(), key=lambda kv: kv[0]))] = key
        if key not in assignments:
            if len(assignments) == MAX_ASSIGNMENTS:
                raise SpaceError(f"op '{node.target}' runs in more than {MAX_ASSIGNMENTS} ways under the "
                                 f"choices {', '.join(labels)}")
            a = Args({k: evaluate(v, sample) for k, v in args.items()})
            assignments[key] = Assignment(shapes, a, key, tuple(op.shape(shapes, a, StrictCtx())))
    largest = _largest(op, list(assignments.values()))
    outs = [a.out for a in assignments.values()]
    out = tuple(max(o[i] for o in outs) for i in range(len(outs[0]))) if outs and len({len(o) for o in outs}) == 1 else ()
    return OpChoices(arg_labels, shape_labels, assignments, by_sample, largest is not None, largest, out)


def _largest(op, assignments: list) -> Assignment | None:
    """The assignment whose weights hold every other one's, or None when the op cannot share."""
    if not getattr(op, "shareable", False) or not assignments:
        return None
    if len({op.share_key(a.args) for a in assignments}) != 1:
        return None
    first = assignments[0]
    args = Args(first.args)
    for name in first.args:
        values = [a.args[name] for a in assignments]
        if len({typed(v) for v in values}) == 1:
            continue
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return None  # e.g. a string-valued argument that changes: not a size
        args[name] = max(values)
    if len({len(a.shapes) for a in assignments}) != 1:
        return None  # a rank or an input count that changes: not a slice
    if op.arity == (1, 1):
        shapes = tuple(max(a.shapes[i] for a in assignments) for i in range(len(first.shapes)))
    else:
        if len({tuple(len(s) for s in a.shapes) for a in assignments}) != 1:
            return None
        shapes = [tuple(max(a.shapes[k][i] for a in assignments) for i in range(len(s)))
                  for k, s in enumerate(first.shapes)]
    return Assignment(shapes, args, ("largest",))
