"""Single-Path NAS (Stamoulis, Ding, Wang, Lymberopoulos, Priyantha, Liu & Marculescu, 2019).

One superkernel per searchable op, the choice encoded in its weights: trainable thresholds on
the norms of the kernel's outer parts decide whether a 5x5 kernel keeps its ring around the
centred 3x3, whether an expansion of 6 keeps the hidden channels that one of 3 lacks, whether a
block runs at all (:class:`~.threshold.ThresholdMutator`: hard indicators forward, their sigmoid
gradient backward). The network runs one path — the superkernel with the indicators applied —
and weights and thresholds train together, on the same training batch, with one loss::

    L = CE + lambda * log(E[cost])                       (lambda = 0.02 after the warm-up)

``E[cost] = base + sum_l sum_j w_lj c_lj`` is the cost of the selected architecture in the
IR's cost model (:func:`first_order_costs`: each option's cost, the others fixed, from the op
registry's FLOPs rules; ``cost_table="params"`` counts parameters), and ``w_lj`` the option
weights of the very forward that ran (the indicators' products, differentiable through the
sigmoids). A hand-written model without IR has no cost term unless ``cost_table`` is given
(a :class:`~.proxyless.CostTable`, a dict ``label -> cost per option``, or ``"latency"``:
measured). For spaces whose layer choices are not merged into superkernels (``choice(...,
share=true)``), those choices are decided by learnt logits with the same hard-forward,
relaxed-backward rule (:mod:`.threshold`), input choices as in DARTS.

Paper defaults (ImageNet, MobileNetV2-like space of 3x3/5x5 kernels, expansion 3/6, skip):
8 epochs of search at batch size 1024; RMSProp (decay 0.9, momentum 0.9, epsilon 1e-3) at lr
0.016 per 256 images with exponential decay, weight decay 1e-5 except batch norm, label
smoothing 0.1; thresholds start at 0 and train with the weights; the first 5 epochs are a
warm-up without the runtime term during which each indicator is dropped with probability 0.4;
lambda 0.02 on the log of the runtime in ms (the runtime model is per-block and additive, as
here). Here the weights take the user's optimizer, the thresholds and logits RMSProp with the
paper's decay, momentum and epsilon; the thresholds' learning rate (``arc_learning_rate``) is
1e-3 rather than 0.016 because they are per weight here (:mod:`.threshold`: a region of ``n``
weights has a per-weight norm ``sqrt(n)`` times smaller than the paper's), the logits' the
paper's 0.016 (``logit_learning_rate``). ``warmup_epochs``
defaults to 5/8 of the search.

Example::

    text = Path("examples/proxyless.yaml").read_text().replace(
        "k7_e6=mb_conv(out, 7, 6, stride))", "k7_e6=mb_conv(out, 7, 6, stride), share=true)")
    space = compile_text(text, "proxyless.yaml", {"classes": 10})
    model = build_supernet(space)
    trainer = SinglePathNasTrainer(model, nn.CrossEntropyLoss(), accuracy,
                                   torch.optim.RMSprop(model.parameters(), 0.016, alpha=0.9, momentum=0.9),
                                   num_epochs=8, dataset_train=train, dataset_valid=valid, space=space)
    trainer.train()
    trainer.export(file="arch.json")
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch

from ..errors import Loc, NasError
from .darts import ArchTrainer
from .proxyless import CostTable
from .random_search import ir_cost_function
from .threshold import ThresholdMutator

__all__ = ["SinglePathNasTrainer", "first_order_costs", "reference_sample"]


def reference_sample(decisions: Mapping) -> dict:
    """Where :func:`first_order_costs` takes its differences: every layer choice at its first
    candidate, every value and depth choice at its largest, every input choice with all of its
    candidates (the widest subset allowed)."""
    ref = {}
    for label, d in decisions.items():
        if d.kind == "input":
            ref[label] = d.domain()[-1]
        elif d.kind in ("value", "depth") and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in d.options):
            ref[label] = max(d.options)
        else:
            ref[label] = d.options[0]
    return ref


def first_order_costs(cost: Callable, decisions: Mapping, labels, metric: str = "flops") -> CostTable:
    """A :class:`~.proxyless.CostTable` of ``labels`` (layer, value and depth choices): option
    ``o`` of ``l`` costs ``cost(ref with l = o) - cost(ref)`` (shifted so that each row's
    cheapest option costs 0, the shift going into ``base``), ``cost(sample) -> {"params",
    "flops"}`` being the IR's (:func:`~.random_search.ir_cost_function`). Exact for one choice
    at a time; a first-order model of their interactions (a width multiplier scales what every
    block costs), as the per-block runtime model of the paper is."""
    ref = reference_sample(decisions)
    base = float(cost(ref)[metric])
    costs = {}
    for label in labels:
        row = [float(cost({**ref, label: o})[metric]) - base for o in decisions[label].options]
        low = min(row)
        costs[label] = [c - low for c in row]
        base += low
    return CostTable(costs, max(base, 0.0), "MACs" if metric == "flops" else "parameters")


class SinglePathNasTrainer(ArchTrainer):
    """Single-Path NAS (module docstring). Arguments beyond
    :class:`~nascompile.oneshot.trainer.OneShotTrainer`'s:

    cost_table         "flops" (default) or "params" from the IR, "latency" (measured), a
                       :class:`~.proxyless.CostTable` or dict, or None (no cost term)
    cost_lambda        the factor of ``log(E[cost])`` (paper: 0.02)
    warmup_epochs      epochs without the cost term and with ``gate_dropout`` (default: 5/8 of
                       ``num_epochs``, the paper's 5 of 8)
    gate_dropout       the probability of dropping each indicator during the warm-up (paper: 0.4)
    arc_learning_rate  RMSProp's learning rate for the thresholds (1e-3; module docstring)
    logit_learning_rate  RMSProp's learning rate for the logits of the choices without a
                       superkernel (0.016: the paper's base rate)
    """

    algorithm = "single-path-nas"
    mutator_type = ThresholdMutator

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 cost_table="flops", cost_lambda: float = 0.02, warmup_epochs: int | None = None,
                 gate_dropout: float = 0.4, arc_learning_rate: float = 1e-3,
                 logit_learning_rate: float = 0.016, **kwargs):
        if not 0.0 <= gate_dropout < 1.0:
            raise NasError(f"gate_dropout must be in [0, 1), got {gate_dropout!r}", Loc("<trainer>"))
        if not (isinstance(cost_lambda, (int, float)) and cost_lambda >= 0):
            raise NasError(f"cost_lambda must be a number >= 0, got {cost_lambda!r}", Loc("<trainer>"))
        self.gate_dropout, self.cost_lambda = float(gate_dropout), float(cost_lambda)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         arc_learning_rate=arc_learning_rate, **kwargs)
        self.warmup_epochs = (int(num_epochs * 5 / 8) if warmup_epochs is None else int(warmup_epochs))
        groups = [{"params": list(self.mutator.thresholds.values()), "lr": arc_learning_rate},
                  {"params": list(self.mutator.alpha.values()), "lr": logit_learning_rate}]
        self.arch_optimizer = torch.optim.RMSprop([g for g in groups if g["params"]], lr=arc_learning_rate,
                                                  alpha=0.9, eps=1e-3, momentum=0.9)
        self.cost_table = self._resolve_costs(cost_table)

    def build_mutator(self):
        return ThresholdMutator(self.model, seed=self.seed, gate_dropout=self.gate_dropout)

    def _learnt(self) -> set:
        return set(self.mutator.alpha) | set(self.mutator.thresholds)

    def _resolve_costs(self, table) -> CostTable | None:
        if table is None:
            return None
        learnt = self._learnt()
        if isinstance(table, str) and table in ("flops", "params"):
            cost = ir_cost_function(self.model, self.space)
            if cost is None:
                if table == "flops" and not self.mutator.thresholds:
                    return None  # a hand-written model: no cost model unless one is given
                raise NasError(f"a '{table}' cost needs the IR of the space (space=... or a compiled supernet)",
                               Loc("<trainer>"), hint="pass cost_table=None, 'latency' or a table of your own")
            labels = [label for label, d in self.mutator.decisions.items() if label in learnt]
            table = first_order_costs(cost, self.mutator.decisions, labels, table)
        elif table == "latency":
            table = CostTable.measure(self.model, self.train_batch(0, 0)[0][:1])
        elif isinstance(table, Mapping):
            table = CostTable.from_dict(table)
        elif not isinstance(table, CostTable):
            raise NasError(f"unknown cost table {table!r} (a CostTable, a dict, 'flops', 'params', 'latency' or None)",
                           Loc("<trainer>"))
        return table.check(self.mutator.decisions, learnt)

    def expected_cost(self, drawn: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``base + sum_l drawn[l] . costs[l]``: the cost of the architecture a forward ran."""
        return self.cost_table.expected({label: w for label, w in drawn.items() if label in self.cost_table.costs})

    def cost_factor(self, epoch: int) -> float:
        """lambda of ``epoch``: 0 during the warm-up, then ``cost_lambda``."""
        return 0.0 if epoch < self.warmup_epochs else self.cost_lambda

    def train_step(self, epoch: int, step: int) -> dict:
        self.mutator.gate_dropout = self.gate_dropout if epoch < self.warmup_epochs else 0.0
        x, y = self.train_batch(epoch, step)
        self.optimizer.zero_grad()
        self.arch_optimizer.zero_grad(set_to_none=True)
        self.mutator.drawn = {}
        self.mutator.recording = self.cost_table is not None
        try:
            out = self.network(x)
        finally:
            self.mutator.recording = False
        ce = self.loss(out, y)
        loss, values = ce, {}
        if self.cost_table is not None:
            cost = self.expected_cost(self.mutator.drawn_weights())
            lam = self.cost_factor(epoch)
            if lam:
                loss = ce + lam * torch.log(cost.clamp_min(1e-12))
            values = {"cost": float(cost.detach()), "cost_lambda": lam}
        self.mutator.drawn = {}
        loss.backward()
        self.clip_gradients(self.model.parameters())
        self.optimizer.step()
        params = self.arch_parameters
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self.sync_grads(params)
        self.arch_optimizer.step()
        self.arch_optimizer.zero_grad(set_to_none=True)
        return {"loss": ce.item(), **self.compute_metrics(out, y), **values}

    def extra_state(self) -> dict:
        state = super().extra_state()
        if self.cost_table is not None:
            state["cost_table"] = self.cost_table.to_dict()
        return state

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        if "cost_table" in state:  # a measured table differs run to run: keep the run's own
            self.cost_table = CostTable.from_dict(state["cost_table"]).check(self.mutator.decisions, self._learnt())
