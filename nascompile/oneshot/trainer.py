"""The one-shot trainer base: what every algorithm shares around the one loop of :mod:`nascompile.train`.

A trainer trains a supernet (a model built of :mod:`nascompile.nn` mutables, e.g.
:func:`~nascompile.backends.supernet.build_supernet`) and drives it only through a mutator
(the protocol of :mod:`nascompile.nn.mutator`: ``resample`` / ``export`` / ``export_probs`` /
``state_dict`` / ``load_state_dict`` / ``arch_parameters``, and ``set_sample`` of single-path
mutators). A subclass supplies four things:

``build_mutator()``          the mutator (called once from ``__init__``; ``self.seed`` seeds it)
``train_step(epoch, step)``  one step; returns ``{name: float}`` (``loss`` and the metrics)
``steps_per_epoch()``        default: the number of training batches
``export_sample()``          the found architecture (default: ``self.mutator.export()``)

and may override ``epoch_end(epoch)`` (default: :meth:`validate`), ``search_end()`` (after the
last epoch: SPOS's evolution), ``extra_state()`` / ``load_extra_state(state)`` (what else a
checkpoint must hold: an architecture optimizer, a controller) and ``validate()``.

Contracts
---------
* **Data** (:mod:`.data`): as in NNI v1, ``dataset_train`` is split by index for the weight
  steps (:attr:`train_batches`) and the architecture steps (:attr:`valid_batches`, NNI's
  "valid loader"), and ``dataset_valid`` only validates (NNI's "test loader"); ``arch_data``
  changes that (``"valid"``: the command line's own split). Batch ``k`` of epoch ``e`` is a pure
  function of ``(seed, e, k)`` (:class:`~nascompile.train.BatchStream`; ``DataLoader`` s are
  taken apart into their dataset, sampler indices and batch size): a resumed run reads what the
  killed run would have.
* **NNI v1's API** besides: ``mutator=`` (a mutator already attached to the model, in NNI's
  position after ``dataset_valid``), NNI's callbacks (:mod:`.callbacks`), ``train(validate=)``,
  :meth:`enable_visualization`, and ``aux_weight`` for models that return ``(logits,
  aux_logits)`` (the loss adds ``aux_weight`` times the auxiliary loss; metrics, rewards and
  validation see the logits only).
* **Checkpoints** (``checkpoint_dir/last.pt``, atomic, at every epoch end and every
  ``checkpoint_every`` steps; :mod:`.checkpoint`) hold the model, optimizer, scheduler, the
  mutator's ``state_dict()``, ``extra_state()``, the RNG states, the loop's counters and a
  fingerprint of the space and algorithm. With a fixed seed, a run killed mid-epoch and resumed
  exports the same architecture as one never interrupted.
* **Logs**: ``metrics.jsonl`` (:mod:`.metrics_log`) gets a record every ``log_frequency`` steps
  and one per epoch (validation metrics, the current architecture); one progress line per epoch
  is logged (``verbose``; on stdout unless the application handles it: :mod:`nascompile.logs`).
* **Distributed**: under an initialised ``torch.distributed`` (e.g. ``torchrun``; gloo on CPU)
  the forward of the weight phase goes through ``DistributedDataParallel`` (:attr:`network`),
  each global batch is split across ranks, and subclasses keep architecture state identical
  with :meth:`sync_grads` / :meth:`broadcast_` / :meth:`all_mean` (:mod:`.distributed`). Only
  rank 0 writes files (:mod:`.checkpoint`).
* **Command line**: ``nascompile search`` builds every trainer the same way (the arguments
  below, plus ``space=``, then the class's ``cli_defaults`` and the user's ``--option`` s) and
  holds out ``valid_fraction`` of the training data for ``dataset_valid``.

Example (a subclass)::

    class UniformTrainer(OneShotTrainer):
        def build_mutator(self):
            return SinglePathMutator(self.model, seed=self.seed)

        def train_step(self, epoch, step):
            self.mutator.resample()                 # draw a path ...
            return self.path_step(epoch, step)      # ... and take one weight step on it
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn as nn

from .. import atomic
from ..arch import encode_arch
from ..errors import Loc, NasError
from ..logs import console, get_logger
from ..nn.mutator import Mutator
from ..passes.constraints import valid_export
from ..train import Loop, MainAndAux, OnMainOutput, batch_stream, evaluate, metric_values, seed_everything, \
    to_device, weight_step
from .callbacks import Callback, adapt_callbacks
from .checkpointing import Checkpointing
from .data import search_data
from .distributed import Ranks
from .metrics_log import MetricsLog
from .trainer_hooks import Counted, TrainerHooks
from .visualization import enable_visualization, finish_visualization

__all__ = ["OneShotTrainer"]

logger = get_logger(__name__)


class OneShotTrainer(Checkpointing):
    """Base of the one-shot trainers (see the module docstring for the subclass contract).

    Arguments (those of NNI's quick start, then ours):

    model            the supernet (``nn.Module`` with :mod:`nascompile.nn` mutables)
    loss             ``loss(output, target) -> scalar tensor``
    metrics          ``metrics(output, target) -> {name: float}`` (e.g. :func:`~nascompile.train.accuracy`)
    optimizer        the weights' optimizer (over ``model.parameters()``)
    num_epochs       epochs of search
    dataset_train    training data: weights, and (split off, ``arch_fraction``) architecture
    dataset_valid    validation data (epoch-end metrics, :meth:`validate`); see :mod:`.data`
    mutator          a mutator attached to ``model`` (of ``mutator_type``); None: the trainer's own
    batch_size       global batch size (split across ranks when distributed)
    workers          loader processes for map-style datasets that are not in memory
    device           ``"cpu"``, ``"cuda"``, a ``torch.device`` or None (cuda when available)
    log_frequency    log every N steps; None: only epochs
    callbacks        :class:`~.callbacks.Callback` s
    seed             seeds python/numpy/torch now, and the mutator and the data order
    checkpoint_dir   where ``last.pt`` is written (None: no checkpoints)
    checkpoint_every also checkpoint every N steps (None: at epoch ends only)
    metrics_file     the JSON-lines log (default: ``checkpoint_dir/../metrics.jsonl`` when
                     ``checkpoint_dir`` is given, else none)
    lr_scheduler     stepped once per epoch; its state is checkpointed
    grad_clip        clip the weights' gradient norm to this (None: no clipping)
    verbose          log progress lines
    space            the compiled space the supernet was built from, when there is one (costs
                     from the IR: SPOS's bounds, ProxylessNAS's latency)
    arch_data        ``"split"`` (NNI: the tail of ``dataset_train``), ``"valid"`` (``dataset_valid``)
                     or the architecture's own dataset (:mod:`.data`)
    aux_weight       None: ``loss`` and ``metrics`` see the model's output as it is; a number:
                     NNI's ``(logits, aux_logits)`` convention (module docstring)
    """

    algorithm = "oneshot"
    valid_fraction = 0.2   # share of the training data the command line holds out for dataset_valid
    arch_fraction: float | None = None  # share of dataset_train for the architecture (None: valid_fraction)
    mutator_type: type = Mutator  # what a given ``mutator=`` must be
    # command-line keyword arguments: its own splits, then settings for short runs (extended by subclasses)
    cli_defaults: Mapping = {"arch_data": "valid"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "cli_defaults" in cls.__dict__:
            cls.cli_defaults = {**OneShotTrainer.cli_defaults, **cls.__dict__["cli_defaults"]}

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, optimizer, num_epochs: int,
                 dataset_train, dataset_valid, mutator=None, batch_size: int = 64, workers: int = 0, device=None,
                 log_frequency: int | None = None, callbacks: Sequence[Callback] = (), seed: int = 0,
                 checkpoint_dir=None, checkpoint_every: int | None = None, metrics_file=None,
                 lr_scheduler=None, grad_clip: float | None = None, verbose: bool = True, space=None,
                 arch_data="split", aux_weight: float | None = None):
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise NasError(f"num_epochs must be an int >= 0, got {num_epochs!r}", Loc("<trainer>"))
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise NasError(f"checkpoint_every must be a positive int or None, got {checkpoint_every!r}",
                           Loc("<trainer>"))
        self.loop = Loop(num_epochs, lambda: self.steps_per_epoch(), self._step, TrainerHooks(self))
        self.seed = int(seed)
        seed_everything(self.seed)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        self.aux_weight = aux_weight
        self.loss = loss if aux_weight is None else MainAndAux(loss, aux_weight)
        self.eval_loss = loss if aux_weight is None else OnMainOutput(loss)  # validation: the logits only
        self.metrics = metrics if aux_weight is None or metrics is None else OnMainOutput(metrics)
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.batch_size = batch_size
        self.workers = workers
        self.log_frequency = log_frequency
        self.grad_clip = grad_clip
        self.verbose = verbose
        self.space = space
        if verbose:
            console()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        if metrics_file is None and self.checkpoint_dir is not None:
            metrics_file = self.checkpoint_dir.parent / "metrics.jsonl"
        self.metrics_file = Path(metrics_file) if metrics_file is not None else None

        self.ranks = Ranks()
        self.log = MetricsLog(self.metrics_file, self.ranks.is_main)
        self.distributed, self.rank, self.world_size = self.ranks.distributed, self.ranks.rank, self.ranks.world_size
        self.is_main = self.ranks.is_main
        streams = dict(batch_size=batch_size, seed=self.seed, workers=workers, rank=self.rank,
                       world_size=self.world_size)
        self.dataset_train = dataset_train
        self.dataset_valid = dataset_valid
        self.data = search_data(dataset_train, dataset_valid, arch_data, self.weight_samples)
        self.dataset_arch = self.data.arch
        self.train_batches = batch_stream(self.data.weights, salt=1, **streams)   # the weight steps
        self.valid_batches = batch_stream(self.data.arch, salt=2, **streams)      # the architecture steps

        self.history: list[dict] = []  # epoch records of this process
        self._network = None
        self._epoch_started = time.time()
        self._validate_epochs = True
        self.visualization_dir: Path | None = None
        self.mutator = self._given_mutator(mutator) if mutator is not None else self.build_mutator()
        self._fingerprint = None
        self.callbacks = adapt_callbacks(callbacks, self)

    # --- the loop's counters ------------------------------------------------------------------
    @property
    def num_epochs(self) -> int:
        """Epochs of search; lowering it during a run ends the run after that epoch."""
        return self.loop.num_epochs

    @num_epochs.setter
    def num_epochs(self, value: int) -> None:
        self.loop.num_epochs = value

    @property
    def epoch(self) -> int:
        """The epoch in progress (``num_epochs`` when done)."""
        return self.loop.epoch

    @property
    def step(self) -> int:
        """Steps of the epoch in progress already taken."""
        return self.loop.step

    @property
    def global_step(self) -> int:
        return self.loop.global_step

    # --- what subclasses provide --------------------------------------------------------------
    def build_mutator(self):
        """The mutator driving ``self.model``; called once from ``__init__``."""
        raise NotImplementedError

    def train_step(self, epoch: int, step: int) -> dict:
        """One step of epoch ``epoch``; returns ``{name: float}``."""
        raise NotImplementedError

    def steps_per_epoch(self) -> int:
        return len(self.train_batches)

    def weight_samples(self, n: int) -> int:
        """How many of ``n`` training samples train the weights when ``arch_data`` is
        ``"split"`` (the first ones; the rest are the architecture's)."""
        fraction = self.valid_fraction if self.arch_fraction is None else self.arch_fraction
        return n - int(n * fraction + 1e-9)

    def _given_mutator(self, mutator):
        if not isinstance(mutator, self.mutator_type):
            raise NasError(f"{type(self).__name__} takes a mutator of type {self.mutator_type.__name__}, got "
                           f"{type(mutator).__name__}", Loc("<trainer>"), hint="or leave mutator=None")
        if mutator.model is not self.model:
            raise NasError(f"the {type(mutator).__name__} given was built for another model", Loc("<trainer>"))
        return mutator

    def export_sample(self) -> dict:
        """The canonical sample of the architecture found so far."""
        return self.mutator.export()

    def export_file_sample(self) -> dict:
        """What :meth:`export` writes: :meth:`export_sample` (trainers that learn edge weights
        also mark the ops of dropped edges unused, as NNI's DARTS did)."""
        return self.export_sample()

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
        if self._network is None:
            self._network = self.ranks.wrap(self.model, self.device)
        return self._network

    def train_batch(self, epoch: int, k: int):
        """Training batch ``k`` of ``epoch`` on the device (``k`` wraps around)."""
        return self.to_device(self.train_batches.batch(epoch, k))

    def valid_batch(self, epoch: int, k: int):
        """Validation batch ``k`` of ``epoch`` on the device (``k`` wraps around)."""
        return self.to_device(self.valid_batches.batch(epoch, k))

    def to_device(self, batch):
        return to_device(batch, self.device)

    def compute_metrics(self, output, target) -> dict:
        return metric_values(self.metrics, output, target)

    def path_step(self, epoch: int, k: int) -> dict:
        """One weight step of the path the mutator has set now, on training batch ``k``."""
        return weight_step(self.model, self.train_batch(epoch, k), self.loss, self.optimizer, self.metrics,
                           self.grad_clip, network=self.network)

    def clip_gradients(self, parameters: Iterable[torch.Tensor], max_norm: float | None = None) -> None:
        max_norm = self.grad_clip if max_norm is None else max_norm
        if max_norm:
            nn.utils.clip_grad_norm_(list(parameters), max_norm)

    def sync_grads(self, parameters: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``parameters`` over the ranks (no-op when not distributed)."""
        self.ranks.sync_grads(parameters)

    def broadcast_(self, tensors: Iterable[torch.Tensor], src: int = 0) -> None:
        """Copy rank ``src``'s values of ``tensors`` to every rank, in place."""
        self.ranks.broadcast_(tensors, src)

    def all_mean(self, values: Mapping[str, float], weight: float = 1.0) -> dict:
        """The ``weight``-weighted mean of ``values`` over the ranks (the values when not distributed)."""
        return self.ranks.all_mean(values, weight)

    def evaluate(self, batches: Iterable | None = None, sample: Mapping | None = None,
                 max_batches: int | None = None) -> dict:
        """Mean loss and metrics over ``batches`` (default: the validation set in order), in eval
        mode without gradients. With ``sample`` the single-path mutator runs that architecture
        and then gets its previous sample back."""
        if batches is None:
            batches = self.batches_of(self.data.valid)
        previous = None
        if sample is not None:
            previous = self.mutator.export()
            self.mutator.set_sample(sample)
        counted = Counted(batches)
        try:
            means = evaluate(self.model, counted, self.eval_loss, self.metrics, self.device, max_batches)
        finally:
            if previous is not None:
                self.mutator.set_sample(previous)
        return self.all_mean(means, float(counted.samples))

    def batches_of(self, data):
        """The batches of ``data`` in order (evaluation: no shuffling), this rank's share."""
        return batch_stream(data, self.batch_size, shuffle=False, rank=self.rank, world_size=self.world_size)

    def validate(self) -> dict:
        """Loss and metrics of the exported architecture on the validation set (for mutators
        that run a mixture: of the model as the mutator runs it)."""
        sample = self.export_sample() if self.mutator.single_path else None
        return self.evaluate(sample=sample)

    def stop(self) -> None:
        """End ``train()`` after the current step, writing nothing more."""
        self.loop.stop()

    # --- the loop ----------------------------------------------------------------------------------
    def train(self, validate: bool = True) -> dict | None:
        """Run (or continue, after :meth:`resume`) the search; returns the last epoch's record
        (None when stopped). ``validate=False`` skips each epoch's validation (NNI's flag)."""
        self._validate_epochs = bool(validate)
        self.model.train()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        self._epoch_started = time.time()
        if not self.loop.run():
            return None
        self.search_end()
        for cb in self.callbacks:
            cb.on_train_end(self)
        if self.visualization_dir is not None:
            finish_visualization(self)
        return self.history[-1] if self.history else None

    def enable_visualization(self, log_dir=None) -> Path:
        """NNI's switch for its NAS UI: from now on the run is written where ``nascompile ui`` reads
        it (``log_dir``, default ``logs/<timestamp>`` as NNI: ``run.json``, ``metrics.jsonl``,
        and ``arch.json`` at the end); returns the folder (:mod:`.visualization`)."""
        return enable_visualization(self, log_dir)

    def _step(self, epoch: int, step: int) -> dict:
        self.model.train()
        return self.train_step(epoch, step) or {}

    def _epoch_record(self, epoch: int, train_means: dict) -> dict:
        valid = (self.epoch_end(epoch) or {}) if self._validate_epochs else {}
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        record = {"kind": "epoch", "epoch": epoch, "global_step": self.global_step, "train": train_means,
                  "valid": valid, "arch": encode_arch(self.export_sample(), self.mutator.decisions),
                  "seconds": round(time.time() - self._epoch_started, 3)}
        if self.mutator.arch_parameters():  # DARTS, GDAS, ProxylessNAS, FBNet: for the UI
            record["arch_probs"] = {label: [round(float(p), 6) for p in probs]
                                    for label, probs in self.mutator.export_probs().items()}
        return record

    # --- export --------------------------------------------------------------------------------
    def export(self, file=None) -> dict:
        """The found architecture as flat architecture JSON (label -> choice); written atomically
        to ``file`` when given (by rank 0). See :meth:`export_file_sample`."""
        arch = encode_arch(valid_export(self.mutator, self.export_file_sample(), type(self).__name__),
                           self.mutator.decisions)
        if file is not None and self.is_main:
            atomic.write_json(file, arch)
        return arch

    # --- logging -----------------------------------------------------------------------------
    def _print(self, line: str) -> None:
        if self.verbose and self.is_main:
            logger.info(line)

    @staticmethod
    def _format(values: Mapping) -> str:
        return " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
