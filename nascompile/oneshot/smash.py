"""SMASH (Brock, Lim, Ritchie & Weston, ICLR 2018): one-shot model architecture search through
hypernetworks.

A **hypernetwork** generates the weights of a sampled architecture from its encoding ``c``,
the flat decision vector (one-hot per layer, value and depth choice, multi-hot per input
choice, in label order; :func:`encode`)::

    h = tanh(W2 relu(W1 c))          W_p(c) = B_p + U_p h        (every kernel p of the supernet)

``B_p`` starts at the supernet's own initial kernel and ``U_p`` small, so a search starts from
an ordinary initialisation. The generated kernels replace the supernet's convolution and
linear kernels (parameters of rank >= 2) for that forward (``torch.func.functional_call``),
and the sampled architecture takes its slices of them as any single-path forward does (a 3x3
is the centre of the generated 5x5, a width of 16 the first 16 generated filters): one
hypernetwork serves every op, however its superkernels are shared. Batch-norm and bias
parameters stay ordinary ("static") weights, trained by the user's optimizer; the
hypernetwork by Adam. Each step draws an architecture uniformly
(:class:`~nascompile.nn.SinglePathMutator`), generates its weights and takes one step of
both on a training batch (distributed: the ranks draw the same architecture, one seed, and
average their gradients).

Search (after the last epoch): ``num_samples`` architectures drawn uniformly are scored on
the architecture's data with their generated weights (batch-norm statistics re-estimated on
``bn_batches`` training batches first) and the best is exported
(:class:`~.random_search.RandomTrainer`'s search, bounds included). :meth:`SmashTrainer.generated`
loads an architecture's generated weights into the model for any other use (``nascompile
rank`` scores with it).

Paper settings (CIFAR-100, its memory-bank space): Adam (lr 1e-3, betas (0.5, 0.999), eps
1e-4; weight decay 1e-4 on the static weights, none on the hypernetwork), cosine-annealed;
500 random architectures scored with generated weights, then the best perturbed; the chosen
architecture trained from scratch. The paper's hypernetwork is a convolutional net over a 3-D
embedding of its memory-bank reads and writes; here it is the two-layer trunk and linear heads
above, of width ``hidden`` and rank ``dim`` (the heads hold ``(dim + 1)`` times the supernet's
kernel weights).

Example::

    trainer = SmashTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                           optimizer=torch.optim.Adam(model.parameters(), 1e-3, betas=(0.5, 0.999)),
                           num_epochs=20, dataset_train=train, dataset_valid=valid, num_samples=500)
    trainer.train()
    trainer.export(file="arch.json")
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Mapping

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..nn import SinglePathMutator
from .random_search import RandomTrainer

__all__ = ["SmashTrainer", "HyperNet", "encode", "encoding_size"]


def encoding_size(decisions: Mapping) -> int:
    return sum(len(d.options) for d in decisions.values())


def encode(sample: Mapping, decisions: Mapping) -> torch.Tensor:
    """The flat decision vector of a canonical sample: per label (in the decisions' order) a
    one-hot of the chosen option, or for an input choice a multi-hot of the chosen inputs; a
    label the sample leaves out (unused) is all zeros.

    >>> from nascompile.ir.graph import Decision
    >>> encode({"op": "b", "w": 16}, {"op": Decision("op", "layer", ("a", "b")),
    ...                               "w": Decision("w", "value", (8, 16))}).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    out = []
    for label, d in decisions.items():
        value = sample.get(label)
        if d.kind == "input":
            chosen = set(value or ())
            out += [1.0 if o in chosen else 0.0 for o in d.options]
        else:
            out += [1.0 if (o == value and type(o) is type(value)) else 0.0 for o in d.options]
    return torch.tensor(out)


class HyperNet(nn.Module):
    """``c -> {name: kernel}`` for the kernels (parameters of rank >= 2) of ``model``: a trunk
    ``c -> h`` (``hidden`` units, ``dim`` outputs) and one linear head per kernel, its bias the
    model's kernel at construction (module docstring)."""

    def __init__(self, model: nn.Module, size: int, hidden: int = 64, dim: int = 8, init_scale: float = 0.1):
        super().__init__()
        kernels = [(name, p) for name, p in model.named_parameters() if p.dim() >= 2]
        if not kernels:
            raise NasError("SMASH: the model has no convolution or linear kernel to generate", Loc("<model>"))
        self.names = [name for name, _ in kernels]
        self.shapes = [tuple(p.shape) for _, p in kernels]
        self.trunk = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, dim), nn.Tanh())
        with torch.no_grad():
            base = torch.cat([p.detach().reshape(-1) for _, p in kernels])
            scale = torch.cat([torch.full((p.numel(),), float(p.detach().std()) if p.numel() > 1 else 1.0)
                               for _, p in kernels])
        self.bias = nn.Parameter(base.clone())
        self.heads = nn.Parameter(torch.randn(base.numel(), dim, generator=torch.Generator().manual_seed(0))
                                  * (scale * init_scale / dim ** 0.5).unsqueeze(1))

    def forward(self, c: torch.Tensor) -> dict:
        h = self.trunk(c)
        flat = self.bias + self.heads @ h
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            n = 1
            for s in shape:
                n *= s
            out[name] = flat[start:start + n].view(shape)
            start += n
        return out


