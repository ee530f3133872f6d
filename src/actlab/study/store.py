"""The run store: one SQLite file (WAL, busy_timeout), written by the driver alone.

Tables:

- ``studies``: one row per study configuration (keyed by the hash of its config).
- ``trials``: one row per trained model, keyed (UNIQUE) by the hash of its full
  configuration, so a rerun finds what is done and trains only the rest; a
  trial shared by two studies is trained once.
- ``study_trials``: which trials belong to which study.
- ``epochs``: per-epoch metrics of each trial.

Each finished trial is written with its epochs and its study link in one
transaction: a kill at any moment leaves either the whole trial or nothing.
A file that is not an actlab store, is corrupt or stays locked raises
``StoreError`` and is never modified.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core.errors import StoreError

SCHEMA_VERSION = 1
DEFAULT_STORE = Path("actlab-runs") / "actlab.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    n_planned INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    report TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    dataset TEXT NOT NULL,
    activation TEXT NOT NULL,
    seed INTEGER NOT NULL,
    lr REAL NOT NULL,
    metric TEXT NOT NULL,
    status TEXT NOT NULL,
    diverged_epoch INTEGER,
    best_epoch INTEGER NOT NULL,
    epochs_run INTEGER NOT NULL,
    val_loss REAL, val_metric REAL, test_loss REAL, test_metric REAL,
    train_time REAL NOT NULL,
    epochs_to_95 INTEGER,
    health TEXT NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS study_trials (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    PRIMARY KEY (study_id, trial_id)
);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    epoch INTEGER NOT NULL,
    train_loss REAL, train_metric REAL, val_loss REAL, val_metric REAL,
    time REAL, dead REAL, saturated REAL,
    grad_norm TEXT,
    extra TEXT,
    PRIMARY KEY (trial_id, epoch)
);
CREATE INDEX IF NOT EXISTS trials_by_group ON trials (dataset, activation);
"""

TRIAL_FIELDS = (
    "key",
    "dataset",
    "activation",
    "seed",
    "lr",
    "metric",
    "status",
    "diverged_epoch",
    "best_epoch",
    "epochs_run",
    "val_loss",
    "val_metric",
    "test_loss",
    "test_metric",
    "train_time",
    "epochs_to_95",
)


def _num(x: Any) -> Any:
    """SQLite stores NaN as NULL; keep +-inf as text-free floats."""
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


