"""ProxylessNAS (Cai, Zhu & Han, ICLR 2019): two sampled paths per step and a cost-aware loss.

The model runs under :class:`~nascompile.nn.BinaryGateMutator`: on every call of a layer choice
two candidates are drawn from ``softmax(alpha)``, one of them is active, the other runs without
autograd, so a step holds the activations of about one path, not of all candidates. Each step
trains the weights on a training batch (the active paths' weights get gradients), then, after
``warmup_epochs``, alpha with Adam on a validation batch and the architecture loss::

    mul_log:  alpha_r * CE * (log(E[cost]) / log(ref)) ** beta      (alpha_r=0.2, beta=0.3)
    add:      CE + lambda * (E[cost] - ref) / ref                    (lambda=0.1)

``E[cost] = base + sum_l softmax(alpha_l) . cost_l`` is the expected latency (or FLOPs) under
alpha's distribution, from a :class:`CostTable` (per-candidate costs). CE reaches alpha through
the binary gates, the cost term directly. ``ref`` is the target cost (the paper's reference
latency); by default the expected cost under the uniform distribution. The paper's other
defaults: Adam (lr 1e-3, betas (0, 0.999), eps 1e-8, no weight decay) for alpha, and 40 warm-up
epochs of weights only (here ``warmup_epochs=0``, so that short searches update alpha). Unlike
the original code, alpha is updated every step and the two sampled paths' alphas are not
rescaled afterwards (the mutator does not report which paths it drew).

Cost tables::

    CostTable.from_space(space, "flops")   # compiled space: each candidate's MACs (or params) from
                                           # the op registry's cost rule, over the IR
    CostTable.measure(model, x)            # hand-written model with a mutator attached: measured
                                           # latency (microseconds) of every candidate on its input
    CostTable({"conv1": [3.1, 7.9]})       # a table of your own: label -> cost per candidate

A trainer builds the first two itself (``cost_table="flops"`` for a compiled supernet,
``"latency"`` for a hand-written model, the defaults) and keeps the table in its checkpoints.

Example::

    trainer = ProxylessTrainer(model, loss, metrics, optimizer, num_epochs=120,
                               dataset_train=train, dataset_valid=valid, cost_table="latency")
    trainer.train()
    trainer.export(file="final_architecture.json")
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import Loc, NasError
from ..ir.values import evaluate, labels_of
from ..nn.binary_gate import BinaryGateMutator
from ..nn.mutables import LayerChoice
from .darts import ArchTrainer

__all__ = ["ProxylessTrainer", "CostTable", "proxyless_loss", "resolve_cost_table", "alpha_probs", "LOSS_TYPES"]

LOSS_TYPES = ("mul_log", "add")
MODEL = Loc("<model>")


@dataclass(frozen=True)
class CostTable:
    """Per-option costs of the learnt choices: ``costs[label][j]`` is the cost of candidate (or
    value) ``j`` of ``label``, summed over every module carrying that label (all normal cells of DARTS
    share one); ``base`` is the cost outside the choices; ``unit`` names what is counted.

    ``expected(probs)`` is ``base + sum_l probs[l] . costs[l]`` (differentiable in ``probs``).
    A choice nested inside another's candidate counts as always present.

    >>> CostTable({"op": [1.0, 3.0]}, base=2.0).expected({"op": torch.tensor([0.5, 0.5])}).item()
    4.0
    """

    costs: Mapping[str, Sequence[float]]
    base: float = 0.0
    unit: str = ""
    _tensors: dict = field(default_factory=dict, init=False, compare=False, repr=False)  # device copies

    def __post_init__(self):
        costs = {}
        for label, values in dict(self.costs).items():
            values = [float(v) for v in values]
            if not values or any(not math.isfinite(v) or v < 0 for v in values):
                raise NasError(f"cost table: '{label}' needs one finite cost >= 0 per candidate, got {values}",
                               Loc(path=str(label)))
            costs[label] = tuple(values)
        object.__setattr__(self, "costs", costs)
        object.__setattr__(self, "base", float(self.base))

    def check(self, decisions: Mapping, learnt=()) -> "CostTable":
        """Raise :class:`NasError` unless every layer choice of ``decisions`` and every other
        choice in ``learnt`` (a mutator's value and depth labels with architecture weights) has
        one cost per option (and the table names no other label); returns self."""
        needed = {label: d for label, d in decisions.items() if d.kind == "layer" or label in learnt}
        for label, d in needed.items():
            what = "candidate" if d.kind == "layer" else "value"
            if label not in self.costs:
                raise NasError(f"cost table has no costs for {d.kind} choice '{label}'", Loc(path=label),
                               hint=f"give {len(d.options)} costs, one per {what}: {', '.join(map(str, d.options))}")
            if len(self.costs[label]) != len(d.options):
                raise NasError(f"cost table gives {len(self.costs[label])} costs for '{label}', which has "
                               f"{len(d.options)} {what}s ({', '.join(map(str, d.options))})", Loc(path=label))
        extra = sorted(set(self.costs) - set(needed))
        if extra:
            raise NasError(f"cost table names '{extra[0]}', which is not a learnt choice of the model",
                           Loc(path=extra[0]))
        return self

    def tensor(self, label: str, like: torch.Tensor) -> torch.Tensor:
        """The costs of ``label`` as a tensor on ``like``'s device and dtype."""
        key = (label, like.device, like.dtype)
        if key not in self._tensors:
            self._tensors[key] = torch.tensor(self.costs[label], device=like.device, dtype=like.dtype)
        return self._tensors[key]

    def expected(self, probs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``base + sum_l probs[l] . costs[l]`` over the labels of ``probs``."""
        total = None
        for label, p in probs.items():
            term = (p[:len(self.costs[label])] * self.tensor(label, p)).sum()
            total = term if total is None else total + term
        return (total if total is not None else torch.tensor(0.0)) + self.base

    def of_arch(self, sample: Mapping, decisions: Mapping) -> float:
        """The cost of one architecture: ``base`` plus the chosen candidate's cost of every
        label (``sample`` maps each layer-choice label to a candidate name of ``decisions``)."""
        return self.base + sum(values[decisions[label].options.index(sample[label])]
                               for label, values in self.costs.items())

    def to_dict(self) -> dict:
        return {"costs": {k: list(v) for k, v in self.costs.items()}, "base": self.base, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: Mapping) -> "CostTable":
        """Either ``{"costs": {...}, "base": ..., "unit": ...}`` or a bare ``{label: [...]}``."""
        if "costs" in data and isinstance(data["costs"], Mapping):
            return cls(data["costs"], data.get("base", 0.0), data.get("unit", ""))
        return cls(dict(data))

    # --- building tables ------------------------------------------------------------------
    @classmethod
    def from_space(cls, space, metric: str = "flops") -> "CostTable":
        """Each candidate's cost in a compiled space (``metric`` "flops": multiply-accumulates for
        one sample, or "params"), from the op registry's ``cost`` rule over ``space.graph`` (the
        fixed networks, as :func:`~nascompile.passes.freeze.fixed_summary` counts them).

        A candidate costs the ops of its region, summed over every layer-choice node carrying
        its label; everything outside the layer choices is ``base``. Input choices are free and
        count all their candidates' edges (in DARTS every edge is trained; a fixed network keeps
        ``n_chosen`` of them)."""
        if metric not in ("flops", "params"):
            raise NasError(f"cost table: metric is 'flops' or 'params', got {metric!r}", Loc())
        column = 1 if metric == "flops" else 0
        graph = space.graph
        ops = getattr(space, "ops", None)
        default = {label: (d.domain()[-1] if d.kind == "input" else max(d.options) if d.kind == "depth"
                           else d.options[0]) for label, d in graph.decisions.items()}
        costs: dict[str, list[float]] = {}
        base = _graph_cost(graph, ops, column, default, costs)
        # a value or depth choice scales everything it touches, so its row is a first-order
        # one: the network's cost with that choice at each value and the others at their default
        # (shifted so its cheapest value costs 0: the table's costs are non-negative)
        for label, d in graph.decisions.items():
            if d.kind in ("value", "depth"):
                row = [_graph_cost(graph, ops, column, {**default, label: v}, {}) - base for v in d.options]
                low = min(row)
                costs[label] = [c - low for c in row]
                base += low
        ordered = {label: costs[label] for label, d in graph.decisions.items() if label in costs}
        return cls(ordered, base, "MACs" if metric == "flops" else "parameters")

    @classmethod
    def measure(cls, model: nn.Module, *inputs, repeats: int = 10, warmup: int = 2) -> "CostTable":
        """Measured latency of every candidate, in microseconds (median of ``repeats`` runs, in
        eval mode, without autograd), each on the input its layer choice receives when
        ``model(*inputs)`` runs. A mutator must be attached (any: the inputs are what the
        current architecture feeds the choice). ``base`` is 0: the table ranks candidates.
        """
        captured: dict = {}
        handles = []
        for module in model.modules():
            if isinstance(module, LayerChoice):
                def hook(m, args, kwargs, captured=captured):
                    captured.setdefault(id(m), (m, args, kwargs))
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(*inputs)
                costs: dict[str, list[float]] = {}
                for m, args, kwargs in captured.values():
                    if m.label is None:
                        raise NasError("CostTable.measure: the model's layer choices have no labels",
                                       MODEL, hint="attach a mutator before measuring")
                    times = [_median_time(c, args, kwargs, repeats, warmup) for c in m.candidates]
                    old = costs.get(m.label)
                    costs[m.label] = times if old is None else [a + b for a, b in zip(old, times)]
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)
        return cls(costs, 0.0, "us")


def _median_time(module: nn.Module, args, kwargs, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        module(*args, **kwargs)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        module(*args, **kwargs)
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return times[len(times) // 2]


def _graph_cost(graph, ops, column: int, default: dict, table: dict) -> float:
    """Cost of ``graph`` outside its layer choices; the choices' candidates go into ``table``."""
    from ..ops.registry import Args, get_op

    total = 0.0
    for node in graph:
        if node.kind == "call":
            op = (ops or {}).get(node.target) or get_op(node.target)
            shapes = [graph.nodes[i].shape for i in node.inputs]
            x = shapes[0] if op.arity == (1, 1) else shapes
            args = Args({k: evaluate(v, default) for k, v in node.args})
            out = node.shape
            if labels_of((x, out)):
                x, out = evaluate(x, default), evaluate(out, default)
            total += float(op.cost(x, out, args)[column])
        elif node.kind == "cell":
            total += _graph_cost(node.regions[0], ops, column, default, table)
        elif node.kind == "repeat":
            depth = default.get(node.target, len(node.regions)) if node.target is not None else node.kwargs["depths"][0]
            for region in node.regions[:depth]:
                total += _graph_cost(region, ops, column, default, table)
        elif node.kind == "layer_choice":
            row = [_graph_cost(region, ops, column, default, table) for region in node.regions]
            old = table.get(node.target)
            table[node.target] = row if old is None else [a + b for a, b in zip(old, row)]
    return total


