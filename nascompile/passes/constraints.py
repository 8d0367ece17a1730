"""Constraints of a space: which architectures are valid, checked one at a time or counted.

A :class:`Constraint` is one test of the document's ``constraints:`` section, compiled by
:mod:`nascompile.frontend.constraints` into a :class:`~nascompile.ir.values.Sym` over decision
labels and the pseudo-labels ``@params``, ``@macs`` and ``@edges:<scope>``. A
:class:`ConstraintSet` evaluates them on an architecture (a canonical sample; labels it does
not use may be missing) without freezing it: parameters and MACs come from the per-node costs
and liveness conditions of the IR, exactly what :func:`~.freeze.frozen_cost` counts.

Counting under constraints (:func:`constrained_stats`) is exact or refused:

* constraints over decisions only (``edges``, ``arch[...]``) become 0/1 tables over the labels
  they read (and those deciding whether those labels are used), one more factor of the variable
  elimination of :mod:`.stats`: exact for spaces of any size while each table stays small;
* constraints on ``params`` or ``macs`` are checked architecture by architecture, when the space
  has at most :data:`MAX_ENUMERATE` assignments and within ``NASCOMPILE_STATS_SECONDS``;
  otherwise a :class:`~nascompile.errors.StatsError` says why (build prints "not computed").
"""
from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass
from typing import Any, Mapping

from ..arch import normalize_arch
from ..errors import ArchError, Loc, NasError, StatsError, clip, count
from ..ir.values import evaluate, labels_of
from .conditions import TRUE, holds, labels as cond_labels
from .elimination import MAX_TABLE, TIME_BUDGET, table
from .liveness import active_conditions, liveness

PARAMS, MACS, EDGES = "@params", "@macs", "@edges:"  # as nascompile.frontend.constraints writes them
MAX_ENUMERATE = 1_000_000  # assignments checked one by one for constraints on params or macs


@dataclass(frozen=True)
class Constraint:
    text: str  # the expression as written (whitespace collapsed)
    expr: Any  # a Sym, or a constant
    loc: Loc = Loc()
    block: str | None = None  # a cell's own validity (its label): counted by passes.cell_block
    explain: Any = None  # a Sym saying why it fails, shown instead of the values read

    @property
    def names(self) -> frozenset:
        return labels_of(self.expr)


