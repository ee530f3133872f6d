"""Running a study: plan the trials, skip the stored ones, execute the rest, store, report.

Executors yield ``(unit, results)`` as units finish; the driver alone writes
the store, one transaction per trial, so a kill (SIGINT or SIGKILL) at any
moment loses at most the units in flight, and a rerun trains only those.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.errors import ActlabError, ConfigError
from .config import StudyConfig, digest
from .store import DEFAULT_STORE, Store
from .trainer import Member, TrialResult, Unit, make_arch, train_ensemble


@dataclass
class Plan:
    units: list[Unit]
    configs: dict[str, dict[str, Any]]  # trial key -> full trial config
    stored: dict[str, int]  # trial key -> id, for trials already in the store
    total: int


@dataclass
class Outcome:
    study_id: int
    name: str
    store: Path
    analysis: Any
    report: dict[str, Path]
    new: int
    reused: int
    total: int
    wall_time: float
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check(config: StudyConfig) -> dict[str, Any]:
    """Everything that can fail before training: activations resolve, datasets load, models fit the data."""
    from .datasets import load

    for a in config.activations:
        a.resolve()
    sizes = {}
    for d in config.datasets:
        ds = load(d)
        make_arch(ds, config.model)  # a CNN on tabular data fails here
        sizes[d.label] = ds.X.size
    return sizes


def plan(
    config: StudyConfig, store: Store | None = None, sizes: dict[str, int] | None = None, jobs: int = 1
) -> Plan:
    configs: dict[str, dict[str, Any]] = {}
    units: list[Unit] = []
    for d in config.datasets:
        for a in config.activations:
            members = []
            for lr in config.training.lr_grid:
                for seed in config.seeds:
                    tc = config.trial_config(d, a, seed, lr)
                    key = digest(tc)
                    configs[key] = tc
                    members.append(Member(seed, lr, key))
            units.append(Unit(d, a, config.model, config.training, config.split, members))
    stored = store.existing(configs) if store is not None else {}
    todo = []
    for u in units:
        left = [m for m in u.members if m.key not in stored]
        if left:
            todo.append(replace(u, members=left))
    sizes = sizes or {}
    todo.sort(key=lambda u: -(sizes.get(u.dataset.label, 0) * len(u.members)))
    # keep every worker busy: split the biggest units while there are fewer units than workers
    while 0 < len(todo) < jobs:
        big = max(todo, key=lambda u: len(u.members))
        if len(big.members) < 2:
            break
        half = len(big.members) // 2
        todo.remove(big)
        todo += [replace(big, members=big.members[:half]), replace(big, members=big.members[half:])]
    return Plan(todo, configs, stored, len(configs))


# --------------------------------------------------------------------------- executors
def _worker_init() -> None:
    """Process-pool worker: one torch thread, ignore Ctrl-C (the driver handles it), die with the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    import torch

    torch.set_num_threads(1)


def run_unit(unit: Unit) -> list[TrialResult]:
    """Entry point of a worker (process pool or Ray task)."""
    import torch

    torch.set_num_threads(1)
    return train_ensemble(unit)


