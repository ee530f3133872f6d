"""The run store: idempotent writes, clear errors on locked/corrupt/foreign files, and kill-and-resume
with a real SIGKILL and a real SIGINT."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from actlab.core.errors import StoreError
from actlab.study.store import Store
from actlab.study.trainer import TrialResult


def result(key="k1", seed=0, lr=0.01):
    return TrialResult(
        key=key,
        dataset="moons",
        activation="relu",
        seed=seed,
        lr=lr,
        metric="accuracy",
        status="ok",
        diverged_epoch=None,
        best_epoch=2,
        epochs_run=3,
        val_loss=0.3,
        val_metric=0.9,
        test_loss=float("nan"),
        test_metric=0.88,
        train_time=0.5,
        epochs_to_95=1,
        health={"dead": 0.1},
        epochs=[
            {
                "epoch": e,
                "train_loss": 1.0 / e,
                "train_metric": 0.5,
                "val_loss": 0.5,
                "val_metric": 0.8,
                "time": 0.1,
                "dead": 0.0,
                "saturated": 0.5,
                "grad_norm": [1.0, 2.0],
            }
            for e in (1, 2, 3)
        ],
    )


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_write_is_idempotent_and_round_trips(tmp_path):
    db = tmp_path / "runs" / "a.db"
    with Store(db) as s:
        sid = s.ensure_study("key", "demo", {"x": 1}, 2)
        assert s.ensure_study("key", "demo", {"x": 1}, 2) == sid
        assert s.write_trial(sid, result(), {"c": 1}) is True
        assert s.write_trial(sid, result(), {"c": 1}) is False
        sid2 = s.ensure_study("key2", "other", {}, 1)
        assert s.write_trial(sid2, result(), {"c": 1}) is False  # shared trial: linked, not duplicated
        assert s.counts() == {"studies": 2, "trials": 1, "study_trials": 2, "epochs": 3}
        t = s.trials(sid)[0]
        assert t["key"] == "k1" and t["test_metric"] == 0.88 and t["health"] == {"dead": 0.1}
        assert t["test_loss"] != t["test_loss"]  # NaN survives as NaN
        assert [e["epoch"] for e in s.epochs(sid)[t["id"]]] == [1, 2, 3]
        assert s.study("demo")["id"] == sid and s.study(str(sid2))["name"] == "other"
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(StoreError, match="no study 'nope'"):
            s.study("nope")


def test_missing_store_for_reading_is_not_created(tmp_path):
    with pytest.raises(StoreError, match="no run store"):
        Store(tmp_path / "x.db", create=False)
    assert not (tmp_path / "x.db").exists()


def test_directory_path(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)


def test_not_a_database_is_left_untouched(tmp_path):
    p = tmp_path / "a.db"
    p.write_bytes(b"this is not sqlite" * 100)
    before = sha(p)
    with pytest.raises(StoreError, match="not an actlab store"):
        Store(p)
    assert sha(p) == before


def test_foreign_sqlite_database_is_left_untouched(tmp_path):
    p = tmp_path / "a.db"
    with sqlite3.connect(p) as c:
        c.execute("CREATE TABLE accounts (id INTEGER)")
    before = sha(p)
    with pytest.raises(StoreError, match="not an actlab store"):
        Store(p)
    assert sha(p) == before


def test_corrupt_store_is_reported_and_left_untouched(tmp_path):
    p = tmp_path / "a.db"
    with Store(p) as s:
        sid = s.ensure_study("key", "demo", {}, 50)
        for i in range(50):
            s.write_trial(sid, result(f"k{i}"), {"pad": "x" * 2000})
        s.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(p.read_bytes())
    page = 4096
    for off in range(2 * page, len(data) - page, page):  # wreck every page after the schema
        data[off + 8 : off + 400] = os.urandom(392)
    p.write_bytes(bytes(data))
    before = sha(p)
    with pytest.raises(StoreError, match="corrupt"), Store(p) as s:
        s.trials(1)
    assert sha(p) == before


def test_locked_store_is_reported(tmp_path):
    p = tmp_path / "a.db"
    Store(p).close()
    other = sqlite3.connect(p, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with Store(p, timeout=0.3) as s, pytest.raises(StoreError, match="locked by another process"):
            s.ensure_study("key", "demo", {}, 1)
    finally:
        other.execute("ROLLBACK")
        other.close()


# --------------------------------------------------------------------------- kill and resume
KILL_CONFIG = textwrap.dedent("""\
    name = "killme"
    seeds = 2
    activations = ["relu", "tanh", "sigmoid", "leaky_relu"]
    datasets = [{name = "moons", n_samples = 200}, {name = "circles", n_samples = 200}]
    [model]
    depth = 1
    width = 8
    [training]
    lr_grid = [0.01, 0.03]
    max_epochs = 8
    patience = 8
""")
TOTAL = 2 * 4 * 2 * 2


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _cmd(cfg: Path, db: Path, jobs: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "actlab.study",
        "study",
        str(cfg),
        "--store",
        str(db),
        "--jobs",
        str(jobs),
        "--no-progress",
    ]


def _snapshot(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as c:
        return {r[0]: r for r in c.execute("SELECT key, id, created, test_metric, epochs_run FROM trials")}


def _check_consistent(db: Path, expected: int) -> None:
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == expected
        assert c.execute("SELECT COUNT(DISTINCT key) FROM trials").fetchone()[0] == expected
        assert c.execute("SELECT COUNT(*) FROM study_trials").fetchone()[0] == expected
        # every trial has all of its epochs, and no epoch row is orphaned or duplicated
        bad = c.execute("""SELECT t.id FROM trials t LEFT JOIN epochs e ON e.trial_id = t.id
                           GROUP BY t.id HAVING COUNT(e.epoch) != t.epochs_run""").fetchall()
        assert bad == []
        assert (
            c.execute("SELECT COUNT(*) FROM epochs WHERE trial_id NOT IN (SELECT id FROM trials)").fetchone()[
                0
            ]
            == 0
        )
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _start(cfg: Path, db: Path, jobs: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        _cmd(cfg, db, jobs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
    )


def _interrupt_after(proc: subprocess.Popen, db: Path, at_least: int, sig: int) -> tuple[int, str]:
    deadline = time.monotonic() + 240
    while _count(db) < at_least and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"the study ended before it could be interrupted:\n{proc.stdout.read()}")
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


@pytest.mark.slow
def test_kill_and_resume(tmp_path):
    """SIGKILL a study on a process pool, SIGINT the rerun, rerun again: every trial exactly once."""
    cfg = tmp_path / "study.toml"
    cfg.write_text(KILL_CONFIG)
    db = tmp_path / "runs.db"

    rc, out = _interrupt_after(_start(cfg, db, jobs=2), db, 4, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    first = _snapshot(db)
    assert 4 <= len(first) < TOTAL
    _check_consistent(db, len(first))

    rc, out = _interrupt_after(_start(cfg, db, jobs=1), db, len(first) + 4, signal.SIGINT)
    assert rc == 130, out
    assert "rerun the same command to resume" in out
    second = _snapshot(db)
    assert len(first) < len(second) < TOTAL
    _check_consistent(db, len(second))
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM studies").fetchone()[0] == "interrupted"

    rerun = subprocess.run(_cmd(cfg, db, 1), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert f"({TOTAL - len(second)} trained now, {len(second)} reused)" in rerun.stdout
    _check_consistent(db, TOTAL)
    after = _snapshot(db)
    for key, row in second.items():  # nothing stored before a kill was lost or rewritten
        assert after[key] == row
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM studies").fetchone()[0] == "complete"
