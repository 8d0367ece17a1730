"""The one-shot trainer base: the loop, data, logging, checkpoints and export every algorithm shares.

A trainer trains a supernet (a model built of :mod:`nascompile.nn` mutables, e.g.
:func:`~nascompile.backends.supernet.build_supernet`) and drives it only through a mutator
(:mod:`nascompile.nn.mutator`: ``resample`` / ``export`` / ``export_probs``, plus
``set_sample`` of the single-path mutator). A subclass supplies four things:

``build_mutator()``            the mutator (called once from ``__init__``, after the model moved to
                               ``device``; ``self.seed`` seeds it)
``train_step(epoch, step)``    one step; returns ``{name: float}`` (``loss`` and the metrics)
``steps_per_epoch()``          default: the number of training batches
``export_sample()``            the canonical sample of the found architecture (default:
                               ``self.mutator.export()``)

and may override ``epoch_end(epoch)`` (default: :meth:`validate`), ``search_end()`` (after the
last epoch: SPOS's evolution), ``extra_state()`` / ``load_extra_state(state)`` (what else a
checkpoint must hold: an architecture optimizer, a controller) and ``validate()``.

Contracts
---------
* **Data**: batch ``k`` of epoch ``e`` is a pure function of ``(seed, e, k)`` (:class:`BatchStream`),
  so nothing about the data order needs saving: a resumed run reads what the killed run would
  have read. Datasets are ``TensorDataset`` s, ``(inputs, targets)`` pairs of tensors/arrays, or
  any map-style dataset (collated with ``default_collate``; ``workers`` loader processes).
* **Checkpoints** (``checkpoint_dir/last.pt``, written atomically at every epoch end and every
  ``checkpoint_every`` steps) hold the model, the optimizer and scheduler, the mutator's state
  (its generators and architecture weights), ``extra_state()``, the RNG states of python, numpy
  and torch, the epoch and step, the running epoch averages and a fingerprint of the space (its
  decisions and weight shapes) and algorithm. They are read with ``torch.load(weights_only=True)``;
  a corrupt file or one of another space or algorithm is a :class:`~nascompile.errors.CheckpointError`.
  With a fixed seed, a run killed mid-epoch and resumed from its last checkpoint exports the same
  architecture as one that was never interrupted.
* **Logs**: ``metrics.jsonl`` gets one JSON object per logged step (``"kind": "step"``, every
  ``log_frequency`` steps) and per epoch (``"kind": "epoch"``, with the validation metrics and the
  current architecture); a resumed run first drops the records written after its checkpoint.
  One progress line per epoch is printed (``verbose``).
* **Distributed**: under an initialised ``torch.distributed`` (e.g. ``torchrun``; gloo on CPU)
  the forward of the weight phase goes through ``DistributedDataParallel`` (:attr:`network`),
  each global batch is split across ranks, and subclasses keep architecture state identical
  with :meth:`sync_grads` / :meth:`broadcast_` / :meth:`all_mean`. Only rank 0 writes files.

Example (a subclass)::

    class UniformTrainer(OneShotTrainer):
        algorithm = "uniform"

        def build_mutator(self):
            return SinglePathMutator(self.model, seed=self.seed)

        def train_step(self, epoch, step):
            x, y = self.train_batch(epoch, step)
            self.mutator.resample()
            self.optimizer.zero_grad()
            out = self.network(x)
            loss = self.loss(out, y)
            loss.backward()
            self.optimizer.step()
            return {"loss": loss.item(), **self.compute_metrics(out, y)}
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset, TensorDataset, default_collate

from .. import atomic
from ..arch import encode_arch
from ..errors import CheckpointError, Loc, NasError

__all__ = ["OneShotTrainer", "Callback", "BatchStream", "CHECKPOINT_FORMAT", "accuracy", "fingerprint",
           "mutator_state", "load_mutator_state", "load_checkpoint", "seed_everything"]

CHECKPOINT_FORMAT = 1
CHECKPOINT_NAME = "last.pt"


# --- small helpers ----------------------------------------------------------------------------
def accuracy(output: torch.Tensor, target: torch.Tensor) -> dict:
    """Top-1 accuracy of class scores ``output`` against class indices ``target``: ``{"acc": a}``."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    return {"acc": (output.detach().argmax(-1) == target).float().mean().item()}


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def _mix(*numbers: int) -> int:
    """A stable 63-bit seed from integers (python's hash of ints is fine but not of tuples of
    negative numbers on every build; this is explicit)."""
    digest = hashlib.sha256(",".join(str(int(n)) for n in numbers).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _rng_state() -> dict:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def mutator_state(mutator) -> dict:
    """What a checkpoint keeps of a mutator: its own ``state_dict()`` when it has one, else the
    state of the known parts of :mod:`nascompile.nn`'s mutators (a python ``_rng``, a torch
    ``_gen``, architecture weights ``alpha``, the temperature ``tau``) and the current sample."""
    if hasattr(mutator, "state_dict"):
        return {"own": mutator.state_dict()}
    state: dict = {}
    if isinstance(getattr(mutator, "_rng", None), random.Random):
        state["rng"] = mutator._rng.getstate()
    if isinstance(getattr(mutator, "_gen", None), torch.Generator):
        state["gen"] = mutator._gen.get_state()
    if isinstance(getattr(mutator, "alpha", None), dict):
        state["alpha"] = {k: v.detach().cpu().clone() for k, v in mutator.alpha.items()}
    if hasattr(mutator, "tau"):
        state["tau"] = float(mutator.tau)
    if hasattr(mutator, "set_sample"):
        state["sample"] = encode_arch(mutator.export(), mutator.decisions)
    return state


def load_mutator_state(mutator, state: Mapping) -> None:
    """Restore what :func:`mutator_state` saved."""
    if "own" in state:
        mutator.load_state_dict(state["own"])
        return
    if "rng" in state:
        version, internal, gauss = state["rng"]
        mutator._rng.setstate((version, tuple(internal), gauss))
    if "gen" in state:
        mutator._gen.set_state(state["gen"])
    if "alpha" in state:
        with torch.no_grad():
            for k, v in state["alpha"].items():
                mutator.alpha[k].copy_(v)
    if "tau" in state:
        mutator.tau = state["tau"]
    if "sample" in state:
        mutator.set_sample(state["sample"])


def fingerprint(model: nn.Module, decisions: Mapping, algorithm: str) -> dict:
    """What a checkpoint must match: the algorithm, the decisions (labels, kinds, options) and the
    names and shapes of the model's weights, each as a short hash."""
    def h(obj) -> str:
        return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:16]

    decisions_doc = [[label, d.kind, [repr(o) for o in d.options], d.n_chosen] for label, d in decisions.items()]
    weights_doc = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    return {"algorithm": algorithm, "decisions": h(decisions_doc), "weights": h(weights_doc)}


