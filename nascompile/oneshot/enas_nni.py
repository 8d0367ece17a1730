"""NNI v1's ENAS mutator: a single-path mutator with the controller NNI's ``EnasMutator`` had.

:class:`EnasMutator` (``EnasMutator(model, lstm_size=64, lstm_num_layers=1, tanh_constant=1.5,
cell_exit_extra_step=False, skip_target=0.4, temperature=None, branch_bias=0.25,
entropy_reduction="sum")``) drives the model as :class:`~nascompile.nn.SinglePathMutator` does and
carries :class:`NniEnasController`, which samples the way NNI's did: one LSTM walks the model's
choices and :class:`~nascompile.nn.MutableScope` s in module order; a layer choice is one
softmax (logits ``tanh_constant * tanh(l / temperature)``, plus ``+branch_bias`` for the
``conv`` candidates and ``-branch_bias`` for the others of a choice whose key has ``reduce``);
an input choice attends over the *hidden states* its candidates' keys were left in: a scope's is
marked when the walk leaves the scope (after one extra LSTM step with
``cell_exit_extra_step``), a key seen first in ``choose_from`` (``NO_KEY`` included) gets one
LSTM step of its own. ``n_chosen=None`` draws each candidate as a skip (penalised towards
``skip_target``), ``n_chosen=1`` one candidate. The log-probability and NNI's entropy estimate
(``-log p * p`` of the drawn options) are summed (``entropy_reduction="mean"``: averaged per
input choice).

Differences from NNI, on purpose: each choice has its own output layer and embeddings (NNI
shared one, which made every layer choice need the same number of candidates), the draws come
from the trainer's seeded generator, and :meth:`~.enas.EnasTrainer.export` takes the most likely
architecture where NNI exported one more random draw. Input choices with ``n_chosen`` above 1
are refused, as NNI refused them.

Example::

    mutator = EnasMutator(model, tanh_constant=1.1, cell_exit_extra_step=True)
    trainer = EnasTrainer(model, loss, metrics, reward, optimizer, 150, train, test, mutator=mutator)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import Loc, NasError
from ..nn import LayerChoice, Mutable, MutableScope, SinglePathMutator

__all__ = ["EnasMutator", "NniEnasController", "walk"]


def walk(model: nn.Module, space) -> list[tuple[str, str]]:
    """NNI's walk of the search space: ``("choice", label)`` for each label's first mutable and
    ``("exit", scope key)`` after the last module of each scope, in module order."""
    label_of = {id(e.module): e.label for e in space.entries}
    events, seen, scopes = [], set(), []
    for path, module in model.named_modules():
        while scopes and not path.startswith(scopes[-1][0] + "."):
            events.append(("exit", scopes.pop()[1]))
        if isinstance(module, MutableScope):
            scopes.append((path, module.key))
        elif isinstance(module, Mutable) and id(module) in label_of and label_of[id(module)] not in seen:
            seen.add(label_of[id(module)])
            events.append(("choice", label_of[id(module)]))
    events.extend(("exit", key) for _, key in reversed(scopes))
    return events


class NniEnasController(nn.Module):
    """NNI's ENAS controller over ``space`` (a :class:`~nascompile.nn.ModelSpace` of ``model``);
    ``sample()`` as :class:`~.enas_controller.EnasController`'s (module docstring)."""

    def __init__(self, model: nn.Module, space, lstm_size: int = 64, lstm_num_layers: int = 1,
                 tanh_constant: float | None = 1.5, cell_exit_extra_step: bool = False, skip_target: float = 0.4,
                 temperature: float | None = None, branch_bias: float = 0.25, entropy_reduction: str = "sum"):
        super().__init__()
        if entropy_reduction not in ("sum", "mean"):
            raise NasError(f"entropy_reduction is 'sum' or 'mean', got {entropy_reduction!r}", Loc("<trainer>"))
        if not space.decisions:
            raise NasError("the model has no decisions: there is nothing for ENAS to search", Loc("<model>"))
        self.decisions = dict(space.decisions)
        self.events = walk(model, space)
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.cell_exit_extra_step, self.reduce = bool(cell_exit_extra_step), entropy_reduction
        self.lstm = nn.LSTM(lstm_size, lstm_size, lstm_num_layers, bias=False)
        self.g_emb = nn.Parameter(torch.randn(1, lstm_size) * 0.1)
        self.register_buffer("skip_targets", torch.tensor([1.0 - skip_target, skip_target]))
        self.attn_anchor = nn.Linear(lstm_size, lstm_size, bias=False)
        self.attn_query = nn.Linear(lstm_size, lstm_size, bias=False)
        self.v_attn = nn.Linear(lstm_size, 1, bias=False)
        self.soft, self.embed = nn.ModuleDict(), nn.ModuleDict()
        self.sources: dict[str, list[str]] = {}
        self.key_of = {}
        for i, (label, d) in enumerate(self.decisions.items()):
            self.key_of[label] = f"d{i}"
            if d.kind == "input":
                if d.n_chosen not in (None, 1):
                    raise NasError(f"ENAS input choice '{label}' chooses {d.n_chosen}: NNI's controller takes "
                                   f"exactly one or any", Loc("<model>", path=label))
                entry = next(e for e in space.entries if e.label == label)
                self.sources[label] = list(entry.module.sources)
            else:
                self.soft[f"d{i}"] = nn.Linear(lstm_size, len(d.options), bias=False)
                self.embed[f"d{i}"] = nn.Embedding(len(d.options), lstm_size)
        for label, d in self.decisions.items():  # NNI's branch bias: conv ops of "reduce" choices
            entry = next(e for e in space.entries if e.label == label)
            bias = None
            if isinstance(entry.module, LayerChoice) and "reduce" in (entry.module.key or ""):
                bias = torch.tensor([branch_bias if "conv" in str(type(c)).lower() else -branch_bias
                                     for c in entry.module.candidates])
            self.register_buffer(f"bias_{self.key_of[label]}", bias)

    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def _draw(self, probs: torch.Tensor, generator, greedy: bool) -> torch.Tensor:
        if greedy:
            return probs.argmax(-1).view(-1)
        return torch.multinomial(probs.detach().cpu(), 1, generator=generator).view(-1).to(probs.device)

    def sample(self, generator: torch.Generator | None = None, greedy: bool = False, probs: dict | None = None):
        """``(sample, log probability, entropy, skip penalty)``: one walk (module docstring);
        ``probs``, when given, receives each choice's option probabilities."""
        state = {"x": self.g_emb.unsqueeze(0), "hidden": None, "h": torch.zeros_like(self.g_emb)}
        anchors: dict[str, torch.Tensor] = {}
        log_prob = entropy = skip_penalty = torch.zeros((), device=self.g_emb.device)
        sample: dict = {}

        def step():
            out, state["hidden"] = self.lstm(state["x"], state["hidden"])
            state["h"] = out[0]

        def add(ce: torch.Tensor):
            nonlocal log_prob, entropy
            reduce = torch.sum if self.reduce == "sum" else torch.mean
            log_prob = log_prob - reduce(ce)
            entropy = entropy + reduce((ce * torch.exp(-ce)).detach())

        for kind, name in self.events:
            if kind == "exit":
                if name not in anchors:
                    if self.cell_exit_extra_step:
                        step()
                    anchors[name] = state["h"]
                continue
            d, key = self.decisions[name], self.key_of[name]
            if d.kind != "input":
                step()
                logits = self._shape(self.soft[key](state["h"]))
                bias = getattr(self, f"bias_{key}")
                if bias is not None:
                    logits = logits + bias
                p = F.softmax(logits, -1)
                k = self._draw(p, generator, greedy)
                add(F.cross_entropy(logits, k, reduction="none"))
                sample[name] = d.options[int(k)]
                state["x"] = self.embed[key](k).unsqueeze(0)
                if probs is not None:
                    probs[name] = p[0].tolist()
                continue
            for source in self.sources[name]:
                if source not in anchors:
                    step()
                    anchors[source] = state["h"]
            cands = torch.cat([anchors[s] for s in self.sources[name]], 0)  # (n, size)
            query = self._shape(self.v_attn(torch.tanh(self.attn_anchor(cands) + self.attn_query(state["h"]))))
            if d.n_chosen is None:
                logit = torch.cat([-query, query], 1)  # (n, 2): skip or not
                p = F.softmax(logit, -1)
                skip = self._draw(p, generator, greedy) if not greedy else (p[:, 1] > 0.5).long()
                q = torch.sigmoid(logit)
                skip_penalty = skip_penalty + torch.sum(q * torch.log(q / self.skip_targets))
                add(F.cross_entropy(logit, skip, reduction="none"))
                state["x"] = ((skip.float() @ cands) / (1.0 + skip.sum())).unsqueeze(0).unsqueeze(0)
                chosen = [j for j in range(len(d.options)) if int(skip[j])]
                if probs is not None:
                    probs[name] = p[:, 1].tolist()
            else:
                logit = query.view(1, -1)
                p = F.softmax(logit, -1)
                j = self._draw(p, generator, greedy)
                add(F.cross_entropy(logit, j, reduction="none"))
                state["x"] = cands[int(j)].view(1, 1, -1)
                chosen = [int(j)]
                if probs is not None:
                    probs[name] = p[0].tolist()
            sample[name] = tuple(o for i, o in enumerate(d.options) if i in chosen)
        return sample, log_prob, entropy, skip_penalty

    def probabilities(self) -> dict[str, list[float]]:
        """Each option's probability along the most likely walk."""
        probs: dict = {}
        with torch.no_grad():
            self.sample(greedy=True, probs=probs)
        return probs


class EnasMutator(SinglePathMutator):
    """NNI v1's ``EnasMutator``: single-path control of ``model`` plus the NNI controller
    (``self.controller``), which an :class:`~.enas.EnasTrainer` given this mutator trains."""

    def __init__(self, model: nn.Module, lstm_size: int = 64, lstm_num_layers: int = 1, tanh_constant: float = 1.5,
                 cell_exit_extra_step: bool = False, skip_target: float = 0.4, temperature: float | None = None,
                 branch_bias: float = 0.25, entropy_reduction: str = "sum", seed: int = 0):
        super().__init__(model, seed=seed)
        self.controller = NniEnasController(model, self.space, lstm_size, lstm_num_layers, tanh_constant,
                                            cell_exit_extra_step, skip_target, temperature, branch_bias,
                                            entropy_reduction)

    def parameters(self):
        """The controller's parameters (NNI's mutator was the controller module)."""
        return self.controller.parameters()