class ConstraintSet:
    """The constraints of one space, evaluated on its fixed-network IR ``graph``."""

    def __init__(self, graph, ops, constraints):
        from .stats import node_costs  # stats imports this module

        self.graph, self.decisions = graph, graph.decisions
        self.constraints = tuple(constraints)
        names = frozenset().union(*(c.names for c in self.constraints))
        self.stats = bool(names & {PARAMS, MACS})
        self.read = sorted(n for n in names if n in self.decisions)
        self.scopes = sorted(n[len(EDGES):] for n in names if n.startswith(EDGES))
        self.edge_labels = {s: [l for l, d in self.decisions.items() if d.kind == "input" and
                                (l == s or l.startswith(s + "/"))] for s in self.scopes}
        live = liveness(graph)
        self.active = active_conditions(live, self.decisions)
        self.rows = [(cond, p, m) for _, cond, p, m in node_costs(graph, ops)] if self.stats else []
        self.defaults = {l: d.domain()[0] for l, d in self.decisions.items()}

    def __bool__(self):
        return bool(self.constraints)

    def __len__(self):
        return len(self.constraints)

    def values(self, sample: Mapping) -> dict:
        """Every name the constraints read, for ``sample``."""
        full = {**self.defaults, **sample}  # labels it does not use: any value reads the same
        env = {l: full[l] if holds(self.active[l], full) else None for l in self.read}
        for scope, labels in self.edge_labels.items():
            env[EDGES + scope] = sum(len(full[l]) for l in labels if holds(self.active[l], full))
        if self.stats:
            params = macs = 0
            for cond, p, m in self.rows:
                if cond == TRUE or holds(cond, full):
                    params += evaluate(p, full)
                    macs += evaluate(m, full)
            env[PARAMS], env[MACS] = int(params), int(macs)
        return env

    def violation(self, sample: Mapping):
        """``(constraint, values)`` of the first constraint ``sample`` breaks, or None."""
        if not self.constraints:
            return None
        env = self.values(sample)
        for c in self.constraints:
            if not _test(c, env):
                return c, env
        return None

    def refuses(self, arch: Mapping) -> bool:
        """Whether the architecture JSON ``arch`` (any encoding :mod:`nascompile.arch` reads)
        breaks a constraint."""
        return self.violation(normalize_arch(arch, self.decisions, required=lambda s: ())) is not None

    def check(self, sample: Mapping, source: str = "<arch>") -> None:
        """Raise one :class:`ArchError` naming the first constraint ``sample`` breaks."""
        broken = self.violation(sample)
        if broken is not None:
            c, env = broken
            raise ArchError(f'the architecture breaks the constraint "{clip(c.text, 120)}" ({describe(c, env)})',
                            Loc(source), hint=f"declared at {c.loc.prefix()}")

    def factors(self) -> list:
        """0/1 tables ``(labels, {indices: bool})`` of constraints over decisions only (for
        :func:`~.stats.space_stats`); a StatsError when one does not fit in a table."""
        if self.stats:
            raise StatsError("constraints on params or macs are not decision tables")
        out, domains = [], {l: d.domain() for l, d in self.decisions.items()}
        sizes = {l: len(v) for l, v in domains.items()}
        filters = self.edge_filters()
        for c in self.constraints:
            if c.block is not None or c in filters.values():  # stats count the cell's block itself
                continue
            reads = {n for n in c.names if n in self.decisions}
            for n in c.names:
                if n.startswith(EDGES):
                    reads.update(self.edge_labels[n[len(EDGES):]])
            scope = set(reads)
            for l in reads:
                scope |= cond_labels(self.active[l])
            scope = tuple(sorted(scope))
            n = 1
            for l in scope:
                n *= sizes[l]
            if n > MAX_TABLE:
                raise StatsError(f"the constraint '{clip(c.text, 60)}' reads decisions with {count(n)} combinations "
                                 f"(at most {MAX_TABLE:,} for an exact count)")
            one = ConstraintSet.__new__(ConstraintSet)
            one.__dict__.update(self.__dict__, constraints=(c,))

            def ok(idx, scope=scope, one=one):
                return one.violation({l: domains[l][i] for l, i in zip(scope, idx)}) is None
            out.append((scope, table(scope, sizes, ok)))
        return out


    @functools.cached_property
    def _edge_filters(self) -> dict:
        return self._find_edge_filters()

    def edge_filters(self) -> dict:
        """See :meth:`_find_edge_filters` (computed once: stats and factors both ask)."""
        return self._edge_filters

    def _find_edge_filters(self) -> dict:
        """``{cell label: constraint}`` for each constraint that reads only ``edges(scope)`` of
        one NAS-Bench-101 cell type's input choices (``edges(cell) <= 8``): its block counts it
        (:meth:`allowed_edges`) instead of a table over all of the cell's decisions."""
        from .cell_block import cell_types

        cells = cell_types(self.graph)
        out = {}
        for c in self.constraints:
            scopes = {n[len(EDGES):] for n in c.names if n.startswith(EDGES)}
            if c.block is not None or len(scopes) != 1 or len(c.names) != 1:
                continue
            labels = set(self.edge_labels[next(iter(scopes))])
            owner = [label for label, cell_labels in cells.items() if labels and labels <= cell_labels]
            if owner and owner[0] not in out:
                out[owner[0]] = c
        return out

    def allowed_edges(self, constraint: Constraint, most: int) -> frozenset:
        """The edge counts ``0..most`` that an edge filter of :meth:`edge_filters` allows."""
        name = next(iter(constraint.names))
        return frozenset(e for e in range(most + 1) if _test(constraint, {name: e}))


