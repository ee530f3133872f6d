"""The study report: one self-contained HTML file (plots embedded as base64 PNG), Markdown and CSV.

Plots are drawn here with matplotlib's object API (no pyplot state, no
``actlab.plot``). Every string that comes from a configuration is escaped.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .stats import ALPHA, Analysis, Row

FIG_DPI = 80


# --------------------------------------------------------------------------- helpers
def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _md(x: Any) -> str:
    return html.escape(str(x), quote=False).replace("|", "\\|").replace("\n", " ")


def fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return str(x)


def _p(x: float | None) -> str:
    if x is None:
        return "–"
    return "<0.001" if x < 1e-3 else f"{x:.3f}"


def _colors(names: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI, bbox_inches="tight")
    return buf.getvalue()


def _grid(n: int, w: float = 4.6, h: float = 3.4) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(w * cols, h * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


# --------------------------------------------------------------------------- figures
def fig_ranking(a: Analysis, colors: dict[str, Any]) -> bytes:
    dss = a.datasets()
    fig, axes = _grid(len(dss), h=0.35 * max(len(a.for_dataset(d)) for d in dss) + 1.4)
    for ax, ds in zip(axes, dss, strict=True):
        rows = list(reversed(a.for_dataset(ds)))
        y = np.arange(len(rows))
        for i, r in enumerate(rows):
            lo = r.mean - r.ci_low if math.isfinite(r.ci_low) else 0
            ax.errorbar(
                r.mean,
                i,
                xerr=[[lo], [lo]],
                fmt="o",
                color=colors[r.activation],
                capsize=3,
                mfc="white" if r.is_baseline else colors[r.activation],
            )
        ax.set_yticks(y, [("* " if r.significant else "") + r.activation for r in rows])
        base = next((r for r in rows if r.is_baseline), None)
        if base is not None and math.isfinite(base.mean):
            ax.axvline(base.mean, color="0.6", ls="--", lw=1)
        ax.set_title(f"{ds}: test {rows[0].metric if rows else ''} (95% CI)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def fig_curves(a: Analysis, epochs: dict[int, list[dict[str, Any]]], colors: dict[str, Any]) -> bytes:
    dss = a.datasets()
    fig, axes = _grid(len(dss))
    for ax, ds in zip(axes, dss, strict=True):
        for r in a.for_dataset(ds):
            curves = [[e["val_metric"] for e in epochs.get(t, [])] for t in r.trial_ids]
            curves = [c for c in curves if c]
            if not curves:
                continue
            n = max(len(c) for c in curves)
            m = np.full((len(curves), n), np.nan)
            for i, c in enumerate(curves):
                m[i, : len(c)] = [np.nan if v is None else v for v in c]
            with np.errstate(all="ignore"), _Quiet():
                mean = np.nanmean(m, axis=0)
            x = np.arange(1, n + 1)
            ax.plot(
                x,
                mean,
                color=colors[r.activation],
                lw=1.6 if r.is_baseline else 1.1,
                ls="--" if r.is_baseline else "-",
                label=r.activation,
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {a.for_dataset(ds)[0].metric}")
        ax.set_title(f"{ds}: learning curves (mean over seeds, chosen lr)", fontsize=10)
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -0.5), hi)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    return _png(fig)


def fig_time(a: Analysis, colors: dict[str, Any]) -> bytes:
    dss = a.datasets()
    fig, axes = _grid(len(dss))
    for ax, ds in zip(axes, dss, strict=True):
        for r in a.for_dataset(ds):
            if not (math.isfinite(r.train_time) and math.isfinite(r.mean)):
                continue
            err = r.mean - r.ci_low if math.isfinite(r.ci_low) else 0
            ax.errorbar(r.train_time, r.mean, yerr=err, fmt="o", color=colors[r.activation], capsize=3)
            ax.annotate(
                r.activation, (r.train_time, r.mean), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        ax.set_xlabel("training time per run (s, amortised in the ensemble)")
        ax.set_ylabel(f"test {a.for_dataset(ds)[0].metric}")
        ax.set_title(f"{ds}: {a.for_dataset(ds)[0].metric} against time", fontsize=10)
        ax.grid(alpha=0.3)
    return _png(fig)


def fig_functions(acts: list[tuple[str, Any]], colors: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    x = np.linspace(-5, 5, 801)
    for label, act in acts:
        with np.errstate(all="ignore"):
            y = np.asarray(act(x), dtype=float)
            try:
                d = np.asarray(act.derivative(x), dtype=float)
            except Exception:
                d = np.gradient(y, x)
        ax1.plot(x, y, color=colors.get(label), lw=1.2, label=label)
        ax2.plot(x, d, color=colors.get(label), lw=1.2, label=label)
    ax1.set_title("f(x)", fontsize=10)
    ax2.set_title("f'(x) (analytic)", fontsize=10)
    ax1.set_ylim(-2, 5)
    ax2.set_ylim(-0.3, 1.6)
    for ax in (ax1, ax2):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7, ncol=2)
    return _png(fig)


def fig_health(a: Analysis, colors: dict[str, Any]) -> bytes:
    dss = a.datasets()
    fig, axes = _grid(2 + len(dss))
    acts = list(dict.fromkeys(r.activation for r in a.rows))
    width = 0.8 / max(len(dss), 1)
    for k, (field, title) in enumerate((("dead", "dead units"), ("saturated", "saturated activations"))):
        ax = axes[k]
        for j, ds in enumerate(dss):
            vals = []
            for act in acts:
                r = next((r for r in a.rows if r.dataset == ds and r.activation == act), None)
                v = getattr(r, field) if r is not None else None
                vals.append(100 * v if v is not None else np.nan)
            ax.bar(np.arange(len(acts)) + j * width, vals, width, label=ds)
        ax.set_xticks(
            np.arange(len(acts)) + width * (len(dss) - 1) / 2, acts, rotation=45, ha="right", fontsize=8
        )
        ax.set_ylabel("% (validation probe, best epoch)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    for ax, ds in zip(axes[2:], dss, strict=True):
        for r in a.for_dataset(ds):
            if r.grad_norm_by_layer:
                ax.plot(
                    np.arange(1, len(r.grad_norm_by_layer) + 1),
                    r.grad_norm_by_layer,
                    marker="o",
                    color=colors[r.activation],
                    label=r.activation,
                    lw=1,
                )
        ax.set_yscale("log")
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (input to output)")
        ax.set_ylabel("gradient norm")
        ax.set_title(f"{ds}: gradient norm by layer", fontsize=10)
        ax.grid(alpha=0.3)
    if len(axes) > 2:
        axes[2].legend(fontsize=7, ncol=2)
    return _png(fig)


def fig_lr(a: Analysis, colors: dict[str, Any]) -> bytes:
    dss = a.datasets()
    fig, axes = _grid(len(dss))
    for ax, ds in zip(axes, dss, strict=True):
        for r in a.for_dataset(ds):
            lrs = [float(k) for k in r.lr_scores]
            ax.plot(
                lrs,
                list(r.lr_scores.values()),
                marker="o",
                color=colors[r.activation],
                lw=1,
                label=r.activation,
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(f"mean validation {a.for_dataset(ds)[0].metric}")
        ax.set_title(f"{ds}: learning-rate sensitivity", fontsize=10)
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -0.5), hi)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    return _png(fig)


class _Quiet:
    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


# --------------------------------------------------------------------------- tables
COLUMNS = (
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
    "epochs",
    "epochs to 95%",
    "ms/epoch",
    "dead %",
    "saturated %",
)


def _cells(r: Row, base: Row | None) -> list[str]:
    delta = r.mean - base.mean if base is not None and not r.is_baseline else None
    sig = ""
    if r.significant:
        sig = " ▲" if r.better else " ▼"
    return [
        fmt(r.rank, 1) if r.rank != int(r.rank) else str(int(r.rank)),
        r.activation + (" (baseline)" if r.is_baseline else ""),
        f"{r.lr:g}",
        f"{fmt(r.mean)} ± {fmt(r.sd)}",
        f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
        str(r.n),
        "–" if delta is None else f"{delta:+.4f}",
        fmt(r.d, 2) if not r.is_baseline else "–",
        (_p(r.p_holm) + sig) if not r.is_baseline else "–",
        f"{r.n_diverged}/{r.n_grid}",
        fmt(r.epochs, 1),
        fmt(r.epochs_to_95, 1),
        fmt(1000 * r.epoch_time, 2),
        fmt(None if r.dead is None else 100 * r.dead, 1),
        fmt(None if r.saturated is None else 100 * r.saturated, 1),
    ]


def table_rows(a: Analysis, ds: str) -> list[list[str]]:
    rows = a.for_dataset(ds)
    base = next((r for r in rows if r.is_baseline), None)
    return [_cells(r, base) for r in rows]


OVERALL_COLUMNS = (
    "#",
    "activation",
    "mean rank",
    "best on",
    "better than baseline on",
    "worse than baseline on",
    "diverged runs",
    "time/epoch vs baseline",
)


def overall_rows(a: Analysis) -> list[list[str]]:
    out = []
    for o in a.overall:
        out.append(
            [
                str(o["position"]),
                o["activation"] + (" (baseline)" if o["is_baseline"] else ""),
                f"{o['mean_rank']:.2f}",
                f"{o['wins']}/{o['datasets']}",
                ", ".join(o["better"]) or "–",
                ", ".join(o["worse"]) or "–",
                f"{o['diverged']}/{o['runs']}",
                fmt(o["relative_epoch_time"], 3) + ("×" if o["relative_epoch_time"] is not None else ""),
            ]
        )
    return out


# --------------------------------------------------------------------------- writers
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f4f4f4}td:nth-child(2){text-align:left}
.rec{background:#eef7ee;border-left:4px solid #4a4;padding:.6em 1em;margin:1em 0}
.warn{background:#fff6e0;border-left:4px solid #e90;padding:.6em 1em}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em}
.meta{color:#666;font-size:.9em}
"""


