"""ENAS (Pham, Guan, Zoph, Le & Dean, ICML 2018): an LSTM controller samples paths of one supernet.

Each epoch has two phases, both made of steps of :class:`~.base.OneShotTrainer`'s loop:

1. ``child_steps`` **child steps**: the controller samples an architecture (no gradient), the
   :class:`~nascompile.nn.SinglePathMutator` is set to it, and the shared weights take one step
   of the user's optimizer on a training batch (gradient norm clipped to ``grad_clip``).
2. ``ctrl_steps`` **controller updates** of ``ctrl_steps_aggregate`` samples each: every sample
   is run on one validation batch (BatchNorm on batch statistics, running statistics untouched,
   dropout off) and scored by ``reward_function(output, target)``; the reward, plus
   ``entropy_weight`` times the sample's entropy, updates a moving-average baseline
   ``b <- baseline_decay * b + (1 - baseline_decay) * reward`` (started at the first reward) and
   the REINFORCE loss ``-log p(arch) * (reward - b) + skip_weight * KL(skips || skip_target)``
   is averaged over the aggregate before one Adam step (``ctrl_lr``).

The controller (:class:`EnasController`) is one LSTM over the decisions in label order: a layer,
value or depth choice is one softmax over its options (logits ``tanh_constant * tanh(l /
temperature)``) whose chosen option's embedding is the next input; an input choice scores each
candidate by attention (``v . tanh(W_a anchor_j + W_q h)``): ``n_chosen=None`` makes each
candidate an independent Bernoulli draw (a "skip connection", penalised towards ``skip_target``),
``n_chosen=k`` draws ``k`` distinct candidates one after another from a softmax. It lives on the
CPU and draws from its own seeded generator, so a run is reproducible and resumable.

:meth:`EnasTrainer.export` gives the controller's most likely architecture (argmax of every
softmax, Bernoulli probabilities > 0.5, the top ``k`` inputs), not a random sample.

Paper defaults (CIFAR-10 macro/micro search; NNI uses the same): controller LSTM of 64 units,
Adam lr 3.5e-4, ``tanh_constant`` 1.5 (2.5 macro), ``temperature`` 5 (micro), entropy weight
1e-4, ``baseline_decay`` 0.999, skip target 0.4 with weight 0.8, aggregate 20 samples per update,
50 updates per epoch; child model: SGD lr 0.05 (cosine), momentum 0.9, nesterov, weight decay
1e-4 (paper: 2.5e-4 micro), gradient clipping 5, batch size 128, 310 epochs, one pass over the
training data per epoch (NNI: 500 steps).

Example::

    trainer = EnasTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                          reward_function=lambda out, y: accuracy(out, y)["acc"],
                          optimizer=torch.optim.SGD(model.parameters(), 0.05, momentum=0.9),
                          num_epochs=10, dataset_train=train, dataset_valid=valid, batch_size=128)
    trainer.train()
    trainer.export(file="final_architecture.json")
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import Loc, NasError
from ..ir.graph import Decision
from ..nn import SinglePathMutator
from ..train import accuracy
from .trainer import OneShotTrainer

__all__ = ["EnasTrainer", "EnasController", "default_reward"]


def default_reward(loss: Callable) -> Callable:
    """Accuracy for class-index targets, else the negative loss."""
    def reward(output, target) -> float:
        if not target.is_floating_point():
            return accuracy(output, target)["acc"]
        return -float(loss(output, target))
    return reward


class EnasController(nn.Module):
    """The ENAS policy over ``decisions`` (label -> :class:`Decision`); see the module docstring.

    :meth:`sample` returns ``(canonical sample, log probability, entropy, skip penalty)``, the
    last three as tensors with gradients.
    """

    def __init__(self, decisions: Mapping[str, Decision], lstm_size: int = 64, lstm_num_layers: int = 1,
                 tanh_constant: float | None = 1.5, temperature: float | None = None, skip_target: float = 0.4):
        super().__init__()
        if not decisions:
            raise NasError("the model has no decisions: there is nothing for ENAS to search", Loc("<model>"))
        if not 0.0 < skip_target < 1.0:
            raise NasError(f"skip_target must be in (0, 1), got {skip_target!r}", Loc("<trainer>"))
        self.decisions = dict(decisions)
        self.labels = list(self.decisions)
        self.lstm_size = lstm_size
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.skip_target = skip_target
        self.lstm = nn.LSTM(lstm_size, lstm_size, lstm_num_layers)
        self.g_emb = nn.Parameter(1e-1 * torch.randn(1, lstm_size))
        self.soft = nn.ModuleDict()      # d{i}: option logits of a layer/value/depth choice
        self.embed = nn.ModuleDict()     # d{i}: option embeddings (the next input)
        self.anchors = nn.ModuleDict()   # d{i}: candidate embeddings of an input choice
        for i, (label, d) in enumerate(self.decisions.items()):
            if d.kind == "input":
                self.anchors[f"d{i}"] = nn.Embedding(len(d.options), lstm_size)
            else:
                self.soft[f"d{i}"] = nn.Linear(lstm_size, len(d.options), bias=False)
                self.embed[f"d{i}"] = nn.Embedding(len(d.options), lstm_size)
        self.attn_anchor = nn.Linear(lstm_size, lstm_size, bias=False)
        self.attn_query = nn.Linear(lstm_size, lstm_size, bias=False)
        self.v_attn = nn.Linear(lstm_size, 1, bias=False)
        for p in self.parameters():
            if p is not self.g_emb:
                nn.init.uniform_(p, -0.1, 0.1)

    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature:
            logits = logits / self.temperature
        if self.tanh_constant:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def sample(self, generator: torch.Generator | None = None, greedy: bool = False):
        """One architecture: drawn with ``generator``, or the most likely one with ``greedy``."""
        device = self.g_emb.device
        x = self.g_emb.unsqueeze(0)  # (seq 1, batch 1, size)
        hidden = None
        log_prob = torch.zeros((), device=device)
        entropy = torch.zeros((), device=device)
        skip_penalty = torch.zeros((), device=device)
        sample: dict = {}
        t = self.skip_target
        for i, (label, d) in enumerate(self.decisions.items()):
            out, hidden = self.lstm(x, hidden)
            h = out[0]  # (1, size)
            key = f"d{i}"
            if d.kind != "input":
                logits = self._shape(self.soft[key](h))[0]
                log_p = F.log_softmax(logits, -1)
                k = int(log_p.argmax()) if greedy else int(torch.multinomial(log_p.exp().detach(), 1, generator=generator))
                log_prob = log_prob + log_p[k]
                entropy = entropy - (log_p.exp() * log_p).sum()
                sample[label] = d.options[k]
                x = self.embed[key](torch.tensor([k], device=device)).unsqueeze(0)
                continue
            anchors = self.anchors[key].weight  # (n, size)
            logits = self._shape(self.v_attn(torch.tanh(self.attn_anchor(anchors) + self.attn_query(h)))[:, 0])
            n = len(d.options)
            if d.n_chosen is None:
                p = torch.sigmoid(logits)
                if greedy:
                    chosen = (p > 0.5).detach()
                else:
                    chosen = torch.rand(n, generator=generator).to(device) < p.detach()
                log_prob = log_prob + torch.where(chosen, F.logsigmoid(logits), F.logsigmoid(-logits)).sum()
                entropy = entropy + F.binary_cross_entropy_with_logits(logits, p.detach(), reduction="sum")
                q = p.clamp(1e-6, 1 - 1e-6)
                skip_penalty = skip_penalty + (q * torch.log(q / t) + (1 - q) * torch.log((1 - q) / (1 - t))).sum()
                picked = [j for j in range(n) if bool(chosen[j])]
            else:
                picked = []
                mask = torch.zeros(n, dtype=torch.bool, device=device)
                for _ in range(d.n_chosen):
                    log_p = F.log_softmax(logits.masked_fill(mask, float("-inf")), -1)
                    probs = log_p.exp()
                    j = int(probs.argmax()) if greedy else int(torch.multinomial(probs.detach(), 1, generator=generator))
                    log_prob = log_prob + log_p[j]
                    entropy = entropy - (probs * log_p.masked_fill(mask, 0.0)).sum()
                    mask = mask.clone()
                    mask[j] = True
                    picked.append(j)
            sample[label] = tuple(o for j, o in enumerate(d.options) if j in set(picked))
            x = (anchors[sorted(picked)].mean(0, keepdim=True) if picked else torch.zeros_like(h)).unsqueeze(0)
        return sample, log_prob, entropy, skip_penalty

    def probabilities(self) -> dict[str, list[float]]:
        """Along the greedy path: each option's probability (layer/value/depth) or each
        candidate's inclusion probability (Bernoulli input choices; first pick for n_chosen)."""
        out: dict = {}
        with torch.no_grad():
            x = self.g_emb.unsqueeze(0)
            hidden = None
            sample = self.sample(greedy=True)[0]
            for i, (label, d) in enumerate(self.decisions.items()):
                o, hidden = self.lstm(x, hidden)
                h = o[0]
                key = f"d{i}"
                if d.kind != "input":
                    out[label] = F.softmax(self._shape(self.soft[key](h))[0], -1).tolist()
                    k = d.options.index(sample[label])
                    x = self.embed[key](torch.tensor([k], device=h.device)).unsqueeze(0)
                else:
                    anchors = self.anchors[key].weight
                    logits = self._shape(self.v_attn(torch.tanh(self.attn_anchor(anchors) + self.attn_query(h)))[:, 0])
                    out[label] = (torch.sigmoid(logits) if d.n_chosen is None else F.softmax(logits, -1)).tolist()
                    picked = [j for j, o in enumerate(d.options) if o in sample[label]]
                    x = (anchors[picked].mean(0, keepdim=True) if picked else torch.zeros_like(h)).unsqueeze(0)
        return out


