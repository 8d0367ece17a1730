"""Does a network fit a dataset? Checked before any training, from shapes alone.

:func:`check_fits` compares what a space declares (one sample's input shape, the output shape
its IR computes) with what a :class:`~.splits.Splits` holds (input shape, task, classes, target
shape) and raises one :class:`~nascompile.errors.DataError` line naming both sides:

* the input: the space's ``input`` must be the data's sample shape;
* classification: the network ends in one score per class (output ``[classes]``);
* regression: the network ends in as many values as one target has (``[1]`` for a scalar).

It knows nothing of the IR: the caller passes shapes (tuples of ints; anything else, a
symbolic dimension, is not compared). :func:`check_space_fits` reads them (and the parameters
the hints name) off a compiled space's attributes, importing nothing of the compiler.

>>> check_fits(get_dataset("digits"), (13,), (3,), "mlp-tabular", Loc("mlp.yaml"))  # doctest: +SKIP
DataError: mlp.yaml: the space 'mlp-tabular' takes input 13 but the 'digits' data is 1x8x8 ...
"""
from __future__ import annotations

import math

from ..errors import DataError, Loc
from .splits import Splits

__all__ = ["check_fits", "check_space_fits", "fitting_datasets"]


def _fmt(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "a scalar"


def _concrete(shape) -> bool:
    return isinstance(shape, tuple) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)


def fitting_datasets(input_shape: tuple, classes: int | None = None, regression: bool = False) -> list[str]:
    """The built-in datasets whose samples have ``input_shape`` (and ``classes`` classes, or
    regression targets), from :data:`~.builtin.SHAPES`, without loading any."""
    from .builtin import SHAPES

    out = []
    for name, (shape, n) in SHAPES.items():
        if shape != tuple(input_shape):
            continue
        if regression and n is not None or classes is not None and n != classes:
            continue
        out.append(name)
    return out


def _settings(params: dict | None, have: tuple, want: tuple) -> str:
    """``--set NAME=VALUE`` for each dimension of ``have`` that differs from ``want`` and that a
    parameter names (``input: [features]``); "" unless every differing dimension has one."""
    if len(have) != len(want) or not params:
        return ""
    out = []
    for a, b in zip(have, want):
        if a == b:
            continue
        names = [n for n, v in params.items() if isinstance(v, int) and not isinstance(v, bool) and v == a]
        if not names:
            return ""
        out.append(f"--set {names[0]}={b}")
    return " ".join(dict.fromkeys(out))


def check_fits(splits: Splits, input_shape: tuple, output_shape, space_name: str, where: Loc,
               params: dict | None = None, input_names: tuple = ()) -> None:
    """One error line unless a network of input ``input_shape`` and output ``output_shape``
    (one tensor's shape, or a tuple of shapes of which the first is the prediction) can train
    on ``splits``. ``params``: the space's parameters; those whose value is the output's width
    (``classes: 3``) are named in the hint (``--set classes=10``), and so are the parameters
    ``input_names`` that the document's ``input:`` names (``input: [features]``)."""
    data = splits.name
    if tuple(input_shape) != tuple(splits.input_shape):
        fits = fitting_datasets(input_shape)
        named = {n: v for n, v in (params or {}).items() if n in input_names}
        setting = _settings(named, tuple(input_shape), tuple(splits.input_shape))
        hint = (f"--data {' or '.join(fits)} has input {_fmt(tuple(input_shape))}" if fits
                else "search it on data of its input shape")
        hint += f"; or {setting}" if setting else "; or change 'input' in the document"
        raise DataError(f"the space '{space_name}' takes input {_fmt(tuple(input_shape))} but the '{data}' data "
                        f"is {_fmt(tuple(splits.input_shape))}", where, hint=hint)
    out = output_shape
    if isinstance(out, tuple) and out and all(isinstance(o, tuple) for o in out):
        out = out[0]  # [prediction, auxiliary, ...]: the loss reads the first
    if not _concrete(out) or splits.target_shape is None:
        return
    named = [name for name, value in (params or {}).items()
             if len(out) == 1 and isinstance(value, int) and not isinstance(value, bool) and value == out[0]]
    setting = " or ".join(f"--set {p}=" for p in named)
    if splits.task == "classification" and splits.num_classes is not None and splits.target_shape == ():
        if out != (splits.num_classes,):
            hint = (f"{setting}{splits.num_classes}" if setting and len(out) == 1
                    else f"end the network in {splits.num_classes} values, e.g. ... | linear({splits.num_classes})")
            raise DataError(f"the space '{space_name}' outputs {_fmt(out)} values per sample but the '{data}' data "
                            f"is a classification of {splits.num_classes} classes",
                            where, hint=hint)
    elif splits.task == "regression":
        want = math.prod(splits.target_shape)
        if math.prod(out) != want:
            hint = (f"{setting}{want}" if setting and len(out) == 1
                    else f"end the network in {want} value(s), e.g. ... | linear({want})")
            raise DataError(f"the space '{space_name}' outputs {_fmt(out)} values per sample but the '{data}' data "
                            f"is a regression with targets of shape {_fmt(splits.target_shape) if want != 1 else '1'}",
                            where, hint=hint)


def check_space_fits(splits: Splits, space) -> None:
    """:func:`check_fits` for a compiled space (its input and output shapes, its document's
    ``params`` with the overrides, and the parameters its ``input:`` names)."""
    check_fits(splits, space.input_shape, space.graph.output.shape, space.name, Loc(space.doc.file),
               {**(space.doc.data.get("params") or {}), **(space.overrides or {})},
               tuple(d for d in space.doc.data.get("input") or () if isinstance(d, str)))
