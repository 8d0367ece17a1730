"""Mutables: the choice points of a hand-written PyTorch model.

A mutable is an ``nn.Module`` that stands for a decision. It has no architecture of its own:
during ``forward`` it asks the mutator attached to it (see :mod:`.mutator`) what to run, or it
is replaced by :func:`~nascompile.nn.fixed.apply_fixed_architecture`. Its label is its ``key``
when given, else its attribute path in the model (``cells.3.op1``), prefixed by the key of the
innermost enclosing :class:`MutableScope` (``normal/op1``); it never depends on creation order.
Mutables with one label are one decision and must agree on their candidates.

Example::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.op = LayerChoice({"conv3": nn.Conv2d(8, 8, 3, padding=1),
                                   "conv5": nn.Conv2d(8, 8, 5, padding=2)})
            self.skip = InputChoice(choose_from=["op", "x"], n_chosen=1)
            self.p = ValueChoice([0.0, 0.5])

        def forward(self, x):
            y = self.skip([self.op(x), x])
            return F.dropout(y, self.p.value, self.training)
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from functools import reduce
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..ir.graph import Decision
from .candidates import CandidateModules, candidate_list

REDUCTIONS = ("sum", "mean", "concat", "none")
VALUE_TYPES = (str, int, float, bool, type(None))


def reduce_tensors(reduction: str, tensors: Sequence):
    """Combine the chosen outputs: ``none`` gives the list itself; otherwise no tensor gives
    None, one tensor gives it unchanged, several are summed, averaged or concatenated on dim 1.

    >>> reduce_tensors("mean", [torch.ones(2), torch.zeros(2)]).tolist()
    [0.5, 0.5]
    """
    tensors = list(tensors)
    if reduction == "none":
        return tensors
    if not tensors:
        return None
    if len(tensors) == 1:
        return tensors[0]
    if reduction == "sum":
        return reduce(lambda a, b: a + b, tensors)
    if reduction == "mean":
        return reduce(lambda a, b: a + b, tensors) / len(tensors)
    return torch.cat(tensors, dim=1)


MODEL = Loc("<model>")


def _error(message: str, hint: str | None = None) -> NasError:
    """An error in a hand-written model (it has no document to point into)."""
    return NasError(message, MODEL, hint)


def _check_key(key, what: str):
    if key is not None and (not isinstance(key, str) or not key):
        raise _error(f"{what}: a key is a non-empty string, got {key!r}")
    return key


def _check_reduction(reduction, what: str):
    if reduction not in REDUCTIONS:
        raise _error(f"{what}: unknown reduction {reduction!r} (one of: {', '.join(REDUCTIONS)})")
    return reduction


# NNI v1 numbered keyless mutables in construction order, program-wide, from 1 ("LayerChoice1",
# "InputChoice2", ...); a keyless LayerChoice or InputChoice takes the next number.
_NNI_NUMBERS = itertools.count(1)


@contextmanager
def nni_numbering():
    """Number keyless mutables made in the block from 1, as a fresh NNI process would (NNI ran
    its tuner and each trial in a process of its own); the program's count resumes after it."""
    global _NNI_NUMBERS
    saved, _NNI_NUMBERS = _NNI_NUMBERS, itertools.count(1)
    try:
        yield
    finally:
        _NNI_NUMBERS = saved