@contextmanager
def reward_mode(model: nn.Module):
    """Eval mode (no dropout) except BatchNorm, which normalises with the batch's statistics
    without updating its running statistics; the previous modes are restored."""
    modes = {m: m.training for m in model.modules()}
    momenta = {}
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            momenta[m] = m.momentum
            m.momentum = 0.0
            m.train()
    try:
        yield
    finally:
        for m, mom in momenta.items():
            m.momentum = mom
        for m, training in modes.items():
            m.training = training


class EnasTrainer(OneShotTrainer):
    """ENAS: child steps on shared weights, then REINFORCE controller updates (module docstring).

    Arguments beyond :class:`~.base.OneShotTrainer`'s: ``reward_function(output, target) ->
    float`` (default: accuracy for class targets, else the negative loss), ``ctrl_lr``,
    ``entropy_weight``, ``skip_weight``, ``skip_target``, ``baseline_decay``,
    ``ctrl_steps_aggregate``, ``ctrl_steps`` (controller updates per epoch), ``child_steps``
    (weight steps per epoch; None: one pass over the training data), ``ctrl_kwargs`` (for
    :class:`EnasController`: ``lstm_size``, ``lstm_num_layers``, ``tanh_constant``,
    ``temperature``).
    """

    algorithm = "enas"
    # Short runs on small data (the constructor defaults are the paper's): the controller
    # updates more often and faster.
    cli_defaults = {"reward_function": None, "ctrl_steps": 5, "ctrl_steps_aggregate": 10, "ctrl_lr": 5e-3,
                    "baseline_decay": 0.9, "entropy_weight": 1e-3, "skip_weight": 0.1}

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, reward_function: Callable | None,
                 optimizer, num_epochs: int, dataset_train, dataset_valid, *args, entropy_weight: float = 1e-4,
                 skip_weight: float = 0.8, skip_target: float = 0.4, baseline_decay: float = 0.999,
                 ctrl_lr: float = 3.5e-4, ctrl_steps_aggregate: int = 20, ctrl_steps: int = 50,
                 child_steps: int | None = None, ctrl_kwargs: Mapping | None = None, grad_clip: float | None = 5.0,
                 **kwargs):
        for name, value in (("ctrl_steps_aggregate", ctrl_steps_aggregate), ("ctrl_steps", ctrl_steps)):
            if not isinstance(value, int) or value < (1 if name == "ctrl_steps_aggregate" else 0):
                raise NasError(f"{name} must be a {'positive' if name == 'ctrl_steps_aggregate' else 'non-negative'} "
                               f"int, got {value!r}", Loc("<trainer>"))
        if child_steps is not None and (not isinstance(child_steps, int) or child_steps < 0):
            raise NasError(f"child_steps must be an int >= 0 or None, got {child_steps!r}", Loc("<trainer>"))
        self.reward_function = reward_function or default_reward(loss)
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.ctrl_steps_aggregate = ctrl_steps_aggregate
        self.ctrl_steps = ctrl_steps
        self.child_steps = child_steps
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         grad_clip=grad_clip, **kwargs)
        self.controller = EnasController(self.mutator.decisions, skip_target=skip_target, **dict(ctrl_kwargs or {}))
        self.broadcast_(self.controller.parameters())
        self.ctrl_optim = torch.optim.Adam(self.controller.parameters(), lr=ctrl_lr)
        self.generator = torch.Generator().manual_seed(self.seed + 1)
        self.baseline: float | None = None

    def build_mutator(self):
        return SinglePathMutator(self.model, seed=self.seed)

    def _child_steps(self) -> int:
        return len(self.train_batches) if self.child_steps is None else self.child_steps

    def steps_per_epoch(self) -> int:
        return self._child_steps() + self.ctrl_steps * self.ctrl_steps_aggregate

    def train_step(self, epoch: int, step: int) -> dict:
        n_child = self._child_steps()
        if step < n_child:
            return self._child_step(epoch, step)
        return self._ctrl_step(epoch, step - n_child)

    def _child_step(self, epoch: int, k: int) -> dict:
        with torch.no_grad():
            sample = self.controller.sample(self.generator)[0]
        self.mutator.set_sample(sample)
        return self.path_step(epoch, k)

    def _ctrl_step(self, epoch: int, k: int) -> dict:
        self.controller.train()
        sample, log_prob, entropy, skip_penalty = self.controller.sample(self.generator)
        self.mutator.set_sample(sample)
        x, y = self.valid_batch(epoch, k)
        with torch.no_grad(), reward_mode(self.model):
            out = self.model(x)
            reward = float(self.reward_function(out, y))
        reward = self.all_mean({"reward": reward}, float(len(y)))["reward"]
        reward += self.entropy_weight * float(entropy.detach())
        if self.baseline is None:
            self.baseline = reward
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        ctrl_loss = -log_prob * (reward - self.baseline)
        if self.skip_weight:
            ctrl_loss = ctrl_loss + self.skip_weight * skip_penalty
        (ctrl_loss / self.ctrl_steps_aggregate).backward()
        if (k + 1) % self.ctrl_steps_aggregate == 0:
            self.sync_grads(self.controller.parameters())
            self.ctrl_optim.step()
            self.ctrl_optim.zero_grad()
        return {"reward": reward, "baseline": self.baseline, "ctrl_loss": float(ctrl_loss.detach()),
                "entropy": float(entropy.detach())}

    def export_sample(self) -> dict:
        """The controller's most likely architecture."""
        with torch.no_grad():
            return self.controller.sample(greedy=True)[0]

    def export_probs(self) -> dict[str, list[float]]:
        return self.controller.probabilities()

    def extra_state(self) -> dict:
        return {"controller": self.controller.state_dict(), "ctrl_optim": self.ctrl_optim.state_dict(),
                "generator": self.generator.get_state(), "baseline": self.baseline,
                "ctrl_grads": {n: p.grad.clone() for n, p in self.controller.named_parameters() if p.grad is not None}}

    def load_extra_state(self, state: dict) -> None:
        self.controller.load_state_dict(state["controller"])
        self.ctrl_optim.load_state_dict(state["ctrl_optim"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        grads = state.get("ctrl_grads") or {}
        for n, p in self.controller.named_parameters():
            p.grad = grads[n].clone() if n in grads else None
