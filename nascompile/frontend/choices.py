"""Layer, value and input choices: their labels, their decisions, their IR nodes."""

from __future__ import annotations

import math

from ..errors import LimitError, Loc, SpaceError, clip, count, did_you_mean
from ..ir.graph import Decision, Node
from ..ir.values import apply, is_sym, ref
from . import ast as A
from .context import MAX_OPTIONS, MAX_TOTAL_OPTIONS, REDUCTIONS, Poisoned, Site, _candidate_names, _dedupe, _fmt, join
from .parse import inner_loc
from .runtime import POISON, ChoiceOp, Function, OpCall, OpValue, Tensor, type_name


class Choices:
    def _declare(self, decision: Decision, loc: Loc) -> None:
        old = self.decisions.get(decision.label)
        if old is None:
            self.total_options += decision.size()
            if self.total_options > MAX_TOTAL_OPTIONS:
                raise LimitError(f"the space's decisions have too many options together (over "
                                 f"{MAX_TOTAL_OPTIONS:,})", loc, hint="use fewer or smaller choices")
            self.decisions[decision.label] = decision
            self.decision_locs[decision.label] = loc
            return
        if old.signature() != decision.signature():
            first = self.decision_locs[decision.label]
            raise SpaceError(
                f"label '{decision.label}' names two different choices: {decision.signature()} here "
                f"and {old.signature()} at {first.prefix()}", loc,
                hint="one label is one decision; give one of them another label=")

    def _label(self, site: Site, role: str, explicit, hint, is_root) -> str:
        if explicit is not None:
            if not isinstance(explicit, str) or explicit.strip("/") == "" or "//" in explicit:
                raise SpaceError(f"label must be a non-empty string, got {clip(repr(explicit), 60)}", site.loc)
            return explicit[1:] if explicit.startswith("/") else join(site.base, explicit)  # "/x": absolute
        if is_root:
            return site.path
        if hint is not None:
            k = site.count(f"kw:{hint}")
            return join(site.path, hint if k == 0 else f"{hint}{k}")
        return join(site.path, f"{role}{site.count(role)}")

    def _choice(self, ast, env, site, hint, is_root):
        loc = inner_loc(site.loc, ast.pos)
        named = [(k, v) for k, v in ast.kwargs if k not in ("label", "share")]
        label_ast = dict(ast.kwargs).get("label")
        explicit = None if label_ast is None else self.ev(label_ast, env, site)
        share_ast = dict(ast.kwargs).get("share")
        share = False if share_ast is None else self.ev(share_ast, env, site)
        if not isinstance(share, bool):
            raise SpaceError(f"share= is true or false, got {clip(repr(share), 60)}")
        if not ast.args and not named:
            raise SpaceError("empty choice: choice() needs at least one candidate")
        if ast.args and named:
            raise SpaceError("a choice's candidates are either all named (name=...) or all unnamed")
        values = self.positional(ast.args, env, site) if ast.args else [
            self.ev(v, env, site) for _, v in named]
        if not values:  # choice(*[])
            raise SpaceError("empty choice: choice() needs at least one candidate")
        if any(v is POISON for v in values):
            raise Poisoned
        if all(isinstance(v, (OpValue, Function)) for v in values):
            label = self._label(site, "op", explicit, None, is_root)
            ops = [self._as_op(v, loc) for v in values]
            names = [k for k, _ in named] if named else _candidate_names(ops)
            if len(set(names)) != len(names):
                raise SpaceError(f"candidate names of choice '{label}' repeat: {names}")
            self._declare(Decision(label, "layer", tuple(names)), loc)
            if share:
                return _shared_candidates(label, tuple(names), ops, loc)
            return ChoiceOp(label, tuple(names), tuple(ops), loc)
        for v in values:
            if not isinstance(v, (int, float, str, bool)) or is_sym(v):
                raise SpaceError(f"a choice's candidates are all ops or all constants; got {type_name(v)}")
        if named:
            raise SpaceError("candidates of a value choice cannot be named")
        if share:
            raise SpaceError("share= is for a choice between ops (a value choice always shares its op's weights)")
        if len(values) > MAX_OPTIONS:
            raise SpaceError(f"a value choice has too many options ({len(values):,}, at most {MAX_OPTIONS:,})")
        if len(set(map(repr, values))) != len(values):
            raise SpaceError(f"a value choice lists the same value twice: {clip(repr(values), 120)}")
        label = self._label(site, "value", explicit, hint, is_root)
        self._declare(Decision(label, "value", tuple(values)), loc)
        return ref(label)

    def _input_choice(self, ast, env, site, is_root):
        loc = inner_loc(site.loc, ast.pos)
        names = ("candidates", "n_chosen", "reduction", "label")
        args = [self.ev(a, env, site) for a in ast.args]
        kwargs = {}
        for k, v in ast.kwargs:
            if k not in names:
                raise SpaceError(f"input_choice has no argument '{k}'", hint=did_you_mean(k, names))
            kwargs[k] = self.ev(v, env, site)
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k in bound:
                raise SpaceError(f"input_choice got '{k}' twice")
            bound[k] = v
        if "candidates" not in bound:
            raise SpaceError("input_choice needs its candidates: input_choice([a, b, ...], n_chosen=1)")
        cands, n = bound["candidates"], bound.get("n_chosen", 1)
        reduction = bound.get("reduction", "sum")
        if not isinstance(cands, list):
            raise SpaceError(f"input_choice candidates must be a list of tensors, got {type_name(cands)}")
        if any(c is POISON for c in cands):
            raise Poisoned
        if not cands:
            raise SpaceError("empty choice: input_choice has no candidates")
        for c in cands:
            if not isinstance(c, Tensor):
                raise SpaceError(f"input_choice candidates must be tensors, got {type_name(c)}")
            if c.graph is not site.graph:
                raise SpaceError(f"input_choice candidate '{c.name}' belongs to another graph (a cell "
                                 "or choice body); candidates must come from the same body")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise SpaceError(f"n_chosen must be a positive whole number or null (any number), got {n!r}")
        if n is not None and n > len(cands):
            raise SpaceError(f"input_choice asks for {n} inputs but has only {len(cands)} candidates")
        options = math.comb(len(cands), n) if n is not None else 2 ** len(cands)  # counted, never listed
        if options > MAX_OPTIONS:
            raise SpaceError(f"input_choice has too many options ({count(options)} ways to choose "
                             f"{'any number' if n is None else n} of {len(cands)} inputs, at most {MAX_OPTIONS:,})",
                             hint="choose among fewer inputs, or give n_chosen a small number")
        if reduction not in REDUCTIONS:
            raise SpaceError(f"unknown reduction {clip(repr(reduction), 40)}", hint=did_you_mean(str(reduction), REDUCTIONS)
                             or f"one of {', '.join(REDUCTIONS)}")
        label = self._label(site, "input", bound.get("label"), None, is_root)
        cand_names = _dedupe([c.origin for c in cands])
        self._declare(Decision(label, "input", tuple(cand_names), n), loc)
        shapes = [c.shape for c in cands]
        if reduction == "concat":
            for s in shapes[1:]:
                if len(s) != len(shapes[0]) or not self.checker.same_shape(s[1:], shapes[0][1:]):
                    raise SpaceError(f"input_choice '{label}' concatenates candidates whose shapes differ "
                                     f"beyond channels: {_fmt(shapes[0])} and {_fmt(s)}")
            channels = [s[0] for s in shapes]
            shape = (apply("sum_chosen", ref(label), tuple(cand_names), tuple(channels)),) + tuple(shapes[0][1:])
        else:
            for c, s in zip(cands, shapes):
                if not self.checker.same_shape(s, shapes[0]):
                    raise SpaceError(f"input_choice '{label}' sums candidates of different shapes: "
                                     f"'{cand_names[0]}' {_fmt(shapes[0])} and '{c.origin}' {_fmt(s)}")
            shape = shapes[0]
        graph = site.graph
        name = graph.fresh(f"{site.name}.{label.rsplit('/', 1)[-1]}" if not is_root else f"{site.name}.input")
        node = self.add_node(graph, Node(name, "input_choice", tuple(c.name for c in cands), label,
                                         (("n_chosen", n), ("reduction", reduction)), (), tuple(cand_names),
                                         shape, loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, shape, node.name)


def _shared_candidates(label: str, names: tuple, ops: list, loc: Loc) -> OpCall:
    """``choice(..., share=true)`` between calls of one op that differ only in numbers (the six
    ``mb_conv`` of a ProxylessNAS block): ONE call whose differing arguments pick their value by
    the layer choice's candidate, so the supernet holds one superkernel instead of a module per
    candidate. The decision stays the layer choice (same label, same candidate names)."""
    if not all(isinstance(o, OpCall) for o in ops) or len({o.op.name for o in ops}) != 1:
        raise SpaceError(f"choice '{label}' with share=true needs candidates that are each one call of the same op",
                         loc, hint="drop share=true, or make every candidate e.g. mb_conv(...)")
    op = ops[0].op
    params = [p.name for p in op.params]
    bound = []
    for o in ops:
        args = dict(zip(params, o.args))
        args.update(dict(o.kwargs))
        bound.append(args)
    if len({tuple(sorted(b)) for b in bound}) != 1:
        raise SpaceError(f"choice '{label}' with share=true: the candidates of op '{op.name}' set different "
                         "arguments", loc, hint="give every candidate the same arguments, differing only in numbers")
    merged = {}
    for key in bound[0]:
        values = [b[key] for b in bound]
        if len({repr(v) for v in values}) == 1:
            merged[key] = values[0]
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) and not is_sym(v) for v in values):
            merged[key] = apply("pick", ref(label), names, tuple(values))
        else:
            raise SpaceError(f"choice '{label}' with share=true: argument '{key}' of op '{op.name}' differs in "
                             f"something other than a number ({clip(repr(values), 80)})", loc,
                             hint="only sizes can share one set of weights")
    return OpCall(op, (), tuple(merged.items()), loc)