def proxyless_loss(ce: torch.Tensor, expected_cost: torch.Tensor, ref: float, loss_type: str = "mul_log",
                   alpha: float = 0.2, beta: float = 0.3, lam: float = 0.1) -> torch.Tensor:
    """ProxylessNAS's architecture loss (module docstring): ``mul_log`` is
    ``alpha * ce * (log(E) / log(ref)) ** beta``, ``add`` is ``ce + lam * (E - ref) / ref``.

    >>> proxyless_loss(torch.tensor(2.0), torch.tensor(100.0), 100.0, "add").item()
    2.0
    """
    if loss_type == "mul_log":
        if not ref > 1 or not float(expected_cost.detach()) > 1:
            raise NasError(f"mul_log needs costs above 1 (log of the cost > 0), got expected {float(expected_cost.detach()):g} "
                           f"and ref {ref:g}", MODEL, hint="use a smaller unit (e.g. microseconds) or loss_type='add'")
        return alpha * ce * (torch.log(expected_cost) / math.log(ref)) ** beta
    if loss_type == "add":
        return ce + lam * (expected_cost - ref) / ref
    raise NasError(f"unknown loss_type {loss_type!r} (one of: {', '.join(LOSS_TYPES)})", MODEL)


def alpha_probs(mutator) -> dict[str, torch.Tensor]:
    """``softmax(alpha)`` over the real candidates of every layer choice, with gradient."""
    out = {}
    for label, a in mutator.alpha.items():
        n = len(mutator.decisions[label].options)
        out[label] = F.softmax(a, -1)[:n]
    return out