def load_checkpoint(path) -> dict:
    """Read a checkpoint (``weights_only=True``); a missing, unreadable or foreign file is one
    :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no checkpoint here", Loc(str(path)),
                              hint="start a new run, or point at a run's checkpoints/last.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors all mean a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"corrupt checkpoint ({type(err).__name__}: {first[:160]})", Loc(str(path)),
                              hint="delete it and resume from an earlier one, or start again") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("not a nascompile one-shot checkpoint", Loc(str(path)))
    return state


def _describe(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _bar(fraction: float, width: int = 20) -> str:
    done = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * done + "-" * (width - done) + "]"


# --- data ---------------------------------------------------------------------------------------
def as_dataset(data) -> Dataset:
    """A ``TensorDataset`` for ``(inputs, targets)`` of tensors or arrays; datasets unchanged."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for v in data)
        if len(x) != len(y):
            raise NasError(f"inputs and targets differ in length: {len(x)} vs {len(y)}", Loc("<data>"))
        return TensorDataset(x, y)
    raise NasError(f"a dataset is a torch Dataset or an (inputs, targets) pair, got {type(data).__name__}",
                   Loc("<data>"))


class BatchStream:
    """Deterministic batches of one dataset.

    Epoch ``e`` visits the samples in a permutation drawn from ``(seed, salt, e)`` (in order when
    ``shuffle`` is off); :meth:`batch` ``(e, k)`` is the ``k``-th slice of ``batch_size`` of it
    (``k`` wraps around), this rank's share of it under ``world_size`` ranks. ``len()`` is the
    number of batches per epoch (a last partial batch counts).
    """

    def __init__(self, dataset, batch_size: int, seed: int = 0, salt: int = 0, shuffle: bool = True,
                 workers: int = 0, rank: int = 0, world_size: int = 1):
        self.dataset = as_dataset(dataset)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise NasError(f"batch_size must be a positive int, got {batch_size!r}", Loc("<trainer>"))
        self.n = len(self.dataset)
        if self.n == 0:
            raise NasError("a dataset is empty", Loc("<data>"))
        self.batch_size = batch_size
        self.seed, self.salt, self.shuffle = seed, salt, shuffle
        self.workers, self.rank, self.world_size = workers, rank, world_size
        self._tensors = self.dataset.tensors if isinstance(self.dataset, TensorDataset) else None
        self._perm: tuple = (None, None)
        self._cursor = None  # (epoch, next batch, iterator) of a worker loader

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        if self._perm[0] != epoch:
            if self.shuffle:
                g = torch.Generator().manual_seed(_mix(self.seed, self.salt, epoch))
                self._perm = (epoch, torch.randperm(self.n, generator=g))
            else:
                self._perm = (epoch, torch.arange(self.n))
        return self._perm[1]

    def indices(self, epoch: int, k: int) -> torch.Tensor:
        k %= len(self)
        idx = self.order(epoch)[k * self.batch_size:(k + 1) * self.batch_size]
        return idx[self.rank::self.world_size] if self.world_size > 1 else idx

    def batch(self, epoch: int, k: int):
        idx = self.indices(epoch, k)
        if self._tensors is not None:
            return tuple(t[idx] for t in self._tensors)
        if self.workers > 0:
            return self._from_loader(epoch, k % len(self))
        return default_collate([self.dataset[int(i)] for i in idx])

    def _from_loader(self, epoch: int, k: int):
        if self._cursor is None or self._cursor[:2] != (epoch, k):
            batches = [self.indices(epoch, j).tolist() for j in range(k, len(self))]
            loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers)
            self._cursor = (epoch, k, iter(loader))
        batch = next(self._cursor[2])
        self._cursor = (epoch, k + 1, self._cursor[2])
        return batch

    def __iter__(self):
        """The batches of epoch 0 in order (for evaluation with ``shuffle=False``)."""
        return (self.batch(0, k) for k in range(len(self)))


