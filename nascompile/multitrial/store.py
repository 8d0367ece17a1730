"""Where a multi-trial experiment lives: one SQLite file in the run directory (any SQLAlchemy
URL works, e.g. a shared PostgreSQL database).

Contract (what every storage must keep; ``tests/test_multitrial_store.py`` checks it):

* Every write is one transaction: a reader, or a controller killed at any moment (SIGKILL
  included), sees a trial before the write or after it, never half of it.
* A finished trial (``succeeded`` or ``failed``) is immutable: changing it raises
  :class:`StoreError`.
* A trial moves ``queued -> running -> succeeded | failed``; :meth:`Store.requeue_running` puts
  trials left ``running`` by a dead controller back to ``queued`` (their partial results are
  dropped), which is what resuming does.
* An architecture is stored once per experiment (``arch_key`` is unique).

Example::

    store = Store.in_run_dir("runs/r1")
    store.open_experiment("ir-hash", "random", seed=0, config={})
    tid = store.add_trial({"op": "conv3x3"}, params=1200, flops=50_000)
    store.start(tid); store.finish(tid, "succeeded", metric=0.93)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Loc, NasError

FINISHED = ("succeeded", "failed")
DB_NAME = "trials.db"


class StoreError(NasError):
    """A broken contract (a finished trial changed) or an experiment that does not match."""


def arch_key(arch: dict) -> str:
    """The canonical text of an architecture JSON: what deduplication compares."""
    return json.dumps(arch, sort_keys=True, separators=(",", ":"))


@dataclass
class TrialRecord:
    id: int
    arch: dict
    status: str
    intermediate: list = field(default_factory=list)
    metric: float | None = None
    final: object = None
    params: int | None = None
    flops: int | None = None
    error: str | None = None
    start: float | None = None
    end: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def _sa():
    try:
        import sqlalchemy
    except ImportError:
        raise NasError("multi-trial search needs SQLAlchemy", Loc("<multitrial>"),
                       hint="pip install 'nascompile[multitrial]'") from None
    return sqlalchemy


class Store:
    """Experiment and trials tables behind SQLAlchemy Core (see the module docstring)."""

    def __init__(self, url: str):
        sa = _sa()
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(conn, _record):  # wait for a concurrent writer instead of failing
                cur = conn.cursor()
                cur.execute("PRAGMA busy_timeout = 30000")
                cur.close()
        meta = sa.MetaData()
        self.experiment = sa.Table(
            "experiment", meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("fingerprint", sa.String, nullable=False),
            sa.Column("strategy", sa.String, nullable=False),
            sa.Column("seed", sa.Integer, nullable=False),
            sa.Column("config", sa.Text, nullable=False),
            sa.Column("created", sa.Float, nullable=False))
        self.trials = sa.Table(
            "trials", meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("arch", sa.Text, nullable=False),
            sa.Column("arch_key", sa.String, nullable=False, unique=True),
            sa.Column("status", sa.String, nullable=False),
            sa.Column("intermediate", sa.Text, nullable=False, default="[]"),
            sa.Column("metric", sa.Float),
            sa.Column("final", sa.Text),
            sa.Column("params", sa.BigInteger),
            sa.Column("flops", sa.BigInteger),
            sa.Column("error", sa.Text),
            sa.Column("start", sa.Float),
            sa.Column("end", sa.Float))
        meta.create_all(self.engine)

    @classmethod
    def in_run_dir(cls, run_dir, url: str | None = None) -> "Store":
        """The store of a run directory: ``url`` or ``RUN/trials.db``."""
        if url:
            return cls(url)
        path = Path(run_dir)
        path.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(path / DB_NAME).resolve()}")

    @staticmethod
    def exists_in(run_dir) -> bool:
        return (Path(run_dir) / DB_NAME).is_file()

    # --- the experiment -------------------------------------------------------------------
    def open_experiment(self, fingerprint: str, strategy: str, seed: int, config: dict,
                        resume: bool = False) -> dict:
        """Record the experiment, or check that the stored one matches (``resume``)."""
        sa = _sa()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.experiment)).first()
            if row is None:
                conn.execute(self.experiment.insert().values(
                    id=1, fingerprint=fingerprint, strategy=strategy, seed=seed,
                    config=json.dumps(config, sort_keys=True), created=time.time()))
                return {"fingerprint": fingerprint, "strategy": strategy, "seed": seed, "config": config}
        where = Loc(self.url)
        if not resume:
            raise StoreError("this run already holds an experiment", where,
                             hint="pass --resume to continue it, or choose another run directory")
        stored = {"fingerprint": row.fingerprint, "strategy": row.strategy, "seed": row.seed}
        for key, value in (("fingerprint", fingerprint), ("strategy", strategy), ("seed", seed)):
            if stored[key] != value:
                what = "space (IR hash)" if key == "fingerprint" else key
                raise StoreError(f"cannot resume: the {what} differs ({stored[key]!r} stored, {value!r} now)",
                                 where, hint="resume with the same space, --algo and --seed")
        return {**stored, "config": json.loads(row.config)}

    def experiment_info(self) -> dict | None:
        sa = _sa()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.experiment)).first()
        if row is None:
            return None
        return {"fingerprint": row.fingerprint, "strategy": row.strategy, "seed": row.seed,
                "config": json.loads(row.config), "created": row.created}

    # --- trials ---------------------------------------------------------------------------
    def add_trial(self, arch: dict, params: int | None = None, flops: int | None = None) -> int:
        """Queue a new trial; StoreError if the architecture is already stored."""
        sa = _sa()
        try:
            with self.engine.begin() as conn:
                result = conn.execute(self.trials.insert().values(
                    arch=json.dumps(arch, sort_keys=True), arch_key=arch_key(arch), status="queued",
                    intermediate="[]", params=params, flops=flops))
                return int(result.inserted_primary_key[0])
        except sa.exc.IntegrityError:
            raise StoreError(f"architecture already stored: {arch_key(arch)}", Loc(self.url)) from None

    def _update(self, trial_id: int, allowed: tuple, **values) -> None:
        sa = _sa()
        t = self.trials
        with self.engine.begin() as conn:
            n = conn.execute(t.update().where(t.c.id == trial_id, t.c.status.in_(allowed))
                             .values(**values)).rowcount
            if n != 1:
                row = conn.execute(sa.select(t.c.status).where(t.c.id == trial_id)).first()
                state = "no such trial" if row is None else f"the trial is {row.status}"
                raise StoreError(f"trial {trial_id}: cannot set {sorted(values)} ({state}; "
                                 f"finished trials are immutable)", Loc(self.url))

    def start(self, trial_id: int) -> None:
        self._update(trial_id, ("queued",), status="running", start=time.time(), end=None)

    def add_intermediate(self, trial_id: int, values: list) -> None:
        """Replace the intermediate results of a running trial."""
        self._update(trial_id, ("running",), intermediate=json.dumps(values))

    def finish(self, trial_id: int, status: str, metric: float | None = None, final=None,
               intermediate: list | None = None, error: str | None = None) -> None:
        if status not in FINISHED:
            raise ValueError(f"a trial finishes as one of {FINISHED}, not {status!r}")
        values = dict(status=status, metric=metric, final=json.dumps(final), error=error, end=time.time())
        if intermediate is not None:
            values["intermediate"] = json.dumps(intermediate)
        self._update(trial_id, ("queued", "running"), **values)

    def requeue_running(self) -> list[int]:
        """Put the trials a dead controller left ``running`` back in the queue."""
        sa = _sa()
        t = self.trials
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(sa.select(t.c.id).where(t.c.status == "running"))]
            if ids:
                conn.execute(t.update().where(t.c.id.in_(ids), t.c.status == "running").values(
                    status="queued", start=None, intermediate="[]"))
        return ids

    def get(self, trial_id: int) -> TrialRecord:
        sa = _sa()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.trials).where(self.trials.c.id == trial_id)).first()
        if row is None:
            raise StoreError(f"no trial {trial_id}", Loc(self.url))
        return _record(row)

    def all_trials(self, status: str | None = None) -> list[TrialRecord]:
        sa = _sa()
        query = sa.select(self.trials).order_by(self.trials.c.id)
        if status is not None:
            query = query.where(self.trials.c.status == status)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()


def _record(row) -> TrialRecord:
    return TrialRecord(id=row.id, arch=json.loads(row.arch), status=row.status,
                       intermediate=json.loads(row.intermediate or "[]"), metric=row.metric,
                       final=json.loads(row.final) if row.final else None, params=row.params,
                       flops=row.flops, error=row.error, start=row.start, end=row.end)
