"""Multi-trial NAS: every architecture trained in its own process, results in a database.

Pieces, each a small protocol: a :class:`Strategy` (``ask`` / ``tell``) proposes
architectures, constraints on the IR's params/FLOPs reject some before training, a
:class:`Store` keeps the experiment (finished trials immutable, resumable after a kill) and an
executor (``submit`` / ``poll``) runs trials, isolated, in parallel, with a timeout.
Needs the optional extra: ``pip install 'nascompile[multitrial]'`` (optuna, SQLAlchemy).

>>> from nascompile.multitrial import MultiTrialConfig, run_experiment   # doctest: +SKIP
>>> run_experiment(MultiTrialConfig("examples/digits_cnn.yaml", "runs/r1", algo="tpe", trials=8))  # doctest: +SKIP
"""
from .api import MULTITRIAL_ALGOS, add_multitrial_arguments, run_multitrial
from .executors import LocalExecutor, TrialJob, TrialOutcome, metric_of
from .objectives import Constraint, pareto_front, parse_constraint
from .runner import MultiTrialConfig, run_experiment, summarize
from .store import Store, StoreError, TrialRecord, arch_key
from .strategies import STRATEGIES, Strategy, make_strategy, register_strategy

__all__ = ["LocalExecutor", "TrialJob", "TrialOutcome", "metric_of", "Constraint", "pareto_front",
           "parse_constraint", "MultiTrialConfig", "run_experiment", "summarize", "Store",
           "StoreError", "TrialRecord", "arch_key", "STRATEGIES", "Strategy", "make_strategy",
           "register_strategy", "MULTITRIAL_ALGOS", "add_multitrial_arguments", "run_multitrial"]