# --- callbacks ----------------------------------------------------------------------------------
class Callback:
    """Hooks around the loop; override what you need. ``trainer.stop()`` ends ``train()`` after the
    current step without writing anything more (as if the process were killed there)."""

    def on_train_begin(self, trainer: "OneShotTrainer") -> None: ...

    def on_epoch_begin(self, trainer: "OneShotTrainer", epoch: int) -> None: ...

    def on_step_end(self, trainer: "OneShotTrainer", epoch: int, step: int, metrics: dict) -> None: ...

    def on_epoch_end(self, trainer: "OneShotTrainer", epoch: int, record: dict) -> None: ...

    def on_train_end(self, trainer: "OneShotTrainer") -> None: ...


# --- the trainer ---------------------------------------------------------------------------------
class OneShotTrainer:
    """Base of the one-shot trainers (see the module docstring for the subclass contract).

    Arguments (those of NNI's quick start, then ours):

    model            the supernet (``nn.Module`` with :mod:`nascompile.nn` mutables)
    loss             ``loss(output, target) -> scalar tensor``
    metrics          ``metrics(output, target) -> {name: float}`` (e.g. :func:`accuracy`)
    optimizer        the weights' optimizer (over ``model.parameters()``)
    num_epochs       epochs of search
    dataset_train    training data (weights); ``dataset_valid``: validation data (architecture)
    batch_size       global batch size (split across ranks when distributed)
    workers          loader processes for map-style datasets that are not in memory
    device           ``"cpu"``, ``"cuda"``, a ``torch.device`` or None (cuda when available)
    log_frequency    log (and print) every N steps; None: only epochs
    callbacks        :class:`Callback` s
    seed             seeds python/numpy/torch now, and the mutator and the data order
    checkpoint_dir   where ``last.pt`` is written (None: no checkpoints)
    checkpoint_every also checkpoint every N steps (None: at epoch ends only)
    metrics_file     the JSON-lines log (default: ``checkpoint_dir/../metrics.jsonl`` when
                     ``checkpoint_dir`` is given, else none)
    lr_scheduler     stepped once per epoch; its state is checkpointed
    grad_clip        clip the weights' gradient norm to this (None: no clipping)
    verbose          print progress lines
    """

    algorithm = "oneshot"

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, optimizer, num_epochs: int,
                 dataset_train, dataset_valid, batch_size: int = 64, workers: int = 0, device=None,
                 log_frequency: int | None = None, callbacks: Sequence[Callback] = (), seed: int = 0,
                 checkpoint_dir=None, checkpoint_every: int | None = None, metrics_file=None,
                 lr_scheduler=None, grad_clip: float | None = None, verbose: bool = True):
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise NasError(f"num_epochs must be an int >= 0, got {num_epochs!r}", Loc("<trainer>"))
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise NasError(f"checkpoint_every must be a positive int or None, got {checkpoint_every!r}",
                           Loc("<trainer>"))
        self.seed = int(seed)
        seed_everything(self.seed)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        self.loss = loss
        self.metrics = metrics
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.workers = workers
        self.log_frequency = log_frequency
        self.callbacks = list(callbacks or ())
        self.grad_clip = grad_clip
        self.verbose = verbose
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        if metrics_file is None and self.checkpoint_dir is not None:
            metrics_file = self.checkpoint_dir.parent / "metrics.jsonl"
        self.metrics_file = Path(metrics_file) if metrics_file is not None else None

        dist = torch.distributed
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        self.is_main = self.rank == 0
        streams = dict(batch_size=batch_size, seed=self.seed, workers=workers, rank=self.rank,
                       world_size=self.world_size)
        self.dataset_train = dataset_train
        self.dataset_valid = dataset_valid
        self.train_batches = BatchStream(dataset_train, salt=1, **streams)
        self.valid_batches = BatchStream(dataset_valid, salt=2, **streams)

        self.epoch = 0          # the epoch in progress (== num_epochs when done)
        self.step = 0           # steps of that epoch already taken
        self.global_step = 0
        self.history: list[dict] = []  # epoch records of this process
        self._sums: dict[str, list[float]] = {}
        self._stop = False
        self._network = None
        self.mutator = self.build_mutator()
        self._fingerprint = None

    # --- what subclasses provide --------------------------------------------------------------
    def build_mutator(self):
        """The mutator driving ``self.model``; called once from ``__init__``."""
        raise NotImplementedError

    def train_step(self, epoch: int, step: int) -> dict:
        """One step of epoch ``epoch``; returns ``{name: float}``."""
        raise NotImplementedError

    def steps_per_epoch(self) -> int:
        return len(self.train_batches)

    def export_sample(self) -> dict:
        """The canonical sample of the architecture found so far."""
        return self.mutator.export()

    def epoch_end(self, epoch: int) -> dict:
        """Called after the last step of each epoch; returns the validation metrics to log."""
        return self.validate()

    def search_end(self) -> None:
        """Called once after the last epoch (e.g. an evolutionary search over the supernet)."""

    def extra_state(self) -> dict:
        """More state for checkpoints (tensors, numbers, strings, lists, dicts only)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` returned."""

    # --- helpers for subclasses --------------------------------------------------------------
    @property
    def network(self) -> nn.Module:
        """The model for the weight phase: wrapped in ``DistributedDataParallel`` when distributed."""
        if not self.distributed:
            return self.model
        if self._network is None:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._network = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True)
        return self._network

    def train_batch(self, epoch: int, k: int):
        """Training batch ``k`` of ``epoch`` on the device (``k`` wraps around)."""
        return self.to_device(self.train_batches.batch(epoch, k))

    def valid_batch(self, epoch: int, k: int):
        """Validation batch ``k`` of ``epoch`` on the device (``k`` wraps around)."""
        return self.to_device(self.valid_batches.batch(epoch, k))

    def to_device(self, batch):
        if isinstance(batch, torch.Tensor):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        return batch

    def compute_metrics(self, output, target) -> dict:
        if self.metrics is None:
            return {}
        out = self.metrics(output, target)
        if not isinstance(out, Mapping):
            raise NasError(f"the metrics function returns a dict of numbers, got {type(out).__name__}",
                           Loc("<trainer>"))
        return {k: float(v) for k, v in out.items()}

    def path_step(self, epoch: int, k: int) -> dict:
        """One weight step of the path the mutator has set now, on training batch ``k``."""
        x, y = self.train_batch(epoch, k)
        self.optimizer.zero_grad()
        out = self.network(x)
        loss = self.loss(out, y)
        if loss.requires_grad:  # a path may have no weights at all (identities, pools)
            loss.backward()
            self.clip_gradients(self.model.parameters())
            self.optimizer.step()
        return {"loss": loss.item(), **self.compute_metrics(out, y)}

    def clip_gradients(self, parameters: Iterable[torch.Tensor], max_norm: float | None = None) -> None:
        max_norm = self.grad_clip if max_norm is None else max_norm
        if max_norm:
            nn.utils.clip_grad_norm_(list(parameters), max_norm)

    def sync_grads(self, parameters: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``parameters`` over the ranks (no-op when not distributed)."""
        if not self.distributed:
            return
        for p in parameters:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad)
            p.grad /= self.world_size

    def broadcast_(self, tensors: Iterable[torch.Tensor], src: int = 0) -> None:
        """Copy rank ``src``'s values of ``tensors`` to every rank, in place."""
        if not self.distributed:
            return
        with torch.no_grad():
            for t in tensors:
                torch.distributed.broadcast(t.data, src)

    def all_mean(self, values: Mapping[str, float], weight: float = 1.0) -> dict:
        """The ``weight``-weighted mean of ``values`` over the ranks (the values when not distributed)."""
        if not self.distributed or not values:
            return dict(values)
        keys = sorted(values)
        t = torch.tensor([values[k] * weight for k in keys] + [weight], dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return {k: float(t[i] / t[-1]) for i, k in enumerate(keys)}

    def evaluate(self, batches: Iterable | None = None, sample: Mapping | None = None,
                 max_batches: int | None = None) -> dict:
        """Mean loss and metrics over ``batches`` (default: the validation set in order), in eval
        mode without gradients. With ``sample`` the single-path mutator runs that architecture
        and then gets its previous sample back."""
        if batches is None:
            batches = BatchStream(self.dataset_valid, self.batch_size, shuffle=False,
                                  rank=self.rank, world_size=self.world_size)
        previous = None
        if sample is not None:
            previous = self.mutator.export()
            self.mutator.set_sample(sample)
        was_training = self.model.training
        self.model.eval()
        totals: dict[str, float] = {}
        count = 0
        try:
            with torch.no_grad():
                for k, batch in enumerate(batches):
                    if max_batches is not None and k >= max_batches:
                        break
                    x, y = self.to_device(batch)
                    out = self.model(x)
                    n = len(y)
                    values = {"loss": float(self.loss(out, y)), **self.compute_metrics(out, y)}
                    for key, v in values.items():
                        totals[key] = totals.get(key, 0.0) + v * n
                    count += n
        finally:
            self.model.train(was_training)
            if previous is not None:
                self.mutator.set_sample(previous)
        means = {k: v / max(count, 1) for k, v in totals.items()}
        return self.all_mean(means, float(count))

    def validate(self) -> dict:
        """Loss and metrics of the exported architecture on the validation set (for mutators
        without ``set_sample``: of the model as the mutator runs it)."""
        sample = self.export_sample() if hasattr(self.mutator, "set_sample") else None
        return self.evaluate(sample=sample)

    def stop(self) -> None:
        """End ``train()`` after the current step, writing nothing more."""
        self._stop = True

    # --- the loop ----------------------------------------------------------------------------------
    def train(self) -> dict | None:
        """Run (or continue, after :meth:`resume`) the search; returns the last epoch's record."""
        self._stop = False
        self.model.train()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        record = self.history[-1] if self.history else None
        while self.epoch < self.num_epochs:
            epoch = self.epoch
            if self.step == 0:
                self._sums = {}
                for cb in self.callbacks:
                    cb.on_epoch_begin(self, epoch)
            started = time.time()
            n = self.steps_per_epoch()
            while self.step < n:
                step = self.step
                self.model.train()
                values = self.train_step(epoch, step)
                self.step += 1
                self.global_step += 1
                for key, v in (values or {}).items():
                    s = self._sums.setdefault(key, [0.0, 0])
                    s[0] += float(v)
                    s[1] += 1
                if self.log_frequency and (step + 1) % self.log_frequency == 0:
                    self._log({"kind": "step", "epoch": epoch, "step": step, "global_step": self.global_step,
                               **{k: float(v) for k, v in (values or {}).items()}})
                    self._print(f"  epoch {epoch + 1} step {step + 1}/{n} " + self._format(values or {}))
                for cb in self.callbacks:
                    cb.on_step_end(self, epoch, step, values or {})
                if self.checkpoint_every and self.global_step % self.checkpoint_every == 0:
                    self.save_checkpoint()
                if self._stop:
                    return None
            train_means = {k: s[0] / max(s[1], 1) for k, s in self._sums.items()}
            valid = self.epoch_end(epoch) or {}
            if self.lr_scheduler is not None:
                self.lr_scheduler.step()
            record = {"kind": "epoch", "epoch": epoch, "global_step": self.global_step, "train": train_means,
                      "valid": valid, "arch": encode_arch(self.export_sample(), self.mutator.decisions),
                      "seconds": round(time.time() - started, 3)}
            if hasattr(self.mutator, "arch_parameters"):  # DARTS, GDAS, ProxylessNAS, FBNet: for the UI
                record["arch_probs"] = {label: [round(float(p), 6) for p in probs]
                                        for label, probs in self.mutator.export_probs().items()}
            self.history.append(record)
            self._log(record)
            self._print(f"{self.algorithm} epoch {epoch + 1}/{self.num_epochs} "
                        f"{_bar((epoch + 1) / max(self.num_epochs, 1))} train {self._format(train_means)}"
                        + (f" | valid {self._format(valid)}" if valid else "") + f" ({record['seconds']:.1f}s)")
            self.epoch, self.step, self._sums = epoch + 1, 0, {}
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, record)
            if self.checkpoint_dir is not None:
                self.save_checkpoint()
            if self._stop:
                return None
        self.search_end()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return record

    # --- export --------------------------------------------------------------------------------
    def export(self, file=None) -> dict:
        """The found architecture as flat architecture JSON (label -> choice); written atomically
        to ``file`` when given (by rank 0)."""
        arch = encode_arch(self.export_sample(), self.mutator.decisions)
        if file is not None and self.is_main:
            atomic.write_json(file, arch)
        return arch

    # --- checkpoints -----------------------------------------------------------------------------
    def fingerprint(self) -> dict:
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.model, self.mutator.decisions, self.algorithm)
        return self._fingerprint

    def state_dict(self) -> dict:
        """Everything a resumed run needs (see the module docstring)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": self.fingerprint(),
            "epoch": self.epoch, "step": self.step, "global_step": self.global_step,
            "sums": {k: list(v) for k, v in self._sums.items()},
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler is not None else None,
            "mutator": mutator_state(self.mutator),
            "extra": self.extra_state(),
            "rng": _rng_state(),
            "history": json.dumps(self.history),
        }

    def load_state_dict(self, state: Mapping, source: str = "<checkpoint>") -> None:
        """Restore a :meth:`state_dict`; refuses one of another space or algorithm."""
        theirs, ours = state.get("fingerprint") or {}, self.fingerprint()
        for part, what in (("algorithm", "algorithm"), ("decisions", "space (its decisions differ)"),
                           ("weights", "model (its weights differ)")):
            if theirs.get(part) != ours[part]:
                detail = (f"'{theirs.get('algorithm')}', this run '{ours['algorithm']}'"
                          if part == "algorithm" else f"{theirs.get(part)} vs {ours[part]}")
                raise CheckpointError(f"the checkpoint belongs to another {what}: {detail}", Loc(source),
                                      hint="resume with the space, overrides and algorithm of the run that wrote it")
        try:
            self.model.load_state_dict(state["model"])
            if self.optimizer is not None and state.get("optimizer") is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            if self.lr_scheduler is not None and state.get("lr_scheduler") is not None:
                self.lr_scheduler.load_state_dict(state["lr_scheduler"])
            load_mutator_state(self.mutator, state["mutator"])
            self.load_extra_state(state.get("extra") or {})
            self.epoch, self.step, self.global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
            self._sums = {k: [float(v[0]), int(v[1])] for k, v in state.get("sums", {}).items()}
            self.history = json.loads(state.get("history") or "[]")
            _set_rng_state(state["rng"])
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"the checkpoint does not fit this trainer: {type(err).__name__}: "
                                  f"{str(err).splitlines()[0][:200] if str(err) else ''}", Loc(source)) from None

    def checkpoint_path(self) -> Path | None:
        return self.checkpoint_dir / CHECKPOINT_NAME if self.checkpoint_dir is not None else None

    def save_checkpoint(self, path=None) -> None:
        """Write :meth:`state_dict` atomically (rank 0; default ``checkpoint_dir/last.pt``)."""
        path = Path(path) if path is not None else self.checkpoint_path()
        if path is None or not self.is_main:
            return
        buffer = io.BytesIO()
        torch.save(self.state_dict(), buffer)
        atomic.write_bytes(path, buffer.getvalue())

    def resume(self, path=None) -> "OneShotTrainer":
        """Load a checkpoint (default ``checkpoint_dir/last.pt``) so that :meth:`train` continues
        it; the metrics log loses the records written after it."""
        path = Path(path) if path is not None else self.checkpoint_path()
        if path is None:
            raise CheckpointError("no checkpoint to resume: the trainer has no checkpoint_dir", Loc("<trainer>"))
        self.load_state_dict(load_checkpoint(path), str(path))
        self._truncate_log()
        return self

    # --- logging -----------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if self.metrics_file is None or not self.is_main:
            return
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _truncate_log(self) -> None:
        if self.metrics_file is None or not self.is_main or not self.metrics_file.is_file():
            return
        kept = []
        for line in self.metrics_file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            done = (record.get("epoch", 0) < self.epoch if record.get("kind") == "epoch"
                    else record.get("global_step", 0) <= self.global_step)
            if done:
                kept.append(line)
        atomic.write_text(self.metrics_file, "".join(line + "\n" for line in kept))

    def _print(self, line: str) -> None:
        if self.verbose and self.is_main:
            print(line, file=sys.stdout, flush=True)

    @staticmethod
    def _format(values: Mapping) -> str:
        return " ".join(f"{k} {_describe(v)}" for k, v in values.items())
