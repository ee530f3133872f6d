"""The study commands of the ``actlab`` CLI: ``study``, ``runs``, ``show``, ``export``.

The CLI's main module calls :func:`register` on its typer app. Heavy imports
(torch, the trainer, matplotlib) happen only inside the commands.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

STORE_HELP = "run store (SQLite file); default ./actlab-runs/actlab.db"


def _store_default() -> Path:
    from actlab.study.store import DEFAULT_STORE

    return Path(os.environ.get("ACTLAB_STORE", str(DEFAULT_STORE)))


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal:  # a pipe or a log file: do not squeeze the tables into 80 columns
        c = Console(stderr=stderr, highlight=False, width=max(c.width, 160))
    return c


def _fail(err: BaseException, code: int = 1) -> None:
    print(f"error: {err}", file=sys.stderr)
    raise typer.Exit(code)


def print_analysis(analysis: Any, console: Any, *, title_prefix: str = "") -> None:
    """The ranked tables (one per dataset, then overall) and the recommendation."""
    from rich.table import Table
    from rich.text import Text

    from actlab.study.report import COLUMNS, OVERALL_COLUMNS, overall_rows, table_rows

    keep = (
        "rank",
        "activation",
        "lr",
        "mean ± sd",
        "95% CI",
        "n",
        "Δ vs baseline",
        "Cohen's d",
        "p (Holm)",
        "diverged",
        "ms/epoch",
        "dead %",
    )
    idx = [COLUMNS.index(c) for c in keep]
    for ds in analysis.datasets():
        metric = analysis.for_dataset(ds)[0].metric
        t = Table(title=Text(f"{title_prefix}{ds}: test {metric}, ranked"), title_justify="left")
        for c in keep:
            t.add_column(c, justify="left" if c == "activation" else "right")
        for row in table_rows(analysis, ds):
            t.add_row(*(Text(row[i]) for i in idx))
        console.print(t)
    t = Table(title=Text(f"{title_prefix}overall"), title_justify="left")
    for c in OVERALL_COLUMNS:
        t.add_column(c, justify="left" if c == "activation" else "right")
    for row in overall_rows(analysis):
        t.add_row(*(Text(c) for c in row))
    console.print(t)
    rec = analysis.recommendation
    console.print(
        Text(f"Recommendation: {rec.get('activation')} ({rec.get('verdict', '')})", style="bold green")
    )
    for r in rec.get("reasons", []):
        console.print(Text(f"  - {r}"))


def register(app: typer.Typer) -> None:
    """Add ``study``, ``runs``, ``show`` and ``export`` to ``app``."""

    @app.command("study")
    def study(
        config: Optional[Path] = typer.Argument(  # noqa: UP045, B008 - typer needs Optional here
            None, help="study config (TOML); omit to run the default study on bundled data"
        ),
        store: Path = typer.Option(None, "--store", help=STORE_HELP),  # noqa: B008
        jobs: int = typer.Option(0, "--jobs", "-j", help="worker processes (default: all CPU cores)", min=0),
        ray: bool = typer.Option(
            False,
            "--ray",
            help="run trials as Ray tasks: on a fresh local Ray instance, "
            "or on the cluster in RAY_ADDRESS / --ray-address",
        ),
        ray_address: Optional[str] = typer.Option(  # noqa: UP045
            None, "--ray-address", metavar="ADDRESS", help="Ray cluster address (implies --ray)"
        ),
        mlflow_uri: Optional[str] = typer.Option(  # noqa: UP045
            None,
            "--mlflow-uri",
            help="also log every run to MLflow (a tracking URI: file:./mlruns, sqlite:///mlflow.db, http://...)",
        ),
        report_dir: Optional[Path] = typer.Option(  # noqa: UP045, B008
            None, "--report-dir", help="where to write the report (default: next to the store)"
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="validate the config and show the plan; train nothing"
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="show the progress bar"),
    ) -> None:
        """Compare activations: train the same network with each, fairly, and report (resumable)."""
        from actlab.core.errors import ActlabError, ConfigError

        out = _console()
        err = _console(stderr=True)
        try:
            from actlab.study.config import default_config, load_config

            if config is None:
                cfg = default_config()
                missing = [n for n in _default_names() if n not in {a.name for a in cfg.activations}]
                if missing:
                    err.print(
                        f"note: left out of the default study (not in the catalog): {', '.join(missing)}",
                        markup=False,
                    )
            else:
                cfg = load_config(config)
            store_path = store or _store_default()
            if dry_run:
                _show_plan(cfg, store_path, out)
                return
            from actlab.study.runner import run_study

            address = ray_address or (os.environ.get("RAY_ADDRESS") if ray else None)
            use_ray = "local" if ray and not address else address
            outcome = run_study(
                cfg,
                store_path=store_path,
                jobs=jobs or None,
                ray=use_ray,
                mlflow_uri=mlflow_uri,
                report_dir=report_dir,
                progress=progress,
                console=err,
            )
        except ConfigError as e:
            _fail(e, 2)
            return
        except ActlabError as e:
            _fail(e, 1)
            return
        if outcome.analysis is not None:
            print_analysis(outcome.analysis, out)
        out.print(
            f"study #{outcome.study_id} '{outcome.name}': {outcome.total} of {cfg.n_trials} trials stored "
            f"({outcome.new} trained now, {outcome.reused} reused) in {outcome.wall_time:.1f} s; "
            f"store {outcome.store}",
            markup=False,
        )
        if outcome.report:
            out.print(f"report: {outcome.report['html']}", markup=False)
            out.print(f"        {outcome.report['md']}  {outcome.report['csv']}", markup=False)
        if outcome.interrupted:
            err.print(
                f"interrupted: {outcome.total} trials are stored; rerun the same command to resume",
                markup=False,
            )
            raise typer.Exit(130)
        if outcome.failures:
            err.print(f"{len(outcome.failures)} unit(s) failed; rerun to retry them", markup=False)
            raise typer.Exit(1)

    @app.command("runs")
    def runs(
        store: Path = typer.Option(None, "--store", help=STORE_HELP),  # noqa: B008
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """List the studies in the run store."""
        from rich.table import Table
        from rich.text import Text

        from actlab.core.errors import ActlabError
        from actlab.study.store import Store

        try:
            with Store(store or _store_default(), create=False) as s:
                rows = s.studies()
        except ActlabError as e:
            _fail(e)
            return
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        import time

        t = Table(title=Text(f"studies in {store or _store_default()}"), title_justify="left")
        for c in ("id", "name", "status", "trials", "updated", "key"):
            t.add_column(c)
        for r in rows:
            t.add_row(
                str(r["id"]),
                Text(r["name"]),
                r["status"],
                f"{r['n_done']}/{r['n_planned']}",
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"])),
                r["key"][:12],
            )
        _console().print(t)
        if not rows:
            print("no studies yet: run `actlab study`")

    @app.command("show")
    def show(
        study: str = typer.Argument(..., help="study id, name, or key prefix"),
        store: Path = typer.Option(None, "--store", help=STORE_HELP),  # noqa: B008
    ) -> None:
        """Print one study: ranked tables, the recommendation and the report path."""
        from actlab.core.errors import ActlabError
        from actlab.study.runner import load_analysis

        try:
            s, analysis, st = load_analysis(store or _store_default(), study)
            st.close()
        except ActlabError as e:
            _fail(e)
            return
        out = _console()
        out.print(
            f"study #{s['id']} '{s['name']}' ({s['status']}): {s['n_done']}/{s['n_planned']} trials; "
            f"key {s['key'][:12]}",
            markup=False,
        )
        if analysis is None:
            print("no trials stored yet")
            return
        print_analysis(analysis, out)
        if s.get("report"):
            out.print(f"report: {s['report']}", markup=False)

    @app.command("export")
    def export(
        study: str = typer.Argument(..., help="study id, name, or key prefix"),
        csv_format: bool = typer.Option(
            True, "--csv/--json", help="CSV (one row per trial) or JSON (study, config, summary, trials)"
        ),
        output: Optional[Path] = typer.Option(  # noqa: UP045, B008
            None, "--output", "-o", help="file to write (default: standard output)"
        ),
        with_epochs: bool = typer.Option(False, "--epochs", help="JSON: include per-epoch metrics"),
        store: Path = typer.Option(None, "--store", help=STORE_HELP),  # noqa: B008
    ) -> None:
        """Export one study's trials as CSV or JSON."""
        from actlab.core.errors import ActlabError
        from actlab.study.runner import load_analysis

        try:
            s, analysis, st = load_analysis(store or _store_default(), study)
            try:
                trials = st.trials(s["id"])
                epochs = st.epochs(s["id"]) if with_epochs and not csv_format else {}
            finally:
                st.close()
        except ActlabError as e:
            _fail(e)
            return
        fh = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
        try:
            if csv_format:
                from actlab.study.report import write_trials_csv

                write_trials_csv(fh, trials)
            else:
                for t in trials:
                    if with_epochs:
                        t["epochs"] = epochs.get(t["id"], [])
                doc = {
                    "study": {k: v for k, v in s.items() if k != "config"},
                    "config": s["config"],
                    "summary": [r.as_dict() for r in analysis.rows] if analysis else [],
                    "recommendation": analysis.recommendation if analysis else None,
                    "trials": trials,
                }
                json.dump(_jsonable(doc), fh, indent=2)
                fh.write("\n")
        finally:
            if output:
                fh.close()
        if output:
            print(f"wrote {output}", file=sys.stderr)


def _default_names() -> tuple[str, ...]:
    from actlab.study.config import DEFAULT_ACTIVATIONS

    return DEFAULT_ACTIVATIONS


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _show_plan(cfg: Any, store_path: Path, out: Any) -> None:
    from actlab.study.runner import check, plan
    from actlab.study.store import Store

    check(cfg)
    stored = 0
    if Path(store_path).exists():
        with Store(store_path, create=False) as s:
            p = plan(cfg, s)
            stored = len(p.stored)
    out.print(
        f"study '{cfg.name}' (key {cfg.key[:12]}): {len(cfg.datasets)} dataset(s) x "
        f"{len(cfg.activations)} activation(s) x {len(cfg.seeds)} seed(s) x "
        f"{len(cfg.training.lr_grid)} learning rate(s) = {cfg.n_trials} trials; "
        f"{stored} already stored",
        markup=False,
    )
    out.print("datasets: " + ", ".join(d.label for d in cfg.datasets), markup=False)
    out.print("activations: " + ", ".join(a.label for a in cfg.activations), markup=False)
    out.print(f"baseline: {cfg.baseline}; model: {cfg.model}; training: {cfg.training}", markup=False)