class Mutable(nn.Module):
    """Base of every choice point. ``label`` is set when a mutator attaches itself.

    ``key`` is the key given, else for a :class:`LayerChoice` or :class:`InputChoice` the key NNI
    v1 would have given it: its class name and its number in construction order
    (``LayerChoice3``; ``nni_number``). Labels use only a given key (``explicit_key``): a keyless
    mutable is labelled by its path (see :mod:`.space`), and an architecture file written by NNI
    with numbered keys is mapped onto those labels (:meth:`~.space.ModelSpace.from_nni_keys`).

    Contract for mutators: a mutable calls exactly one hook of its mutator per ``forward``
    (``layer_choice_forward``, ``input_choice_forward`` or ``value_choice_value``).
    """

    nni_numbered = False  # True: a keyless instance takes NNI's next number

    def __init__(self, key: str | None = None):
        super().__init__()
        self._key = _check_key(key, type(self).__name__)
        self.nni_number: int | None = next(_NNI_NUMBERS) if key is None and self.nni_numbered else None
        self.label: str | None = None
        self._mutator = None

    @property
    def key(self) -> str | None:
        """The key given, else NNI's numbered key (``LayerChoice3``), else None."""
        if self._key is not None:
            return self._key
        return f"{type(self).__name__}{self.nni_number}" if self.nni_number is not None else None

    @key.setter
    def key(self, value) -> None:
        self._key = _check_key(value, type(self).__name__)

    @property
    def explicit_key(self) -> str | None:
        """The key the model gave (None: labelled by its path)."""
        return self._key

    def decision(self, label: str) -> Decision:
        """The decision this mutable stands for, under ``label``."""
        raise NotImplementedError

    def _attach(self, mutator, label: str) -> None:
        self._mutator = mutator
        self.label = label

    def _require_mutator(self):
        if self._mutator is None:
            name = f"'{self.key}'" if self.key else "(no key)"
            raise _error(f"{type(self).__name__} {name} has no architecture: apply a fixed architecture "
                         f"(nascompile.nn.apply_fixed_architecture) or attach a mutator "
                         f"(e.g. nascompile.nn.SinglePathMutator(model)) before running the model")
        return self._mutator

    def extra_repr(self) -> str:
        return f"label={self.label or self.key!r}"


class LayerChoice(CandidateModules, Mutable):
    """Run one of several candidate modules (or a mixture of them, in weighted mutators).

    ``op_candidates`` is a list (names ``"0"``, ``"1"``, ...) or a mapping name -> module.
    The candidates are submodules named by their names. The mutator's outputs are combined by
    ``reduction`` (see :func:`reduce_tensors`); with ``return_mask`` the forward returns
    ``(output, mask)`` where ``mask`` weighs each candidate. As in NNI, ``len()``, iteration and
    indexing (by name or position) give the candidate modules, ``choices`` and ``length`` are
    their list and number, and a candidate can be replaced (``lc[1] = m``) or deleted
    (``del lc["conv5"]``) before a mutator attaches.

    >>> lc = LayerChoice([nn.Identity(), nn.ReLU()])
    >>> lc.names, len(lc), lc.key.startswith("LayerChoice")
    (['0', '1'], 2, True)
    """

    nni_numbered = True

    def __init__(self, op_candidates, reduction: str = "sum", return_mask: bool = False, key: str | None = None):
        super().__init__(key)
        self.reduction = _check_reduction(reduction, "LayerChoice")
        self.return_mask = bool(return_mask)
        if isinstance(op_candidates, Mapping):
            items = list(op_candidates.items())
        elif isinstance(op_candidates, (list, tuple, nn.ModuleList)):
            items = [(str(i), m) for i, m in enumerate(op_candidates)]
        else:
            raise _error(f"LayerChoice takes a list or a dict of modules, got {type(op_candidates).__name__}")
        if not items:
            raise _error("LayerChoice needs at least one candidate")
        self.names: list[str] = []
        for name, module in items:
            if not isinstance(name, str) or not name or "." in name:
                raise _error(f"LayerChoice: candidate name {name!r} must be a non-empty string without '.'")
            if not isinstance(module, nn.Module):
                raise _error(f"LayerChoice: candidate '{name}' is a {type(module).__name__}, not an nn.Module")
            if hasattr(self, name):
                raise _error(f"LayerChoice: candidate name '{name}' clashes with an attribute of LayerChoice",
                             hint="rename the candidate")
            self.add_module(name, module)
            self.names.append(name)

    @property
    def candidates(self) -> list[nn.Module]:
        """The candidate modules, in candidate order."""
        return [self._modules[n] for n in self.names]

    def decision(self, label: str) -> Decision:
        return Decision(label, "layer", tuple(self.names))

    def forward(self, *args, **kwargs):
        outputs, mask = self._require_mutator().layer_choice_forward(self, args, kwargs)
        out = reduce_tensors(self.reduction, outputs)
        return (out, mask) if self.return_mask else out