def resolve_cost_table(trainer, table) -> CostTable:
    """The cost table a trainer searches with: a :class:`CostTable`, a dict (see
    :meth:`CostTable.from_dict`), ``"flops"`` / ``"params"`` of a compiled supernet (a model with
    ``graph`` and ``ops``, e.g. :func:`~nascompile.backends.supernet.build_supernet`), or
    ``"latency"``: measured on one sample of the first training batch. None picks ``"flops"``
    for a compiled supernet and ``"latency"`` otherwise. Checked against the mutator's layer
    choices."""
    model = trainer.model
    compiled = hasattr(model, "graph") and hasattr(model, "ops")
    if table is None:
        table = "flops" if compiled else "latency"
    if isinstance(table, str):
        if table in ("flops", "params"):
            if not compiled:
                raise NasError(f"a '{table}' cost table needs a compiled supernet (build_supernet); this model "
                               f"is hand-written", MODEL, hint="pass cost_table='latency' or a table of your own")
            table = CostTable.from_space(model, table)
        elif table == "latency":
            x = trainer.train_batch(0, 0)[0]
            table = CostTable.measure(model, x[:1])
        else:
            raise NasError(f"unknown cost table {table!r} (a CostTable, a dict, 'flops', 'params' or 'latency')",
                           MODEL)
    elif isinstance(table, Mapping):
        table = CostTable.from_dict(table)
    elif not isinstance(table, CostTable):
        raise NasError(f"a cost table is a CostTable, a dict or a name, got {type(table).__name__}", MODEL)
    return table.check(trainer.mutator.decisions, trainer.mutator.alpha)