def run_local(units: list[Unit], jobs: int) -> Iterator[tuple[Unit, list[TrialResult] | BaseException]]:
    if jobs <= 1 or len(units) <= 1:
        import torch

        torch.set_num_threads(1)
        for u in units:
            try:
                res: list[TrialResult] | BaseException = train_ensemble(u)
            except Exception as e:  # reported as a failed unit, as the process pool does
                res = e
            yield u, res
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ex = ProcessPoolExecutor(
        max_workers=min(jobs, len(units)), mp_context=mp.get_context("spawn"), initializer=_worker_init
    )
    futures = {ex.submit(run_unit, u): u for u in units}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                exc = f.exception()
                yield futures[f], (exc if exc is not None else f.result())
    finally:
        for f in futures:
            f.cancel()
        procs = list(getattr(ex, "_processes", {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # the pool's own workers: stop units still in flight
            with contextlib.suppress(Exception):
                if p.is_alive():
                    p.terminate()
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(timeout=5)


def run_ray(
    units: list[Unit], address: str | None, jobs: int | None
) -> Iterator[tuple[Unit, list[TrialResult] | BaseException]]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'actlab[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address in (None, "", "local"):
            kwargs["num_cpus"] = jobs or default_jobs()
            ray.init(**kwargs)
        else:
            ray.init(address=address, **kwargs)
        started = True
    task = ray.remote(num_cpus=1, max_retries=1)(run_unit)
    refs = {task.remote(u): u for u in units}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for r in done:
                try:
                    yield refs[r], ray.get(r)
                except Exception as e:  # a failed task: reported, the study goes on
                    yield refs[r], getattr(e, "cause", None) or e
    finally:
        for r in pending:
            with contextlib.suppress(Exception):
                ray.cancel(r, force=True)
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------- MLflow
class MlflowLogger:
    """Logs each newly stored trial as an MLflow run (params, per-epoch and final metrics)."""

    def __init__(self, uri: str, experiment: str) -> None:
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError("--mlflow-uri needs MLflow: pip install 'actlab[mlflow]'") from None
        self.mlflow = mlflow
        if uri.startswith("file:") or "://" not in uri:
            # MLflow 3 keeps its file store behind an opt-in; a file URI given here is that opt-in.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = MlflowClient(tracking_uri=uri)
            exp = self.client.get_experiment_by_name(experiment)
            self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(experiment)
        except Exception as e:  # checked before any training starts
            raise ConfigError(f"--mlflow-uri {uri}: MLflow cannot use this tracking URI: {e}") from None
        self.failed = False

    def log(self, r: TrialResult, config: dict[str, Any], study: str) -> None:
        if self.failed:
            return
        from mlflow.entities import Metric, Param, RunTag

        try:
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"{r.dataset}/{r.activation}/s{r.seed}/lr{r.lr:g}",
                tags={"actlab.study": study, "actlab.trial_key": r.key, "actlab.status": r.status},
            )
            rid = run.info.run_id
            params = {
                "dataset": r.dataset,
                "activation": r.activation,
                "seed": r.seed,
                "lr": r.lr,
                "model": str(config.get("model")),
                "training": str(config.get("training")),
            }
            now = int(time.time() * 1000)
            metrics = [
                Metric(k, float(v), now, 0)
                for k, v in (
                    ("test_" + r.metric, r.test_metric),
                    ("test_loss", r.test_loss),
                    ("val_" + r.metric, r.val_metric),
                    ("val_loss", r.val_loss),
                    ("train_time", r.train_time),
                    ("best_epoch", r.best_epoch),
                )
                if v is not None and math.isfinite(float(v))
            ]
            for e in r.epochs:
                for k in ("train_loss", "train_metric", "val_loss", "val_metric", "dead", "saturated"):
                    v = e.get(k)
                    if v is not None and math.isfinite(float(v)):
                        metrics.append(Metric(f"epoch_{k}", float(v), now, int(e["epoch"])))
            self.client.log_batch(
                rid,
                metrics=metrics[:1000],
                params=[Param(k, str(v)[:500]) for k, v in params.items()],
                tags=[RunTag("actlab.diverged_epoch", str(r.diverged_epoch))],
            )
            for i in range(1000, len(metrics), 1000):
                self.client.log_batch(rid, metrics=metrics[i : i + 1000])
            self.client.set_terminated(rid, "FINISHED")
        except Exception as e:  # MLflow is a mirror: the store already has the trial
            self.failed = True
            warnings.warn(f"MLflow logging stopped: {e}", stacklevel=2)


# --------------------------------------------------------------------------- the driver
def run_study(
    config: StudyConfig,
    *,
    store_path: str | os.PathLike[str] = DEFAULT_STORE,
    jobs: int | None = None,
    ray: str | None = None,
    mlflow_uri: str | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    console: Any = None,
    on_result: Callable[[TrialResult], None] | None = None,
) -> Outcome:
    """Run (or resume) ``config``; returns the analysis and the report paths.

    ``ray``: None for the local process pool, "local" for a fresh local Ray
    instance, or a cluster address.
    """
    from rich.console import Console

    console = console or Console(stderr=True)
    t_start = time.perf_counter()
    jobs = jobs or default_jobs()
    sizes = check(config)  # before the store is touched or anything is trained
    logger = MlflowLogger(mlflow_uri, f"actlab/{config.name}") if mlflow_uri else None
    store = Store(store_path)
    try:
        prior = [r for r in store.studies() if r["key"] == config.key]
        prior_status = prior[0]["status"] if prior else None
        study_id = store.ensure_study(config.key, config.name, config.as_dict(), config.n_trials)
        p = plan(config, store, sizes, jobs)
        store.link(study_id, p.stored.values())
        n_missing = sum(len(u.members) for u in p.units)
        new, failures, interrupted = 0, [], False
        best: dict[str, tuple[float, str]] = {}
        if n_missing:
            execu = run_ray(p.units, ray, jobs) if ray is not None else run_local(p.units, jobs)
            with _progress(console, progress, n_missing, len(p.stored), jobs, ray) as bar:
                try:
                    for unit, res in execu:
                        if isinstance(res, BaseException):
                            msg = (
                                f"{unit.dataset.label} x {unit.activation.label}: {type(res).__name__}: {res}"
                            )
                            failures.append(msg)
                            console.print(f"[red]unit failed[/red] {msg}")
                            if not isinstance(res, ActlabError):
                                console.print("".join(traceback.format_exception(res)).rstrip(), markup=False)
                            bar.advance(len(unit.members))
                            continue
                        for r in res:
                            if store.write_trial(study_id, r, p.configs[r.key]):
                                new += 1
                                if logger:
                                    logger.log(r, p.configs[r.key], config.name)
                            if on_result:
                                on_result(r)
                        _track_best(best, unit, res)
                        bar.advance(len(res), best=_best_text(best))
                except KeyboardInterrupt:
                    interrupted = True
        analysis = None
        report: dict[str, Path] = {}
        trials = store.trials(study_id)
        if trials:
            from .stats import analyze

            analysis = analyze(trials, config.baseline)
        done = len(trials)
        complete = done >= config.n_trials and not failures
        out_dir = Path(report_dir) if report_dir else _report_dir(store.path, study_id, config.name)
        previous = {
            k: out_dir / f
            for k, f in (
                ("html", "report.html"),
                ("md", "report.md"),
                ("csv", "summary.csv"),
                ("trials_csv", "trials.csv"),
            )
        }
        up_to_date = (
            new == 0
            and complete
            and prior_status == "complete"
            and all(f.exists() for f in previous.values())
        )
        if up_to_date:  # nothing new since the complete report was written
            report = previous
        elif analysis is not None and not interrupted:
            from .report import write_report

            report = write_report(
                out_dir,
                config,
                analysis,
                store.epochs(study_id),
                trials,
                study_id=study_id,
                store_path=store.path,
                partial=not complete,
            )
        store.finish_study(
            study_id,
            "complete" if complete else ("interrupted" if interrupted else "partial"),
            str(report.get("html")) if report else None,
        )
        return Outcome(
            study_id,
            config.name,
            store.path,
            analysis,
            report,
            new,
            len(p.stored),
            done,
            time.perf_counter() - t_start,
            failures,
            interrupted,
        )
    finally:
        store.close()


def _report_dir(store_path: Path, study_id: int, name: str) -> Path:
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40] or "study"
    return store_path.parent / "reports" / f"{study_id:04d}-{slug}"


def _track_best(best: dict[str, tuple[float, str]], unit: Unit, res: list[TrialResult]) -> None:
    by_lr: dict[float, list[float]] = {}
    for r in res:
        if math.isfinite(r.val_metric):
            by_lr.setdefault(r.lr, []).append(r.val_metric)
    for lr, vals in by_lr.items():
        v = sum(vals) / len(vals)
        key = unit.dataset.label
        if key not in best or v > best[key][0]:
            best[key] = (v, f"{unit.activation.label} @ lr {lr:g}")


def _best_text(best: dict[str, tuple[float, str]]) -> str:
    return "best (val): " + "; ".join(f"{ds} {name} {v:.3f}" for ds, (v, name) in best.items())


class _NullBar:
    def advance(self, n: int, best: str = "") -> None:
        pass


@contextlib.contextmanager
def _progress(
    console: Any, enabled: bool, total: int, stored: int, jobs: int, ray: str | None
) -> Iterator[Any]:
    if not enabled:
        yield _NullBar()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    where = f"Ray ({ray})" if ray is not None else f"{jobs} process(es)"
    desc = f"training on {where}" + (f", {stored} trials already stored" if stored else "")
    prog = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[best]}"),
        console=console,
        transient=False,
    )
    with prog:
        task = prog.add_task(desc, total=total, best="")

        class Bar:
            def advance(self, n: int, best: str = "") -> None:
                prog.update(task, advance=n, best=best)
                if not console.is_terminal:
                    done = prog.tasks[0].completed
                    console.print(f"{int(done)}/{total} trials; {best}", markup=False)

        yield Bar()