def _html_table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(
    out_dir: str | Path,
    config: Any,
    analysis: Analysis,
    epochs: dict[int, list[dict[str, Any]]],
    trials: list[dict[str, Any]],
    *,
    study_id: int = 0,
    store_path: Any = "",
    partial: bool = False,
) -> dict[str, Path]:
    """Write report.html, report.md, summary.csv and trials.csv (and the figures as PNG) to ``out_dir``."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    a = analysis
    acts = list(dict.fromkeys(r.activation for r in a.rows))
    colors = _colors(acts)
    bound = []
    for choice in config.activations:
        if choice.label in acts:
            with contextlib.suppress(Exception):  # a formula that cannot be rebuilt here: plot the others
                bound.append((choice.label, choice.resolve()))
    figures = {
        "ranking": (
            "Ranked test metric with 95% confidence intervals (* = significant vs baseline)",
            fig_ranking(a, colors),
        ),
        "curves": ("Learning curves", fig_curves(a, epochs, colors)),
        "time": ("Accuracy against wall time", fig_time(a, colors)),
        "lr": ("Learning-rate sensitivity (validation)", fig_lr(a, colors)),
        "functions": ("The candidates and their derivatives", fig_functions(bound, colors)),
        "health": ("Gradient health", fig_health(a, colors)),
    }
    for name, (_, png) in figures.items():
        (out / "figures" / f"{name}.png").write_bytes(png)

    def img(name: str) -> str:
        title, png = figures[name]
        return (
            f'<figure><img alt="{esc(title)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode()}"><figcaption>{esc(title)}</figcaption></figure>'
        )

    rec = a.recommendation
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    n_trials = len(trials)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>actlab study: {esc(config.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>actlab study: {esc(config.name)}</h1>",
        f'<p class="meta">{esc(config.description)}</p>' if config.description else "",
        f'<p class="meta">study #{study_id} · {n_trials} trials · generated {esc(when)} · store '
        f"{esc(store_path)}</p>",
    ]
    if partial:
        parts.append(
            f'<p class="warn">Partial results: {n_trials} of {config.n_trials} planned trials are '
            "stored. Rerun the same command to complete the study.</p>"
        )
    parts += [
        f'<div class="rec"><h2 style="border:0;margin:0">Recommendation: {esc(rec.get("activation"))}</h2>',
        f"<p><b>{esc(rec.get('verdict', ''))}</b></p><ul>",
        *[f"<li>{esc(x)}</li>" for x in rec.get("reasons", [])],
        "</ul></div>",
        "<h2>Overall ranking</h2>",
        _html_table(OVERALL_COLUMNS, overall_rows(a)),
        "<h2>Results per dataset</h2>",
        f"<p>Test metric at the learning rate chosen on validation; mean ± sd over seeds, 95% CI from the t "
        f"distribution; Welch's t-test against {esc(a.baseline)}, Holm-corrected, ▲/▼ = significantly "
        f"better/worse at alpha {ALPHA}; Cohen's d uses the root mean of the two variances.</p>",
    ]
    for ds in a.datasets():
        parts += [f"<h3>{esc(ds)}</h3>", _html_table(COLUMNS, table_rows(a, ds))]
    parts += [f"<h2>{esc(figures[k][0])}</h2>{img(k)}" for k in figures]
    parts += [
        "<h2>Method</h2><ul>",
        f"<li>Datasets: {esc(', '.join(d.label for d in config.datasets))}; stratified train/validation/test "
        f"splits ({1 - config.split.val - config.split.test:.0%}/{config.split.val:.0%}/"
        f"{config.split.test:.0%}) "
        "fixed by each seed; standardisation fitted on the training part only.</li>",
        f"<li>Model: {esc(config.model.kind)} depth {config.model.depth}, width {config.model.width}, "
        f"batch-norm {esc(config.model.batch_norm)}, dropout {config.model.dropout:g}; weights initialised "
        "with each activation's own gain.</li>",
        f"<li>Training: {esc(config.training.optimizer)}, learning rates "
        f"{esc(', '.join(f'{x:g}' for x in config.training.lr_grid))} (chosen per activation on validation), "
        f"batch {config.training.batch_size}, up to {config.training.max_epochs} epochs, early stopping on "
        f"{esc(config.training.monitor)} with patience {config.training.patience}; seeds "
        f"{esc(', '.join(map(str, config.seeds)))}.</li>",
        "<li>Test metrics are computed once per run, on the best validation checkpoint; the test set plays "
        "no part in any choice.</li>",
        "<li>Gradient health on a validation probe: dead = units whose derivative is 0 on every probe "
        "example; saturated = activations where |f'| is below 5% of the function's peak slope.</li>",
        "</ul>",
        "<h2>Configuration</h2>",
        f"<pre>{esc(json.dumps(config.as_dict(), indent=2))}</pre>",
        "</body></html>",
    ]
    paths = {
        "html": out / "report.html",
        "md": out / "report.md",
        "csv": out / "summary.csv",
        "trials_csv": out / "trials.csv",
    }
    paths["html"].write_text("\n".join(p for p in parts if p), encoding="utf-8")

    md = [f"# actlab study: {_md(config.name)}", ""]
    if config.description:
        md += [_md(config.description), ""]
    md += [f"study #{study_id} · {n_trials} trials · generated {when}", ""]
    if partial:
        md += [f"> Partial results: {n_trials} of {config.n_trials} planned trials are stored.", ""]
    md += [f"## Recommendation: {_md(rec.get('activation'))}", "", f"**{_md(rec.get('verdict', ''))}**", ""]
    md += [f"- {_md(x)}" for x in rec.get("reasons", [])]
    md += ["", "## Overall ranking", "", _md_table(OVERALL_COLUMNS, overall_rows(a)), ""]
    for ds in a.datasets():
        md += [f"## {_md(ds)}", "", _md_table(COLUMNS, table_rows(a, ds)), ""]
    md += [f"![{_md(t)}](figures/{k}.png)\n" for k, (t, _) in figures.items()]
    paths["md"].write_text("\n".join(md) + "\n", encoding="utf-8")

    fields = (
        "dataset",
        "activation",
        "metric",
        "lr",
        "n",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
        "rank",
        "p",
        "p_holm",
        "d",
        "significant",
        "n_diverged",
        "n_grid",
        "epochs",
        "epochs_to_95",
        "epoch_time",
        "train_time",
        "dead",
        "saturated",
        "is_baseline",
    )
    with open(paths["csv"], "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(fields)
        for ds in a.datasets():
            for r in a.for_dataset(ds):
                w.writerow([_csv(getattr(r, f)) for f in fields])
    write_trials_csv(paths["trials_csv"], trials)
    return paths


TRIAL_CSV_FIELDS = (
    "id",
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
    "key",
)


def write_trials_csv(path: Any, trials: list[dict[str, Any]]) -> None:
    with (
        open(path, "w", newline="", encoding="utf-8") if not hasattr(path, "write") else _NullCtx(path) as fh
    ):
        w = csv.writer(fh)
        w.writerow(TRIAL_CSV_FIELDS)
        for t in trials:
            w.writerow([_csv(t.get(f)) for f in TRIAL_CSV_FIELDS])


class _NullCtx:
    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def __enter__(self) -> Any:
        return self.fh

    def __exit__(self, *exc: Any) -> None:
        pass


def _csv(x: Any) -> Any:
    if x is None:
        return ""
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(x)
    return x
