"""Statistics of a study: learning-rate choice on validation, test summaries, tests against a baseline.

For each dataset and activation:

1. the learning rate is the grid value with the best mean **validation**
   metric over seeds (ties: lower validation loss); the test set plays no part;
2. at that learning rate, the **test** metric over seeds gives mean, sd and a
   95% confidence interval (t distribution, n - 1 degrees of freedom);
3. against the baseline: Welch's t-test (two-sided), Holm's correction over
   the candidates of the dataset, Cohen's d (difference over the root mean
   of the two variances) and the rank (1 = best mean test metric).

The recommendation weighs mean rank across datasets, significance against
the baseline, stability (diverged runs) and cost (time per epoch).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.05


@dataclass
class Row:
    dataset: str
    activation: str
    metric: str
    lr: float
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    p: float | None = None
    p_holm: float | None = None
    d: float | None = None
    significant: bool = False
    better: bool | None = None
    rank: float = 0.0
    n_diverged: int = 0
    n_grid: int = 0
    val_mean: float = math.nan
    test_loss: float = math.nan
    train_time: float = math.nan
    epoch_time: float = math.nan
    epochs: float = math.nan
    epochs_to_95: float | None = None
    dead: float | None = None
    saturated: float | None = None
    grad_norm_by_layer: list[float] | None = None
    lr_scores: dict[str, float] = field(default_factory=dict)
    is_baseline: bool = False
    trial_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Analysis:
    baseline: str
    rows: list[Row]
    overall: list[dict[str, Any]]
    recommendation: dict[str, Any]

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.rows))

    def for_dataset(self, ds: str) -> list[Row]:
        return sorted((r for r in self.rows if r.dataset == ds), key=lambda r: (r.rank, r.activation))


def _finite(xs: list[float]) -> list[float]:
    return [float(x) for x in xs if x is not None and math.isfinite(float(x))]


def _mean(xs: list[float]) -> float:
    xs = _finite(xs)
    return float(np.mean(xs)) if xs else math.nan


def mean_ci(xs: list[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sd, ci_low, ci_high) with a t-distribution interval; sd is the sample sd (ddof=1)."""
    from scipy import stats

    a = np.asarray(_finite(xs), dtype=np.float64)
    if a.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    m = float(a.mean())
    if a.size < 2:
        return m, math.nan, math.nan, math.nan
    sd = float(a.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, a.size - 1)) * sd / math.sqrt(a.size)
    return m, sd, m - half, m + half


def welch(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """Welch's two-sided t-test p-value and Cohen's d of a against b."""
    from scipy import stats

    x, y = np.asarray(_finite(a)), np.asarray(_finite(b))
    if x.size < 2 or y.size < 2:
        return None, None
    diff = float(x.mean() - y.mean())
    s = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    if s == 0:
        return (1.0, 0.0) if diff == 0 else (0.0, math.copysign(math.inf, diff))
    p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    return p, diff / s


def holm(ps: list[float | None]) -> list[float | None]:
    idx = [i for i, p in enumerate(ps) if p is not None and math.isfinite(p)]
    order = sorted(idx, key=lambda i: ps[i])  # type: ignore[arg-type, return-value]
    m = len(order)
    out: list[float | None] = [None] * len(ps)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * float(ps[i])))  # type: ignore[arg-type]
        out[i] = running
    return out