def load_analysis(
    store_path: str | os.PathLike[str], study: str | int | None = None
) -> tuple[dict[str, Any], Any, Store]:
    """(study row, analysis, open store) for ``study`` (id, name or key prefix; default the newest)."""
    from .stats import analyze

    store = Store(store_path, create=False)
    try:
        rows = store.studies()
        if not rows:
            from ..core.errors import StoreError

            raise StoreError(f"no studies in {store.path} yet")
        s = store.study(study if study is not None else rows[-1]["id"])
        trials = store.trials(s["id"])
        return s, analyze(trials, s["config"].get("baseline", "relu")) if trials else None, store
    except BaseException:
        store.close()
        raise


def summarize_store(
    path: str | os.PathLike[str] = DEFAULT_STORE, study: str | int | None = None
) -> list[dict[str, Any]]:
    """Rows of a stored study (default: the newest): dataset, activation, metric, mean, sd, n, rank, ...

    Ranked within each dataset (1 = best mean test metric at the learning rate
    chosen on validation); also lr, ci_low, ci_high, p_holm, d, significant,
    and the study's id and name.
    """
    s, analysis, store = load_analysis(path, study)
    store.close()
    if analysis is None:
        return []
    out = []
    for ds in analysis.datasets():
        for r in analysis.for_dataset(ds):
            out.append(
                {
                    "dataset": r.dataset,
                    "activation": r.activation,
                    "metric": r.metric,
                    "mean": r.mean,
                    "sd": r.sd,
                    "n": r.n,
                    "rank": r.rank,
                    "lr": r.lr,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_holm": r.p_holm,
                    "d": r.d,
                    "significant": r.significant,
                    "baseline": analysis.baseline,
                    "study_id": s["id"],
                    "study": s["name"],
                }
            )
    return out


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()
