"""Applying ops, layer choices and cells to tensors: where IR nodes and shapes are made."""

from __future__ import annotations

import itertools
import math

from ..errors import NasError, SpaceError, count
from ..ir.graph import Graph, Node
from ..ir.values import evaluate, is_sym
from ..ops.registry import bind_args
from .context import MAX_DEPTH, MAX_DIM, Poisoned, Site, _fmt, _rank_name
from .runtime import CellCall, Chain, ChoiceOp, OpCall, OpValue, Tensor, type_name


FOLD_LIMIT = 64  # label combinations tried to see that a choice-dependent size is a constant


class Applier:
    def apply(self, op: OpValue, tensors: list, site: Site) -> Tensor:
        graph = site.graph
        for t in tensors:
            if t.graph is not graph:
                raise SpaceError(f"tensor '{t.name}' belongs to another body (a cell or choice); "
                                 "pass it in as an input")
        if isinstance(op, Chain):
            out = tensors
            for o in op.ops:
                out = [self.apply(o, out, site)]
            return out[0]
        if isinstance(op, OpCall):
            return self._apply_call(op, tensors, site)
        if isinstance(op, ChoiceOp):
            return self._apply_choice(op, tensors, site)
        if isinstance(op, CellCall):
            return self._apply_cell(op, tensors, site)
        raise SpaceError(f"cannot apply {type_name(op)}")

    def _apply_call(self, call: OpCall, tensors, site):
        op = call.op
        lo, hi = op.arity
        if len(tensors) < lo or (hi is not None and len(tensors) > hi):
            want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
            raise SpaceError(f"op '{op.name}' takes {want} input tensors, got {len(tensors)}", call.loc)
        try:
            args = bind_args(op, list(call.args), dict(call.kwargs), self.checker)
            shapes = [t.shape for t in tensors]
            if op.ranks is not None:
                for s in shapes:
                    if len(s) not in op.ranks:
                        raise SpaceError(f"op '{op.name}' cannot take an input of shape {_fmt(s)} "
                                         f"(it takes {' or '.join(_rank_name(r) for r in op.ranks)})")
            shape = tuple(self._constant(d) for d in op.shape(shapes[0] if op.arity == (1, 1) else shapes, args,
                                                              self.checker))
            for d in shape:
                check_dim(self.bound(d), op.name)
        except NasError as err:
            raise err.at(call.loc) from None
        name = site.graph.fresh(f"{site.name}.{op.name}")
        node = self.add_node(site.graph, Node(name, "call", tuple(t.name for t in tensors), op.name,
                                              tuple(sorted(args.items())), (), (), shape, call.loc))
        site.created.append(node.name)
        return Tensor(site.graph, node.name, shape, tensors[0].origin if len(tensors) == 1 else node.name)

    def _constant(self, d):
        """A dimension that depends on choices in form only (a kernel picked by a shared choice
        that keeps the size, ``(s + 2 * (k // 2) - k) // 1 + 1``) as the number it always is, so
        that the shapes downstream do not carry labels they do not depend on."""
        if not is_sym(d):
            return d
        labels = sorted(d.labels)
        if math.prod(self.decisions[label].size() for label in labels) > FOLD_LIMIT:
            return d  # counted before any option is listed
        domains = [self.decisions[label].domain() for label in labels]
        values = {evaluate(d, dict(zip(labels, combo))) for combo in itertools.product(*domains)}
        return values.pop() if len(values) == 1 else d

    def _apply_choice(self, choice: ChoiceOp, tensors, site):
        regions, shapes = [], []
        for cname, cand in zip(choice.names, choice.candidates):
            region = Graph(cname)
            inputs = [Tensor(region, self.add_node(region, Node(f"x{i}" if len(tensors) > 1 else "x", "input",
                                                                shape=t.shape)).name, t.shape, t.origin)
                      for i, t in enumerate(tensors)]
            sub = Site(site.scope, site.name, site.loc, region, site.roots, site.counters, base=site.base)
            out = self.apply(cand, inputs, sub)
            self.add_node(region, Node("output", "output", (out.name,), shape=out.shape))
            regions.append(region)
            shapes.append(out.shape)
        for cname, s in zip(choice.names[1:], shapes[1:]):
            if not self.checker.same_shape(s, shapes[0]):
                detail = ", ".join(f"{n} -> {_fmt(x)}" for n, x in zip(choice.names, shapes))
                raise SpaceError(f"candidates of choice '{choice.label}' give different output shapes: "
                                 f"{detail}", choice.loc, hint="every candidate must give the same shape")
        graph = site.graph
        name = graph.fresh(f"{site.name}.{choice.label.rsplit('/', 1)[-1]}")
        node = self.add_node(graph, Node(name, "layer_choice", tuple(t.name for t in tensors), choice.label, (),
                                         tuple(regions), choice.names, shapes[0], choice.loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, shapes[0], tensors[0].origin)

    def _apply_cell(self, call: CellCall, tensors, site):
        cell = call.cell
        if cell.name in self.cell_stack:
            raise SpaceError(f"cell '{cell.name}' contains itself (it recurses)", call.loc,
                             hint="a cell cannot be instantiated inside its own body")
        if self.depth >= MAX_DEPTH:
            raise SpaceError(f"cell '{cell.name}' recurses more than {MAX_DEPTH} levels deep",
                             call.loc, hint="a cell cannot contain itself")
        if len(tensors) != len(cell.inputs):
            raise SpaceError(f"cell '{cell.name}' takes {len(cell.inputs)} inputs "
                             f"({', '.join(cell.inputs)}), got {len(tensors)}", call.loc)
        body = Graph(cell.name)
        env = dict(self.globals)
        env.update(call.params)
        for iname, t in zip(cell.inputs, tensors):
            node = self.add_node(body, Node(iname, "input", shape=t.shape))
            env[iname] = Tensor(body, node.name, t.shape, iname)
        before = len(self.errors)
        self.depth += 1
        self.cell_stack.append(cell.name)
        try:
            self._body(body, env, cell.nodes, cell.path + ("nodes",), call.scope)
            self._output(body, env, cell.output, cell.path + ("output",), call.scope)
        finally:
            self.depth -= 1
            self.cell_stack.pop()
        if len(self.errors) > before or not body.output.inputs:
            raise Poisoned
        graph = site.graph
        name = graph.fresh(f"{site.name}.{cell.name}")
        args = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in call.params))
        node = self.add_node(graph, Node(name, "cell", tuple(t.name for t in tensors), cell.name, args, (body,),
                                         ("body",), body.output.shape, call.loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, node.shape, tensors[0].origin)


def check_dim(d, op_name: str) -> None:
    """A plain dimension of an op's output is at most :data:`MAX_DIM`."""
    if isinstance(d, int) and not isinstance(d, bool) and d > MAX_DIM:
        raise SpaceError(f"op '{op_name}' gives a dimension of {count(d)} (at most {MAX_DIM:,})",
                         hint="channel counts and lengths above that cannot be built")