class InputChoice(Mutable):
    """Choose ``n_chosen`` of a list of input tensors and reduce them.

    ``choose_from`` gives the candidates' keys as NNI does: usually the keys of the mutables or
    scopes the tensors come from, or :attr:`NO_KEY` (``""``) for a tensor without one;
    ``n_candidates`` alone means that many ``NO_KEY`` candidates. Each candidate is named by its
    key, or by its position (``"0"``, ``"1"``, ...) when it has none: the names are the
    decision's options (``choose_from`` holds them, ``sources`` the keys as given); two
    candidates with one name are an error. ``n_chosen=None`` allows any number (the empty choice
    included, which reduces to None). ``forward`` takes the candidate tensors as a list in
    candidate order, or as a dict keyed by the keys (or names); entries that
    :meth:`needed_inputs` leaves out may be None. ``edges`` maps a candidate to the label of the
    layer choice on its edge (a DARTS node's input from one state goes through that edge's mixed
    op): weighted exports keep the candidates whose edges are strongest (see :mod:`.arch_weights`).

    >>> ic = InputChoice(choose_from=["x", "y", "z"], n_chosen=2, reduction="concat")
    >>> ic.n_candidates
    3
    >>> InputChoice(choose_from=[InputChoice.NO_KEY, InputChoice.NO_KEY, "node0"], n_chosen=1).choose_from
    ['0', '1', 'node0']
    """

    NO_KEY = ""
    nni_numbered = True

    def __init__(self, n_candidates: int | None = None, choose_from: Sequence[str] | None = None,
                 n_chosen: int | None = None, reduction: str = "sum", return_mask: bool = False,
                 key: str | None = None, edges: Mapping[str, str] | None = None):
        super().__init__(key)
        self.reduction = _check_reduction(reduction, "InputChoice")
        self.return_mask = bool(return_mask)
        if choose_from is None:
            if not isinstance(n_candidates, int) or isinstance(n_candidates, bool) or n_candidates < 1:
                raise _error(f"InputChoice needs n_candidates >= 1 or choose_from, got n_candidates={n_candidates!r}")
            choose_from = [self.NO_KEY] * n_candidates
        sources = list(choose_from)
        if not sources or not all(isinstance(c, str) for c in sources):
            raise _error(f"InputChoice: choose_from is a non-empty list of keys (strings; NO_KEY is ''), "
                         f"got {sources!r}")
        names = [c if c != self.NO_KEY else str(i) for i, c in enumerate(sources)]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise _error(f"InputChoice: choose_from names a candidate twice ({', '.join(twice)}): {sources!r}",
                         hint="a candidate without a key is named by its position; give the others distinct keys")
        if n_candidates is not None and n_candidates != len(names):
            raise _error(f"InputChoice: n_candidates={n_candidates} but choose_from has {len(names)} names")
        if n_chosen is not None and (not isinstance(n_chosen, int) or isinstance(n_chosen, bool)
                                     or not 1 <= n_chosen <= len(names)):
            raise _error(f"InputChoice: n_chosen must be None or 1..{len(names)}, got {n_chosen!r}")
        self.sources = sources
        self.choose_from = names
        self.n_candidates = len(names)
        self.n_chosen = n_chosen
        edges = dict(edges or {})
        for name, label in edges.items():
            if name not in names or not isinstance(label, str) or not label:
                raise _error(f"InputChoice: edges maps candidates ({', '.join(names)}) to layer-choice "
                             f"labels, got {name!r}: {label!r}")
        self.edges = edges

    def decision(self, label: str) -> Decision:
        return Decision(label, "input", tuple(self.choose_from), self.n_chosen)

    def needed_inputs(self) -> tuple | None:
        """Which candidates the next ``forward`` reads (one bool each), or None for all of them:
        a caller may leave the others uncomputed and pass None in their place."""
        return self._require_mutator().input_choice_needed(self)

    def forward(self, tensors):
        mutator = self._require_mutator()
        tensors = candidate_list(tensors, self.sources, self.choose_from, f"InputChoice '{self.label}'")
        outputs, mask = mutator.input_choice_forward(self, tensors)
        out = reduce_tensors(self.reduction, outputs)
        return (out, mask) if self.return_mask else out


