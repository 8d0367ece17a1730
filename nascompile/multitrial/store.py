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
* A store is data from a run folder: :meth:`Store.open_readonly` (what ``trials``, ``report``
  and ``ui`` use) never writes, not even tables into an empty file, and refuses a file that is
  not an SQLite database of this schema; every row read is checked (its JSON parsed with
  limits, its status known, a succeeded trial's metric a number), and whatever is wrong is one
  :class:`StoreError` naming the database and the trial.

Example::

    store = Store.in_run_dir("runs/r1")
    store.open_experiment("ir-hash", "random", seed=0, config={})
    tid = store.add_trial({"op": "conv3x3"}, params=1200, flops=50_000)
    store.start(tid); store.finish(tid, "succeeded", metric=0.93)
"""
from __future__ import annotations

import functools
import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Loc, NasError, clip, parse_json

FINISHED = ("succeeded", "failed")
STATUSES = ("queued", "running") + FINISHED
DB_NAME = "trials.db"
COLUMNS = {"experiment": {"id", "fingerprint", "strategy", "seed", "config", "created"},
           "trials": {"id", "arch", "arch_key", "status", "intermediate", "metric", "final", "params", "flops",
                      "error", "start", "end"}}
MAX_TEXT = 10_000_000  # characters of one stored JSON value


class StoreError(NasError):
    """A broken contract (a finished trial changed) or an experiment that does not match."""


def arch_key(arch: dict) -> str:
    """The canonical text of an architecture JSON: what deduplication compares."""
    import json

    return json.dumps(arch, sort_keys=True, separators=(",", ":"))


def _dumps(value) -> str:
    import json

    return json.dumps(value, sort_keys=True)


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


def _guarded(method):
    """A database error (a damaged file, another schema) is one StoreError naming the store."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        sa = _sa()
        try:
            return method(self, *args, **kwargs)
        except sa.exc.SQLAlchemyError as err:
            orig = getattr(err, "orig", None) or err
            first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
            raise StoreError(f"the trials database cannot be read: {clip(first, 160)}", Loc(self.where),
                             hint="the run folder is damaged or not made by nascompile") from None
        except (ValueError, TypeError, OverflowError) as err:  # a column holding a value of another type
            raise StoreError(f"the trials database holds a value of the wrong type ({clip(str(err), 120)})",
                             Loc(self.where), hint="the run folder is damaged or not made by nascompile") from None
    return wrapper


class Store:
    """Experiment and trials tables behind SQLAlchemy Core (see the module docstring)."""

    def __init__(self, url: str, readonly: bool = False, where: str | None = None):
        sa = _sa()
        self.url = url
        self.where = where or url
        self.readonly = readonly
        if readonly:
            import sqlite3
            from urllib.parse import quote

            target = f"file:{quote(str(Path(self.where).resolve()), safe='/')}?mode=ro"
            self.engine = sa.create_engine("sqlite://", future=True,
                                           creator=lambda: sqlite3.connect(target, uri=True, timeout=30))
        else:
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
        self._open(meta)

    @_guarded
    def _open(self, meta) -> None:
        sa = _sa()
        if not self.readonly:
            try:
                meta.create_all(self.engine)
            except sa.exc.OperationalError as err:  # another process made them between check and create
                if "already exists" not in str(err):
                    raise
                meta.create_all(self.engine)
        found = sa.inspect(self.engine)
        for table, columns in COLUMNS.items():
            if not found.has_table(table):
                raise StoreError(f"not a nascompile trials database (no table '{table}')", Loc(self.where),
                                 hint="pass the folder of a multi-trial search run")
            have = {c["name"] for c in found.get_columns(table)}
            if not columns <= have:
                raise StoreError(f"not a nascompile trials database: table '{table}' lacks "
                                 f"{', '.join(sorted(columns - have))}", Loc(self.where))

    @classmethod
    def in_run_dir(cls, run_dir, url: str | None = None) -> "Store":
        """The store of a run directory: ``url`` or ``RUN/trials.db`` (made when missing)."""
        if url:
            return cls(url)
        path = Path(run_dir)
        path.mkdir(parents=True, exist_ok=True)
        db = path / DB_NAME
        if db.exists() or db.is_symlink():
            _check_file(db)
        return cls(f"sqlite:///{db.resolve()}", where=str(db))

    @classmethod
    def open_readonly(cls, run_dir, url: str | None = None) -> "Store":
        """The store of a run directory for reading only: nothing is ever written to it (a
        missing, special, linked-out or non-SQLite file is one StoreError)."""
        if url:
            return cls(url)  # a database server the user named: its own permissions apply
        db = Path(run_dir) / DB_NAME
        if not db.exists() and not db.is_symlink():
            raise StoreError("not a multi-trial run (no trials.db)", Loc(str(run_dir)),
                             hint="run 'nascompile search SPACE --algo random-trials --trials N -o RUN' first")
        _check_file(db)
        return cls(f"sqlite:///{db.resolve()}", readonly=True, where=str(db))

    @staticmethod
    def exists_in(run_dir) -> bool:
        """Whether the run folder has something named ``trials.db`` (opening it checks what)."""
        db = Path(run_dir) / DB_NAME
        return db.exists() or db.is_symlink()

    # --- the experiment -------------------------------------------------------------------
    @_guarded
    def open_experiment(self, fingerprint: str, strategy: str, seed: int, config: dict,
                        resume: bool = False) -> dict:
        """Record the experiment, or check that the stored one matches (``resume``)."""
        sa = _sa()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.experiment)).first()
            if row is None:
                conn.execute(self.experiment.insert().values(
                    id=1, fingerprint=fingerprint, strategy=strategy, seed=seed,
                    config=_dumps(config), created=time.time()))
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
        return {**stored, "config": self._json(row.config, "the experiment's config", dict)}

    @_guarded
    def experiment_info(self) -> dict | None:
        sa = _sa()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.experiment)).first()
        if row is None:
            return None
        for name, types in (("fingerprint", str), ("strategy", str), ("seed", int)):
            value = getattr(row, name)
            if not isinstance(value, types) or isinstance(value, bool):
                raise StoreError(f"the experiment's {name} is {clip(repr(value), 40)}", Loc(self.where))
        created = row.created if isinstance(row.created, (int, float)) else None
        return {"fingerprint": row.fingerprint, "strategy": clip(row.strategy, 200), "seed": row.seed,
                "config": self._json(row.config, "the experiment's config", dict), "created": created}

    def _json(self, text, what: str, kind=None, default=None):
        """A JSON column, parsed with limits; anything else is one StoreError naming it."""
        if text is None:
            return default
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise StoreError(f"{what} is not JSON text", Loc(self.where))
        value = parse_json(text, StoreError, self.where, f"JSON in {what}", allow_nan=True)
        if kind is not None and not isinstance(value, kind):
            raise StoreError(f"{what} is not a JSON {'object' if kind is dict else 'list'}", Loc(self.where))
        return value

    # --- trials ---------------------------------------------------------------------------
    @_guarded
    def add_trial(self, arch: dict, params: int | None = None, flops: int | None = None) -> int:
        """Queue a new trial; StoreError if the architecture is already stored."""
        sa = _sa()
        try:
            with self.engine.begin() as conn:
                result = conn.execute(self.trials.insert().values(
                    arch=_dumps(arch), arch_key=arch_key(arch), status="queued",
                    intermediate="[]", params=params, flops=flops))
                return int(result.inserted_primary_key[0])
        except sa.exc.IntegrityError:
            raise StoreError(f"architecture already stored: {arch_key(arch)}", Loc(self.url)) from None

    @_guarded
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
        self._update(trial_id, ("running",), intermediate=_dumps(values))

    def finish(self, trial_id: int, status: str, metric: float | None = None, final=None,
               intermediate: list | None = None, error: str | None = None) -> None:
        if status not in FINISHED:
            raise ValueError(f"a trial finishes as one of {FINISHED}, not {status!r}")
        values = dict(status=status, metric=metric, final=_dumps(final), error=error, end=time.time())
        if intermediate is not None:
            values["intermediate"] = _dumps(intermediate)
        self._update(trial_id, ("queued", "running"), **values)

    @_guarded
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

    @_guarded
    def get(self, trial_id: int) -> TrialRecord:
        sa = _sa()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.trials).where(self.trials.c.id == trial_id)).first()
        if row is None:
            raise StoreError(f"no trial {trial_id}", Loc(self.url))
        return self._record(row)

    @_guarded
    def all_trials(self, status: str | None = None) -> list[TrialRecord]:
        sa = _sa()
        query = sa.select(self.trials).order_by(self.trials.c.id)
        if status is not None:
            query = query.where(self.trials.c.status == status)
        with self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()

    def _record(self, row) -> TrialRecord:
        """A row as a TrialRecord, every field checked (a crafted database is one error line)."""
        def bad(what: str) -> StoreError:
            return StoreError(f"trial {clip(repr(row.id), 20)}: {what}", Loc(self.where),
                              hint="the run folder is damaged or not made by nascompile")

        if not isinstance(row.id, int) or isinstance(row.id, bool):
            raise bad("its id is not a whole number")
        if row.status not in STATUSES:
            raise bad(f"unknown status {clip(repr(row.status), 40)}")
        arch = self._json(row.arch, f"trial {row.id}'s architecture", dict)
        if arch is None:
            raise bad("no architecture")
        metric = row.metric
        if metric is not None and (isinstance(metric, bool) or not isinstance(metric, (int, float))):
            raise bad(f"its metric is {clip(repr(metric), 40)}, not a number")
        if row.status == "succeeded" and (metric is None or not math.isfinite(metric)):
            raise bad("it succeeded without a metric" if metric is None else f"its metric is {metric}")
        for name in ("params", "flops"):
            v = getattr(row, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise bad(f"its {name} is {clip(repr(v), 40)}, not a whole number")
        for name in ("start", "end"):
            v = getattr(row, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise bad(f"its {name} time is {clip(repr(v), 40)}")
        if row.error is not None and not isinstance(row.error, str):
            raise bad("its error is not text")
        return TrialRecord(id=row.id, arch=arch, status=row.status,
                           intermediate=self._json(row.intermediate or "[]", f"trial {row.id}'s intermediate results",
                                                   list, []),
                           metric=None if metric is None else float(metric),
                           final=self._json(row.final, f"trial {row.id}'s final result") if row.final else None,
                           params=row.params, flops=row.flops, error=row.error, start=row.start, end=row.end)


SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_file(db: Path) -> None:
    """``trials.db`` must be the run's own regular file and an SQLite database (or empty)."""
    if db.is_symlink():
        raise StoreError("trials.db is a symbolic link; a run's files are its own", Loc(str(db)),
                         hint="replace the link by the database itself")
    try:
        info = os.stat(db)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError("trials.db is not a regular file", Loc(str(db)))
        with open(db, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise StoreError(f"cannot read trials.db: {err.strerror or err}", Loc(str(db))) from None
    if head and head != SQLITE_MAGIC:
        raise StoreError("trials.db is not an SQLite database", Loc(str(db)),
                         hint="the run folder is damaged or not made by nascompile")