def uniform_probs(mutator) -> dict[str, torch.Tensor]:
    return {label: torch.full((len(mutator.decisions[label].options),), 1.0 / len(mutator.decisions[label].options))
            for label in mutator.alpha}


class ProxylessTrainer(ArchTrainer):
    """ProxylessNAS (module docstring). Arguments beyond :class:`~nascompile.oneshot.trainer.OneShotTrainer`'s:

    cost_table         a :class:`CostTable`, a dict, or "flops" / "params" / "latency"
                       (:func:`resolve_cost_table`; default: FLOPs of a compiled supernet,
                       measured latency of a hand-written model)
    loss_type          "mul_log" (the paper's default) or "add"
    ref_value          the reference cost (default: the expected cost under uniform alpha)
    reg_alpha, reg_beta  mul_log's factor and exponent (paper: 0.2 and 0.3)
    reg_lambda         add's factor (paper: 0.1)
    warmup_epochs      epochs that train weights only (paper: 40 of 120; here 0)
    arc_learning_rate  Adam's learning rate for alpha (paper: 1e-3), betas (0, 0.999), no weight decay
    """

    algorithm = "proxyless"
    valid_fraction = 0.5

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 cost_table=None, loss_type: str = "mul_log", ref_value: float | None = None,
                 reg_alpha: float = 0.2, reg_beta: float = 0.3, reg_lambda: float = 0.1, warmup_epochs: int = 0,
                 arc_learning_rate: float = 1e-3, arc_betas=(0.0, 0.999), arc_weight_decay: float = 0.0, **kwargs):
        if loss_type not in LOSS_TYPES:
            raise NasError(f"unknown loss_type {loss_type!r} (one of: {', '.join(LOSS_TYPES)})", Loc("<trainer>"))
        self.loss_type = loss_type
        self.reg_alpha, self.reg_beta, self.reg_lambda = float(reg_alpha), float(reg_beta), float(reg_lambda)
        self.warmup_epochs = int(warmup_epochs)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         arc_learning_rate=arc_learning_rate, arc_betas=arc_betas,
                         arc_weight_decay=arc_weight_decay, **kwargs)
        self.cost_table = resolve_cost_table(self, cost_table)
        self.ref_value = float(ref_value) if ref_value is not None else \
            float(self.cost_table.expected(uniform_probs(self.mutator)))

    def build_mutator(self):
        return BinaryGateMutator(self.model, seed=self.seed)

    def expected_cost(self) -> torch.Tensor:
        """``E[cost]`` under softmax(alpha), differentiable in alpha."""
        return self.cost_table.expected(alpha_probs(self.mutator))

    def arch_loss(self, ce: torch.Tensor) -> torch.Tensor:
        return proxyless_loss(ce, self.expected_cost(), self.ref_value, self.loss_type,
                              self.reg_alpha, self.reg_beta, self.reg_lambda)

    def train_step(self, epoch: int, step: int) -> dict:
        values = self.weight_step(self.train_batch(epoch, step))
        if epoch < self.warmup_epochs:
            return values
        x, y = self.valid_batch(epoch, step)
        loss = self.arch_loss(self.loss(self.model(x), y))
        self.arch_update(self.arch_grads(loss))
        return {**values, "arch_loss": loss.item(), "expected_cost": float(self.expected_cost().detach())}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "cost_table": self.cost_table.to_dict(), "ref_value": self.ref_value}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        if "cost_table" in state:  # a measured table differs run to run: keep the run's own
            self.cost_table = CostTable.from_dict(state["cost_table"]).check(self.mutator.decisions, self.mutator.alpha)
        if "ref_value" in state:
            self.ref_value = float(state["ref_value"])
