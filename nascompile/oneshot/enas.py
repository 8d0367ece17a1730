"""ENAS (Pham, Guan, Zoph, Le & Dean, ICML 2018): an LSTM controller samples paths of one supernet.

Each epoch has two phases, both made of steps of :class:`~.trainer.OneShotTrainer`'s loop:

1. ``child_steps`` **child steps**: the controller samples an architecture (no gradient), the
   :class:`~nascompile.nn.SinglePathMutator` is set to it, and the shared weights take one step
   of the user's optimizer on a training batch (gradient norm clipped to ``grad_clip``).
2. ``ctrl_steps`` **controller updates** of ``ctrl_steps_aggregate`` samples each: every sample
   is run on one batch of the architecture's data (NNI's: the last tenth of ``dataset_train``;
   see :mod:`.data`) (BatchNorm on batch statistics, running statistics untouched,
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

from typing import Callable, Mapping

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..nn import SinglePathMutator
from ..nn.mutator import draw_valid
from ..train import accuracy, first_output
from .enas_controller import EnasController, reward_mode
from .trainer import OneShotTrainer

__all__ = ["EnasTrainer", "EnasController", "default_reward"]

# NNI v1's names of the controller's settings -> nascompile's
NNI_NAMES = {"mutator_lr": "ctrl_lr", "mutator_steps": "ctrl_steps", "mutator_steps_aggregate": "ctrl_steps_aggregate"}


def default_reward(loss: Callable) -> Callable:
    """Accuracy for class-index targets, else the negative loss."""
    def reward(output, target) -> float:
        if not target.is_floating_point():
            return accuracy(output, target)["acc"]
        return -float(loss(output, target))
    return reward


class EnasTrainer(OneShotTrainer):
    """ENAS: child steps on shared weights, then REINFORCE controller updates (module docstring).

    Arguments beyond :class:`~.trainer.OneShotTrainer`'s: ``reward_function(output, target) ->
    float`` (default: accuracy for class targets, else the negative loss), ``ctrl_lr``,
    ``entropy_weight``, ``skip_weight``, ``skip_target``, ``baseline_decay``,
    ``ctrl_steps_aggregate``, ``ctrl_steps`` (controller updates per epoch; NNI's names
    ``mutator_lr``, ``mutator_steps_aggregate``, ``mutator_steps`` are taken too), ``child_steps``
    (weight steps per epoch; None: one pass over the training data), ``ctrl_kwargs`` (for
    :class:`EnasController`: ``lstm_size``, ``lstm_num_layers``, ``tanh_constant``,
    ``temperature``), ``ctrl_grad_clip`` (the controller's gradient norm clip; NNI: 5),
    ``test_arc_per_epoch`` (None: each epoch validates the most likely architecture; ``k``: ``k``
    architectures drawn from the controller, NNI's way, their metrics averaged). ``mutator=``
    takes a :class:`~nascompile.nn.SinglePathMutator`; one with a ``controller`` (NNI's
    :class:`~.enas_nni.EnasMutator`) brings its own controller.

    Data (NNI v1's, :mod:`.data`): the child steps train on the first nine tenths of
    ``dataset_train``, the controller is rewarded on the last tenth; ``dataset_valid`` only validates.
    """

    algorithm = "enas"
    arch_fraction = 0.1  # NNI: the last tenth of dataset_train rewards the controller
    mutator_type = SinglePathMutator
    # Short runs on small data (the constructor defaults are the paper's): the controller
    # updates more often and faster.
    cli_defaults = {"reward_function": None, "ctrl_steps": 5, "ctrl_steps_aggregate": 10, "ctrl_lr": 5e-3,
                    "baseline_decay": 0.9, "entropy_weight": 1e-3, "skip_weight": 0.1}

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, reward_function: Callable | None,
                 optimizer, num_epochs: int, dataset_train, dataset_valid, *args, entropy_weight: float = 1e-4,
                 skip_weight: float = 0.8, skip_target: float = 0.4, baseline_decay: float = 0.999,
                 ctrl_lr: float = 3.5e-4, ctrl_steps_aggregate: int = 20, ctrl_steps: int = 50,
                 child_steps: int | None = None, ctrl_kwargs: Mapping | None = None, grad_clip: float | None = 5.0,
                 ctrl_grad_clip: float | None = None, test_arc_per_epoch: int | None = None, **kwargs):
        given = {"ctrl_lr": ctrl_lr, "ctrl_steps": ctrl_steps, "ctrl_steps_aggregate": ctrl_steps_aggregate}
        for nni_name, name in NNI_NAMES.items():
            if nni_name in kwargs:
                given[name] = kwargs.pop(nni_name)
        ctrl_lr, ctrl_steps, ctrl_steps_aggregate = given["ctrl_lr"], given["ctrl_steps"], given["ctrl_steps_aggregate"]
        for name, value in (("ctrl_steps_aggregate", ctrl_steps_aggregate), ("ctrl_steps", ctrl_steps)):
            if not isinstance(value, int) or value < (1 if name == "ctrl_steps_aggregate" else 0):
                raise NasError(f"{name} must be a {'positive' if name == 'ctrl_steps_aggregate' else 'non-negative'} "
                               f"int, got {value!r}", Loc("<trainer>"))
        if child_steps is not None and (not isinstance(child_steps, int) or child_steps < 0):
            raise NasError(f"child_steps must be an int >= 0 or None, got {child_steps!r}", Loc("<trainer>"))
        if test_arc_per_epoch is not None and (not isinstance(test_arc_per_epoch, int) or test_arc_per_epoch < 1):
            raise NasError(f"test_arc_per_epoch must be a positive int or None, got {test_arc_per_epoch!r}",
                           Loc("<trainer>"))
        self.reward_function = reward_function or default_reward(loss)
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.ctrl_steps_aggregate = ctrl_steps_aggregate
        self.ctrl_steps = ctrl_steps
        self.child_steps = child_steps
        self.ctrl_grad_clip = ctrl_grad_clip
        self.test_arc_per_epoch = test_arc_per_epoch
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         grad_clip=grad_clip, **kwargs)
        own = getattr(self.mutator, "controller", None)
        if own is not None and ctrl_kwargs:
            raise NasError("the mutator brings its own controller: ctrl_kwargs would be ignored", Loc("<trainer>"),
                           hint="give the settings to the mutator (EnasMutator(model, lstm_size=..., ...))")
        self.controller = own if own is not None else \
            EnasController(self.mutator.decisions, skip_target=skip_target, **dict(ctrl_kwargs or {}))
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
            sample = self._valid_draw()[0]
        self.mutator.set_sample(sample)
        return self.path_step(epoch, k)

    def _valid_draw(self, **kw):
        """A controller draw (``(sample, log_prob, ...)``) that satisfies the space's constraints
        (rejection, :func:`~nascompile.nn.mutator.draw_valid`)."""
        return draw_valid(lambda: self.controller.sample(self.generator, **kw),
                          getattr(self.mutator, "constraints", None), "ENAS controller", key=lambda d: d[0])

    def _ctrl_step(self, epoch: int, k: int) -> dict:
        self.controller.train()
        sample, log_prob, entropy, skip_penalty = self._valid_draw()
        self.mutator.set_sample(sample)
        x, y = self.valid_batch(epoch, k)
        with torch.no_grad(), reward_mode(self.model):
            out = self.model(x)
            if self.aux_weight is not None:  # NNI's (logits, aux_logits): the reward judges the logits
                out = first_output(out)
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
            if self.ctrl_grad_clip:
                nn.utils.clip_grad_norm_(list(self.controller.parameters()), self.ctrl_grad_clip)
            self.ctrl_optim.step()
            self.ctrl_optim.zero_grad()
        return {"reward": reward, "baseline": self.baseline, "ctrl_loss": float(ctrl_loss.detach()),
                "entropy": float(entropy.detach())}

    def epoch_end(self, epoch: int) -> dict:
        """The most likely architecture's validation metrics; with ``test_arc_per_epoch=k`` the
        mean over ``k`` architectures drawn from the controller (NNI), each logged."""
        if self.test_arc_per_epoch is None:
            return self.validate()
        runs = []
        for i in range(self.test_arc_per_epoch):
            with torch.no_grad():
                sample = self._valid_draw()[0]
            runs.append(self.evaluate(sample=sample))
            self._print(f"  test epoch {epoch + 1} arc {i + 1}/{self.test_arc_per_epoch} " + self._format(runs[-1]))
        return {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}

    def export_sample(self) -> dict:
        """The controller's most likely architecture (under the space's constraints: the most
        likely one if it satisfies them, else a valid draw from the controller)."""
        with torch.no_grad():
            best = self.controller.sample(greedy=True)[0]
            constraints = getattr(self.mutator, "constraints", None)
            if constraints and constraints.violation(best) is not None:
                return self._valid_draw()[0]
            return best

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