class ValueChoice(Mutable):
    """A value chosen from ``candidates`` (JSON scalars, distinct); read it as ``.value``.

    ``.value`` asks the attached mutator; after :func:`apply_fixed_architecture` the module is
    replaced by a holder with the fixed ``.value``. Calling the module returns the value too.

    >>> p = ValueChoice([0.0, 0.1, 0.3], key="dropout")
    >>> p.candidates
    [0.0, 0.1, 0.3]
    """

    def __init__(self, candidates: Sequence, key: str | None = None):
        super().__init__(key)
        candidates = list(candidates)
        if not candidates:
            raise _error("ValueChoice needs at least one candidate")
        for c in candidates:
            if not isinstance(c, VALUE_TYPES):
                raise _error(f"ValueChoice: candidate {c!r} is not a JSON scalar (str, int, float, bool, None)",
                             hint="an architecture JSON must be able to name every candidate")
        if len({(type(c), c) for c in candidates}) != len(candidates):
            raise _error(f"ValueChoice: a candidate appears twice in {candidates!r}")
        self.candidates = candidates

    def decision(self, label: str) -> Decision:
        return Decision(label, "value", tuple(self.candidates))

    #: True when the module using this choice computes its output for a mixture of values
    #: (:meth:`mixture`), so that the weighted modes can learn it; a hand-written model that reads
    #: ``.value`` gets one value from every mode.
    relaxable = False
    #: Why a module of a label that others relax cannot run a mixture (the weighted modes then
    #: refuse the label with this reason); None when it can, or when nothing relaxes the label.
    unrelaxable: str | None = None

    @property
    def value(self):
        return self._require_mutator().value_choice_value(self)

    def mixture(self) -> list:
        """The values this forward runs, each a :class:`~nascompile.nn.mutator.Weighted`
        ``(value, weight, grad)`` (weight None: a single value that simply runs). A single-path mode gives one
        value; DARTS every value with its softmax weight; GDAS one value with a straight-through
        weight; ProxylessNAS two values with binary gates."""
        return self._require_mutator().value_choice_mixture(self)

    def forward(self):
        return self.value


class DepthChoice(ValueChoice):
    """How many blocks of a chain run: a :class:`ValueChoice` of non-negative ints whose decision
    is a ``depth`` (as a repeat's ``depth:`` in a space document).

    >>> DepthChoice([1, 2, 3], key="stage1/depth").decision("stage1/depth").kind
    'depth'
    """

    def __init__(self, candidates: Sequence[int], key: str | None = None):
        for c in candidates:
            if not isinstance(c, int) or isinstance(c, bool) or c < 0:
                raise _error(f"DepthChoice: candidate {c!r} is not a non-negative int")
        super().__init__(candidates, key)

    def decision(self, label: str) -> Decision:
        return Decision(label, "depth", tuple(self.candidates))


class MutableScope(nn.Module):
    """A container whose keyless mutables are labelled ``<key>/<path inside the scope>``.

    Subclass it and write ``forward``, or pass modules to run them in sequence. Scopes with the
    same key give their mutables the same labels, so they share one architecture (e.g. every
    normal cell of DARTS).

    >>> cell = MutableScope("normal", LayerChoice([nn.Identity(), nn.ReLU()]))
    >>> cell.key
    'normal'
    """

    def __init__(self, key: str, *modules: nn.Module):
        super().__init__()
        if not isinstance(key, str) or not key:
            raise _error(f"MutableScope: a key is a non-empty string, got {key!r}")
        self.key = key
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def extra_repr(self) -> str:
        return f"key={self.key!r}"