class SmashTrainer(RandomTrainer):
    """SMASH (module docstring). Arguments beyond :class:`~.random_search.RandomTrainer`'s:

    hidden, dim        the hypernetwork's trunk width (64) and rank (8)
    hyper_lr           Adam's learning rate for the hypernetwork (paper: 1e-3; betas (0.5,
                       0.999), eps 1e-4, no weight decay)
    bn_batches         batch-norm recalibration before scoring (default 10 here)
    """

    algorithm = "smash"
    cli_defaults = {"num_samples": 30}  # short runs on small data

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 hidden: int = 64, dim: int = 8, hyper_lr: float = 1e-3, bn_batches: int = 10, **kwargs):
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         bn_batches=bn_batches, **kwargs)
        self.hypernet = HyperNet(self.model, encoding_size(self.mutator.decisions), hidden, dim).to(self.device)
        self.hyper_optimizer = torch.optim.Adam(self.hypernet.parameters(), lr=hyper_lr, betas=(0.5, 0.999),
                                                eps=1e-4)

    def build_mutator(self):
        return SinglePathMutator(self.model, seed=self.seed)

    def weights_of(self, sample: Mapping) -> dict:
        """The generated kernels of architecture ``sample`` (with gradient)."""
        return self.hypernet(encode(sample, self.mutator.decisions).to(self.device))

    @contextmanager
    def generated(self, sample: Mapping):
        """Within the block the model holds ``sample``'s generated kernels (restored after)."""
        with torch.no_grad():
            weights = self.weights_of(sample)
            params = dict(self.model.named_parameters())
            saved = {name: params[name].detach().clone() for name in weights}
            for name, w in weights.items():
                params[name].copy_(w)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, w in saved.items():
                    params[name].copy_(w)

    def train_step(self, epoch: int, step: int) -> dict:
        sample = self.mutator.resample()
        x, y = self.train_batch(epoch, step)
        self.optimizer.zero_grad(set_to_none=True)
        self.hyper_optimizer.zero_grad(set_to_none=True)
        out = torch.func.functional_call(self.model, self.weights_of(sample), (x,), strict=False)
        loss = self.loss(out, y)
        loss.backward()
        hyper = list(self.hypernet.parameters())
        static = [p for p in self.model.parameters() if p.grad is not None]
        self.sync_grads(hyper + static)
        self.clip_gradients(hyper + static)
        self.optimizer.step()
        self.hyper_optimizer.step()
        return {"loss": loss.item(), **self.compute_metrics(out, y)}

    def evaluate_sample(self, sample: Mapping) -> tuple[float, dict]:
        """Score ``sample`` with its generated weights (module docstring)."""
        if self.key(sample) in self._scores:
            return self._scores[self.key(sample)]
        with self.generated(sample):
            return super().evaluate_sample(sample)

    def validate(self) -> dict:
        """The exported architecture, with its generated weights, on the validation set."""
        sample = self.export_sample()
        with self.generated(sample):
            return self.evaluate(sample=sample)

    @classmethod
    def path_weights(cls, supernet, extra: Mapping, sample: Mapping, source: str = "<checkpoint>") -> None:
        """The generated kernels of ``sample`` (from the checkpoint's hypernetwork) into ``supernet``."""
        from ..errors import CheckpointError
        from ..nn.space import ModelSpace

        state = extra.get("hypernet") if isinstance(extra, Mapping) else None
        try:
            (hidden, size), dim = state["trunk.0.weight"].shape, state["heads"].shape[1]
            net = HyperNet(supernet, size, hidden, dim)
            net.load_state_dict(state)
            weights = net(encode(sample, ModelSpace(supernet).decisions))
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
            raise CheckpointError(f"the SMASH checkpoint's hypernetwork does not fit this supernet: "
                                  f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}",
                                  Loc(source)) from None
        params = dict(supernet.named_parameters())
        with torch.no_grad():
            for name, w in weights.items():
                params[name].copy_(w)

    def extra_state(self) -> dict:
        return {"hypernet": self.hypernet.state_dict(), "hyper_optimizer": self.hyper_optimizer.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        if "hypernet" in state:
            self.hypernet.load_state_dict(state["hypernet"])
        if "hyper_optimizer" in state:
            self.hyper_optimizer.load_state_dict(state["hyper_optimizer"])
