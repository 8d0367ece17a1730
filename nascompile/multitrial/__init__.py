"""Multi-trial NAS: every architecture trained in its own process, results in a database.

Pieces, each a small protocol: a :class:`Strategy` (``ask`` / ``tell``) proposes
architectures, constraints on the IR's params/FLOPs reject some before training, a
:class:`Store` keeps the experiment (finished trials immutable, resumable after a kill) and an
executor (``submit`` / ``poll``) runs trials, isolated, in parallel, with a timeout; the trial of
a compiled space is :func:`run_trial`. Nothing here parses a command line or prints: that is
``nascompile search`` (:mod:`nascompile.cli.multitrial`), and progress is logged.
Needs the optional extra: ``pip install 'nascompile[multitrial]'`` (optuna, SQLAlchemy).

>>> from nascompile.multitrial import MultiTrialConfig, run_experiment   # doctest: +SKIP
>>> run_experiment(MultiTrialConfig("examples/digits_cnn.yaml", "runs/r1", algo="tpe", trials=8))  # doctest: +SKIP
"""
from .executors import LocalExecutor, TrialJob, TrialOutcome, metric_of
from .objectives import Constraint, pareto_front, parse_constraint
from .runner import MultiTrialConfig, run_experiment, summarize
from .store import Store, StoreError, TrialRecord, arch_key
from .strategies import STRATEGIES, Strategy, make_strategy, register_strategy
from .worker import run_trial

__all__ = ["LocalExecutor", "TrialJob", "TrialOutcome", "metric_of", "Constraint", "pareto_front",
           "parse_constraint", "MultiTrialConfig", "run_experiment", "summarize", "Store",
           "StoreError", "TrialRecord", "arch_key", "STRATEGIES", "Strategy", "make_strategy",
           "register_strategy", "run_trial"]