class Store:
    """An open run store. ``create=False`` refuses to create a missing file (for read commands)."""

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_STORE, *, create: bool = True, timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        p = self.path
        if p.exists() and p.is_dir():
            raise StoreError(f"store path {p} is a directory; give a file path such as {p / 'actlab.db'}")
        if not p.exists():
            if not create:
                raise StoreError(f"no run store at {p} (run `actlab study` first, or pass --store PATH)")
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the store's folder {p.parent}: {e}") from None
        elif not os.access(p, os.R_OK):
            raise StoreError(f"store {p} is not readable (permission denied)")
        fresh = not p.exists() or p.stat().st_size == 0
        try:
            self.db = sqlite3.connect(str(p), timeout=timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open store {p}: {e}") from None
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._check_existing(fresh)
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal" and not self._read_only():
                raise StoreError(f"store {p}: could not switch to WAL journal mode (got {mode})")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            if fresh or not self._has_table("meta"):
                with self._tx():
                    for statement in _statements(_SCHEMA):
                        self.db.execute(statement)
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('app', 'actlab')")
                    self.db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
        except StoreError:
            self.db.close()
            raise
        except sqlite3.OperationalError as e:
            self.db.close()
            raise _explain(p, e, timeout) from None
        except sqlite3.DatabaseError as e:
            self.db.close()
            raise StoreError(
                f"store {p} is corrupt or not an SQLite database ({e}); "
                "it was left untouched: move it away or pass --store NEW_PATH"
            ) from None

    # -- opening checks -------------------------------------------------------------------
    def _read_only(self) -> bool:
        return not os.access(self.path, os.W_OK)

    def _has_table(self, name: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
            is not None
        )

    def _check_existing(self, fresh: bool) -> None:
        p = self.path
        if fresh:
            return
        with open(p, "rb") as fh:
            head = fh.read(16)
        if head != b"SQLite format 3\x00":
            raise StoreError(
                f"{p} is not an actlab store (not an SQLite database); "
                "it was left untouched: move it away or pass --store NEW_PATH"
            )
        ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise StoreError(
                f"store {p} is corrupt (quick_check: {ok}); it was left untouched: "
                "move it away or pass --store NEW_PATH"
            )
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return
        if "meta" not in tables:
            raise StoreError(
                f"{p} is an SQLite database but not an actlab store (tables: "
                f"{', '.join(sorted(tables))}); it was left untouched"
            )
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != "actlab":
            raise StoreError(f"{p} is not an actlab store; it was left untouched")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {p} has schema version {version}, newer than this actlab "
                f"understands ({SCHEMA_VERSION}); upgrade actlab"
            )
        missing = {"studies", "trials", "study_trials", "epochs"} - tables
        if missing:
            raise StoreError(
                f"store {p} is incomplete (missing tables {', '.join(sorted(missing))}); "
                "it was left untouched"
            )

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise _explain(self.path, e, self.timeout) from None
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise _explain(self.path, e, self.timeout) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------
    def ensure_study(self, key: str, name: str, config: dict[str, Any], n_planned: int) -> int:
        now = time.time()
        try:
            with self._tx():
                row = self.db.execute("SELECT id FROM studies WHERE key = ?", (key,)).fetchone()
                if row:
                    self.db.execute(
                        "UPDATE studies SET updated = ?, status = 'running' WHERE id = ?", (now, row[0])
                    )
                    return int(row[0])
                cur = self.db.execute(
                    "INSERT INTO studies (key, name, config, n_planned, created, updated) "
                    "VALUES (?,?,?,?,?,?)",
                    (key, name, json.dumps(config, sort_keys=True), n_planned, now, now),
                )
                return int(cur.lastrowid)  # type: ignore[arg-type]
        except sqlite3.Error as e:
            raise _explain(self.path, e, self.timeout) from None

    def existing(self, keys: Iterable[str]) -> dict[str, int]:
        """Trial ids of the keys already stored."""
        out: dict[str, int] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT key, id FROM trials WHERE key IN ({','.join('?' * len(chunk))})"
            out.update({k: int(v) for k, v in self.db.execute(q, chunk)})
        return out

    def link(self, study_id: int, trial_ids: Iterable[int]) -> None:
        ids = list(trial_ids)
        if not ids:
            return
        with self._tx():
            self.db.executemany(
                "INSERT OR IGNORE INTO study_trials VALUES (?, ?)", [(study_id, t) for t in ids]
            )

    def write_trial(self, study_id: int, result: Any, config: dict[str, Any]) -> bool:
        """Store one finished trial, its epochs and its study link in one transaction.

        Returns False (and changes nothing but the link) if a trial with that key is already stored.
        """
        r = result
        now = time.time()
        try:
            with self._tx():
                row = self.db.execute("SELECT id FROM trials WHERE key = ?", (r.key,)).fetchone()
                if row:
                    self.db.execute("INSERT OR IGNORE INTO study_trials VALUES (?, ?)", (study_id, row[0]))
                    return False
                values = [_num(getattr(r, f)) for f in TRIAL_FIELDS]
                cur = self.db.execute(
                    f"INSERT INTO trials ({', '.join(TRIAL_FIELDS)}, health, config, created) "
                    f"VALUES ({', '.join('?' * (len(TRIAL_FIELDS) + 3))})",
                    [*values, json.dumps(r.health, allow_nan=True), json.dumps(config, sort_keys=True), now],
                )
                tid = int(cur.lastrowid)  # type: ignore[arg-type]
                rows = []
                for e in r.epochs:
                    extra = {k: v for k, v in e.items() if k not in _EPOCH_COLUMNS}
                    rows.append(
                        (
                            tid,
                            e["epoch"],
                            _num(e.get("train_loss")),
                            _num(e.get("train_metric")),
                            _num(e.get("val_loss")),
                            _num(e.get("val_metric")),
                            e.get("time"),
                            _num(e.get("dead")),
                            _num(e.get("saturated")),
                            json.dumps(e.get("grad_norm")),
                            json.dumps(extra) if extra else None,
                        )
                    )
                self.db.executemany("INSERT INTO epochs VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
                self.db.execute("INSERT OR IGNORE INTO study_trials VALUES (?, ?)", (study_id, tid))
                self.db.execute("UPDATE studies SET updated = ? WHERE id = ?", (now, study_id))
                return True
        except sqlite3.Error as e:
            raise _explain(self.path, e, self.timeout) from None

    def finish_study(self, study_id: int, status: str, report: str | None = None) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE studies SET status = ?, report = COALESCE(?, report), updated = ? WHERE id = ?",
                (status, report, time.time(), study_id),
            )

    # -- reading ------------------------------------------------------------------------
    def studies(self) -> list[dict[str, Any]]:
        q = """SELECT s.id, s.name, s.key, s.status, s.n_planned, s.created, s.updated, s.report,
                      COUNT(st.trial_id)
               FROM studies s LEFT JOIN study_trials st ON st.study_id = s.id
               GROUP BY s.id ORDER BY s.id"""
        cols = ("id", "name", "key", "status", "n_planned", "created", "updated", "report", "n_done")
        return [dict(zip(cols, r, strict=True)) for r in self.db.execute(q)]

    def study(self, ref: str | int) -> dict[str, Any]:
        """A study by id, by name (the newest of that name) or by a prefix of its key."""
        rows = self.studies()
        ref_s = str(ref).strip()
        hit = [s for s in rows if str(s["id"]) == ref_s]
        if not hit:
            hit = [s for s in rows if s["name"] == ref_s]
        if not hit and len(ref_s) >= 4:
            hit = [s for s in rows if s["key"].startswith(ref_s)]
        if not hit:
            known = ", ".join(f"{s['id']} ({s['name']})" for s in rows[-10:]) or "none yet"
            raise StoreError(f"no study {ref_s!r} in {self.path}; studies: {known}")
        s = dict(hit[-1])
        s["config"] = json.loads(
            self.db.execute("SELECT config FROM studies WHERE id = ?", (s["id"],)).fetchone()[0]
        )
        return s

    def trials(self, study_id: int) -> list[dict[str, Any]]:
        q = f"""SELECT t.id, {", ".join("t." + f for f in TRIAL_FIELDS)}, t.health
                FROM trials t JOIN study_trials st ON st.trial_id = t.id
                WHERE st.study_id = ? ORDER BY t.dataset, t.activation, t.lr, t.seed"""
        out = []
        for row in self.db.execute(q, (study_id,)):
            d = dict(zip(("id", *TRIAL_FIELDS), row[:-1], strict=True))
            d["health"] = json.loads(row[-1])
            for k in ("val_loss", "val_metric", "test_loss", "test_metric"):
                if d[k] is None:
                    d[k] = math.nan
            out.append(d)
        return out

    def epochs(self, study_id: int) -> dict[int, list[dict[str, Any]]]:
        q = """SELECT e.trial_id, e.epoch, e.train_loss, e.train_metric, e.val_loss, e.val_metric, e.time,
                      e.dead, e.saturated, e.grad_norm
               FROM epochs e JOIN study_trials st ON st.trial_id = e.trial_id
               WHERE st.study_id = ? ORDER BY e.trial_id, e.epoch"""
        cols = (
            "epoch",
            "train_loss",
            "train_metric",
            "val_loss",
            "val_metric",
            "time",
            "dead",
            "saturated",
            "grad_norm",
        )
        out: dict[int, list[dict[str, Any]]] = {}
        for row in self.db.execute(q, (study_id,)):
            d = dict(zip(cols, row[1:], strict=True))
            d["grad_norm"] = json.loads(d["grad_norm"]) if d["grad_norm"] else None
            out.setdefault(row[0], []).append(d)
        return out

    def counts(self) -> dict[str, int]:
        return {
            t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in ("studies", "trials", "study_trials", "epochs")
        }


_EPOCH_COLUMNS = {
    "epoch",
    "train_loss",
    "train_metric",
    "val_loss",
    "val_metric",
    "time",
    "dead",
    "saturated",
    "grad_norm",
}


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _explain(path: Path, e: sqlite3.Error, timeout: float) -> StoreError:
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return StoreError(
            f"store {path} is locked by another process (waited {timeout:g} s); "
            "wait for it to finish or pass --store OTHER_PATH"
        )
    if "readonly" in msg or "read-only" in msg:
        return StoreError(f"store {path} is read-only; pass --store to a writable path")
    if "malformed" in msg or "not a database" in msg or "corrupt" in msg:
        return StoreError(
            f"store {path} is corrupt ({msg}); it was left untouched: move it away or pass --store NEW_PATH"
        )
    return StoreError(f"store {path}: {msg}")