def valid_export(mutator, sample, algo: str):
    """``sample``, the architecture a one-shot search exports, if it satisfies the constraints
    its mutator carries. Single-path mutators draw only valid architectures; a weighted one's
    export (the strongest option of every choice) may break one: one :class:`NasError` line."""
    constraints = getattr(mutator, "constraints", None)
    broken = constraints.violation(sample) if constraints else None
    if broken is None:
        return sample
    raise NasError(f"{algo} found an architecture that breaks the constraint \"{clip(broken[0].text, 80)}\" "
                   f"({describe(*broken)}): a weighted search relaxes every choice at once and exports the "
                   "strongest option of each, so a constraint cannot steer it", Loc("<trainer>"),
                   hint="search with a single-path algorithm (spos, random, enas), which draws only valid "
                        "architectures, or loosen the constraint")


def _test(c: Constraint, env: dict) -> bool:
    try:
        value = evaluate(c.expr, env)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:  # arch['x'] <= 3 with 'x' unused
        raise ArchError(f"the constraint '{clip(c.text, 120)}' cannot be evaluated: {clip(str(err), 80)}",
                        c.loc, hint="a decision the architecture does not use reads as None") from None
    return bool(value)


def describe(c: Constraint, env: dict) -> str:
    """``params = 6,123,456, edges(cell) = 10``: the values the constraint read."""
    if c.explain is not None:
        return clip(str(evaluate(c.explain, env)), 120)
    parts = []
    for n in sorted(c.names):
        v = env.get(n)
        shown = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else clip(repr(v), 40)
        name = ("params" if n == PARAMS else "macs" if n == MACS else
                f"edges({n[len(EDGES):]})" if n.startswith(EDGES) else f"arch['{n}']")
        parts.append(f"{name} = {shown}")
    return ", ".join(parts) or "a constant test"


def constrained_stats(graph, ops, cset: ConstraintSet):
    """:class:`~.stats.SpaceStats` of the architectures that satisfy ``cset`` (exact), or a
    :class:`StatsError` saying why they cannot be counted."""
    from .stats import SpaceStats, space_stats

    if not cset.stats:
        return space_stats(graph, ops, extra=cset.factors(), checker=cset)
    decisions = graph.decisions
    total = 1
    for d in decisions.values():
        total *= d.size()
    if total > MAX_ENUMERATE:
        raise StatsError(f"constraints on params or macs are checked one architecture at a time, and this space has "
                         f"{count(total)} assignments (at most {MAX_ENUMERATE:,})",
                         hint="bound decisions instead (edges(...), arch[...]), or use a smaller space")
    deadline = time.monotonic() + TIME_BUDGET
    labels = sorted(decisions)
    seen, n = set(), 0
    lo_p = lo_m = float("inf")
    hi_p = hi_m = float("-inf")
    for k, combo in enumerate(itertools.product(*(decisions[l].domain() for l in labels))):
        if k % 1024 == 0 and time.monotonic() > deadline:
            raise StatsError(f"checking the constraints on {count(total)} assignments did not finish within "
                             f"{TIME_BUDGET:.0f} s (NASCOMPILE_STATS_SECONDS)")
        sample = dict(zip(labels, combo))
        key = tuple(v for l, v in zip(labels, combo) if holds(cset.active[l], sample))
        if key in seen:
            continue
        seen.add(key)
        env = cset.values(sample)
        if all(_test(c, env) for c in cset.constraints):
            n += 1
            lo_p, hi_p = min(lo_p, env[PARAMS]), max(hi_p, env[PARAMS])
            lo_m, hi_m = min(lo_m, env[MACS]), max(hi_m, env[MACS])
    if n == 0:
        return SpaceStats(len(decisions), 0, (0, 0), (0, 0))
    return SpaceStats(len(decisions), n, (int(lo_p), int(hi_p)), (int(lo_m), int(hi_m)))
