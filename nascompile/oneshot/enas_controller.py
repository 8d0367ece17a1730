"""The ENAS controller: one LSTM over a model's decisions (see :mod:`.enas`), and the mode a
reward is computed in.

Example::

    controller = EnasController(mutator.decisions, tanh_constant=1.5)
    sample, log_prob, entropy, skip_penalty = controller.sample(torch.Generator().manual_seed(0))
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import Loc, NasError
from ..ir.graph import Decision

__all__ = ["EnasController", "reward_mode"]


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