def analyze(
    trials: list[dict[str, Any]],
    baseline: str = "relu",
    epochs: dict[int, list[dict[str, Any]]] | None = None,
) -> Analysis:
    """Summarise stored trials (``Store.trials``) into ranked rows and a recommendation."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for t in trials:
        groups[(t["dataset"], t["activation"])].append(t)
    rows: list[Row] = []
    chosen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (ds, act), ts in groups.items():
        by_lr: dict[float, list[dict[str, Any]]] = defaultdict(list)
        for t in ts:
            by_lr[float(t["lr"])].append(t)

        def score(item: tuple[float, list[dict[str, Any]]]) -> tuple[float, float, float]:
            lr, runs = item
            vm = [t["val_metric"] if math.isfinite(t["val_metric"]) else -math.inf for t in runs]
            vl = _mean([t["val_loss"] for t in runs])
            return (float(np.mean(vm)), -vl if math.isfinite(vl) else -math.inf, -lr)

        lr_scores = {f"{lr:g}": _mean([t["val_metric"] for t in runs]) for lr, runs in sorted(by_lr.items())}
        lr, runs = max(by_lr.items(), key=score)
        runs = sorted(runs, key=lambda t: t["seed"])
        chosen[(ds, act)] = runs
        m, sd, lo, hi = mean_ci([t["test_metric"] for t in runs])
        health = [t.get("health") or {} for t in runs]
        gn: list[list[float]] = [h["grad_norm_by_layer"] for h in health if h.get("grad_norm_by_layer")]
        e95 = _finite([t["epochs_to_95"] for t in runs if t.get("epochs_to_95") is not None])
        epoch_time = _mean([t["train_time"] / t["epochs_run"] for t in runs if t["epochs_run"]])
        rows.append(
            Row(
                dataset=ds,
                activation=act,
                metric=runs[0]["metric"],
                lr=lr,
                n=len(_finite([t["test_metric"] for t in runs])),
                mean=m,
                sd=sd,
                ci_low=lo,
                ci_high=hi,
                n_diverged=sum(t["status"] == "diverged" for t in ts),
                n_grid=len(ts),
                val_mean=_mean([t["val_metric"] for t in runs]),
                test_loss=_mean([t["test_loss"] for t in runs]),
                train_time=_mean([t["train_time"] for t in runs]),
                epoch_time=epoch_time,
                epochs=_mean([t["epochs_run"] for t in runs]),
                epochs_to_95=float(np.mean(e95)) if e95 else None,
                dead=_opt_mean([h.get("dead") for h in health]),
                saturated=_opt_mean([h.get("saturated") for h in health]),
                grad_norm_by_layer=[float(x) for x in np.nanmean(np.array(gn, dtype=float), axis=0)]
                if gn and len({len(g) for g in gn}) == 1
                else None,
                lr_scores=lr_scores,
                is_baseline=act == baseline,
                trial_ids=[int(t["id"]) for t in runs if "id" in t],
            )
        )
    # tests against the baseline and ranks, per dataset
    from scipy.stats import rankdata

    for ds in dict.fromkeys(r.dataset for r in rows):
        rs = [r for r in rows if r.dataset == ds]
        base = chosen.get((ds, baseline))
        others = [r for r in rs if r.activation != baseline]
        if base is not None:
            bvals = [t["test_metric"] for t in base]
            for r in others:
                r.p, r.d = welch([t["test_metric"] for t in chosen[(ds, r.activation)]], bvals)
            for r, ph in zip(others, holm([r.p for r in others]), strict=True):
                r.p_holm = ph
                r.significant = ph is not None and ph < ALPHA
                if r.d is not None:
                    r.better = r.d > 0
        means = np.array([r.mean if math.isfinite(r.mean) else -np.inf for r in rs])
        for r, rk in zip(rs, rankdata(-means, method="average"), strict=True):
            r.rank = float(rk)
    overall = _overall(rows, baseline)
    return Analysis(baseline, rows, overall, recommend(rows, overall, baseline))


def _opt_mean(xs: list[Any]) -> float | None:
    v = _finite([x for x in xs if x is not None])
    return float(np.mean(v)) if v else None


def _overall(rows: list[Row], baseline: str) -> list[dict[str, Any]]:
    acts = list(dict.fromkeys(r.activation for r in rows))
    n_ds = len({r.dataset for r in rows})
    base_time = {r.dataset: r.epoch_time for r in rows if r.activation == baseline}
    out = []
    for a in acts:
        rs = [r for r in rows if r.activation == a]
        rel = [
            r.epoch_time / base_time[r.dataset]
            for r in rs
            if r.dataset in base_time and base_time[r.dataset] > 0 and math.isfinite(r.epoch_time)
        ]
        out.append(
            {
                "activation": a,
                "mean_rank": float(np.mean([r.rank for r in rs])),
                "datasets": len(rs),
                "complete": len(rs) == n_ds,
                "wins": sum(r.rank == 1 for r in rs),
                "better": [r.dataset for r in rs if r.significant and r.better],
                "worse": [r.dataset for r in rs if r.significant and r.better is False],
                "diverged": sum(r.n_diverged for r in rs),
                "runs": sum(r.n_grid for r in rs),
                "relative_epoch_time": float(np.exp(np.mean(np.log(rel)))) if rel else None,
                "dead": _opt_mean([r.dead for r in rs]),
                "saturated": _opt_mean([r.saturated for r in rs]),
                "is_baseline": a == baseline,
            }
        )
    out.sort(key=lambda d: (not d["complete"], d["mean_rank"], d["activation"]))
    for i, d in enumerate(out):
        d["position"] = i + 1
    return out


def recommend(rows: list[Row], overall: list[dict[str, Any]], baseline: str) -> dict[str, Any]:
    """The activation to use, with its reasons.

    The best mean rank wins if it is significantly better than the baseline on
    at least one dataset and significantly worse on none; otherwise the
    baseline stays (it is the default, and usually the cheapest).
    """
    if not overall:
        return {"activation": None, "verdict": "no results", "reasons": []}
    n_ds = len({r.dataset for r in rows})
    top = overall[0]
    base = next((o for o in overall if o["activation"] == baseline), None)
    reasons: list[str] = []

    def describe(o: dict[str, Any]) -> list[str]:
        rs = [r for r in rows if r.activation == o["activation"]]
        out = [
            f"mean rank {o['mean_rank']:.2f} over {o['datasets']} dataset(s); best on {o['wins']} of {n_ds}"
        ]
        for r in sorted(rs, key=lambda r: r.dataset):
            txt = f"{r.dataset}: test {r.metric} {r.mean:.4f} ± {_fmt(r.sd)} (lr {r.lr:g}, n={r.n})"
            if r.p_holm is not None and not r.is_baseline:
                txt += f", vs {baseline}: d = {_fmt(r.d)}, Holm p = {r.p_holm:.3g}"
            out.append(txt)
        if o["diverged"]:
            out.append(f"{o['diverged']} of {o['runs']} runs diverged (across the learning-rate grid)")
        else:
            out.append(f"no run diverged across the learning-rate grid ({o['runs']} runs)")
        if o.get("relative_epoch_time") is not None and o["activation"] != baseline:
            out.append(f"time per epoch {o['relative_epoch_time']:.2f}x {baseline}'s")
        if o.get("dead") is not None:
            out.append(f"dead units {100 * o['dead']:.1f}%, saturated {100 * (o['saturated'] or 0):.1f}%")
        return out

    if base is None:
        reasons = describe(top)
        return {
            "activation": top["activation"],
            "verdict": "best mean rank (no baseline in the study)",
            "reasons": reasons,
        }
    if top["activation"] == baseline:
        reasons = [f"{baseline} has the best mean rank; no candidate beats it", *describe(top)]
        return {"activation": baseline, "verdict": f"keep {baseline}", "reasons": reasons}
    if top["better"] and not top["worse"]:
        reasons = [
            f"significantly better than {baseline} on {', '.join(top['better'])} "
            f"(Welch's t-test, Holm-corrected, alpha {ALPHA})",
            *describe(top),
        ]
        return {
            "activation": top["activation"],
            "verdict": f"switch to {top['activation']}",
            "reasons": reasons,
        }
    why = (
        f"{top['activation']} has the best mean rank ({top['mean_rank']:.2f} vs {baseline}'s "
        f"{base['mean_rank']:.2f}) but "
    )
    if top["worse"]:
        why += f"is significantly worse than {baseline} on {', '.join(top['worse'])}"
    else:
        why += f"is not significantly better than {baseline} on any dataset"
    reasons = [why + f"; keep {baseline}, or run more seeds to settle it", *describe(base)]
    return {
        "activation": baseline,
        "verdict": f"keep {baseline}",
        "runner_up": top["activation"],
        "reasons": reasons,
    }


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}"
