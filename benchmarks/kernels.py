"""Kernel benchmark: every elementwise catalog entry, ours against torch and the naive composite.

Run:  python -m benchmarks.kernels            (full: 4M float32 elements, 2 threads)
      python -m benchmarks.kernels --smoke    (~10 s: a few entries, small arrays; CI runs it)

Per entry, at its default parameters, in one run:
- forward and forward+backward throughput (M elements/s), medians over repeats;
- ours / torch native (where torch has the function: the catalog's torch ``peer``);
- ours / naive composite (the catalog formula in torch ops, differentiated by autograd: what a
  user would write);
- ours / relu (torch's own relu measured in the same run: the memory-bound floor);
- bytes saved for backward per element (autograd's saved tensors, deduplicated by storage).
Then the activation memory of a 20-layer MLP training step, ours vs torch native, and a
NumPy table (blocked NumPy forward vs torch's forward). Results go to ``benchmarks/results/``
as JSON and Markdown. "ours" is the CPU kernel itself (fused forward, fused backward), also for the
entries that ``fused()`` leaves to torch's native kernel on CPU (``CPU_SKIP``, column
"dispatched"). Times are wall-clock medians; other processes on the machine add noise, so compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SMOKE_NAMES = ["relu", "silu", "mish", "hardtanh"]
RESULTS = Path(__file__).resolve().parent / "results"


def _median_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _bytes_per_element(run, n: int) -> float:
    """Saved-for-backward bytes per element, the input itself included when it is saved."""
    import torch

    x = torch.randn(n, requires_grad=True)
    total: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        total[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = run(x)
    del y
    return sum(total.values()) / n


def bench_entry(name: str, n: int, repeats: int) -> dict[str, Any]:
    import torch

    import actlab
    from actlab.core import namespace
    from actlab.torch import kernels

    act = actlab.get(name)
    params = dict(act.params)
    spec = act.spec
    tops = namespace("torch")
    x0 = torch.randn(n) * 3.0
    g = torch.randn(n)
    row: dict[str, Any] = {"name": name, "family": spec.family, "grad_from": spec.grad_from}

    from actlab.torch.kernels import _api

    k = _api.kernel(name, "cpu")
    row["kernel"] = k.backend if k is not None else None
    row["saves"] = k.saves if k is not None else None
    row["dispatched"] = kernels.fused(name, x0) is not None  # False: fused() leaves it to torch

    def ours(x):  # the kernel itself, whatever the dispatcher would choose
        if k is None:
            return kernels.apply(name, x, **params)
        if torch.is_grad_enabled() and x.requires_grad:
            return _api._Apply.apply(x, k, params)
        return k.forward(x, **params)

    def composite(x):
        return spec.forward(x, tops, **params)

    peer = spec.peers.get("torch")

    def native(x):
        return peer(torch, x, **params)

    variants = {"ours": ours, "composite": composite}
    if peer is not None:
        variants["native"] = native
    variants["relu"] = torch.relu
    # Every (variant, pass) is timed once per round, round after round: a burst of load from
    # other processes then hits all of them alike, and the medians stay comparable.
    jobs = {}
    for key, fn in variants.items():
        def fwd(fn=fn):
            with torch.no_grad():
                fn(x0)

        x = x0.clone().requires_grad_()

        def step(fn=fn, x=x):
            fn(x).backward(g)
            x.grad = None

        for m, job in (("fwd", fwd), ("fb", step)):
            try:
                job()
                job()
                jobs[(key, m)] = job
            except Exception as e:  # noqa: BLE001 - e.g. a composite torch cannot differentiate
                row[f"{key}_{m}"] = None
                row[f"{key}_error"] = f"{type(e).__name__}: {e}"[:200]
    times: dict[tuple, list[float]] = {key: [] for key in jobs}
    for _ in range(repeats):
        for key, job in jobs.items():
            t = time.perf_counter()
            job()
            times[key].append(time.perf_counter() - t)
    for (key, m), ts in times.items():
        row[f"{key}_{m}"] = n / statistics.median(ts) / 1e6
    for key, fn in variants.items():
        if key == "relu":
            continue
        try:
            row[f"{key}_saved_bytes"] = _bytes_per_element(fn, 1 << 16)
        except Exception:  # noqa: BLE001
            row[f"{key}_saved_bytes"] = None
    relu = {"fwd": row.get("relu_fwd"), "fb": row.get("relu_fb")}

    def ratio(a, b):
        return a / b if a is not None and b else None

    for m in ("fwd", "fb"):
        row[f"vs_native_{m}"] = ratio(row[f"ours_{m}"], row.get(f"native_{m}"))
        row[f"vs_composite_{m}"] = ratio(row[f"ours_{m}"], row.get(f"composite_{m}"))
        row[f"vs_relu_{m}"] = ratio(row[f"ours_{m}"], relu[m])
    return row


# --- 20-layer MLP ---------------------------------------------------------------------------

_MLP_CODE = r"""
import json, sys, torch, actlab
from actlab.torch.kernels import _api
name, variant, width, batch, layers, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
act = actlab.get(name)
peer = act.spec.peers.get("torch")
k = _api.kernel(name, "cpu")
kparams = dict(act.params)
def f(x):
    if variant == "ours":  # the kernel itself (as in the throughput table)
        return _api._Apply.apply(x, k, kparams)
    return peer(torch, x, **act.params)
lins = [torch.nn.Linear(width, width) for _ in range(layers)]
params = [p for l in lins for p in l.parameters()]
opt = torch.optim.SGD(params, lr=1e-3)
x = torch.randn(batch, width)
saved = {}
def pack(t):
    st = t.untyped_storage(); saved[st.data_ptr()] = st.nbytes(); return t
def step(measure=False):
    h = x
    ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t) if measure else None
    if ctx: ctx.__enter__()
    for l in lins:
        h = f(l(h))
    loss = h.square().mean()
    if ctx: ctx.__exit__(None, None, None)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS mark
    base = None
    rss = [l for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
    base = int(rss.split()[1]) * 1024
except OSError:
    base = None
step(measure=True)
peak = hwm() - base if base is not None else None
print(json.dumps({"saved_bytes": sum(saved.values()), "peak_rss_delta": peak}))
"""


def bench_mlp(names: list[str], threads: int, smoke: bool) -> list[dict[str, Any]]:
    import actlab

    width, batch, layers = (256, 64, 20) if smoke else (1024, 1024, 20)
    out = []
    for name in names:
        if "torch" not in actlab.spec(name).peers:
            continue
        row: dict[str, Any] = {"name": name, "width": width, "batch": batch, "layers": layers}
        for variant in ("ours", "native"):
            r = subprocess.run([sys.executable, "-c", _MLP_CODE, name, variant, str(width), str(batch),
                                str(layers), str(threads)], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                row[variant] = {"error": r.stderr[-500:]}
                continue
            row[variant] = json.loads(r.stdout.strip().splitlines()[-1])
        out.append(row)
    return out


# --- NumPy ---------------------------------------------------------------------------------

def bench_numpy(names: list[str], n: int, repeats: int) -> list[dict[str, Any]]:
    import torch

    import actlab
    from actlab.core import blocked, namespace

    x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
    xt = torch.from_numpy(x)
    ops = namespace(x)
    out = []
    for name in names:
        spec = actlab.spec(name)
        peer = spec.peers.get("torch")
        if peer is None:
            continue
        p = spec.defaults
        with np.errstate(all="ignore"):
            tp = _median_time(lambda: spec.forward(x, ops, **p), repeats)
            tb = _median_time(lambda: blocked.evaluate(lambda b: spec.forward(b, ops, **p), x), repeats)
        with torch.no_grad():
            tt = _median_time(lambda: peer(torch, xt, **p), repeats)
        row = {"name": name, "numpy_plain": n / tp / 1e6, "numpy_blocked": n / tb / 1e6,
               "torch_fwd": n / tt / 1e6, "blocked_vs_torch": tt / tb}
        from actlab.torch.kernels import kernel

        k = kernel(name, "cpu")
        if k is not None:  # what a NumPy path through the same compiled C loops would give
            tc = _median_time(lambda: k.forward(torch.from_numpy(x), **p).numpy(), repeats)
            row["compiled_on_numpy"] = n / tc / 1e6
            row["compiled_vs_torch"] = tt / tc
        out.append(row)
    return out


# --- report ---------------------------------------------------------------------------------

def _geomean(vals):
    vals = [v for v in vals if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None


def _fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def summarize(rows, relu, mlp, nprows) -> dict[str, Any]:
    with_native = [r for r in rows if r["vs_native_fb"] is not None]
    without = [r for r in rows if r["vs_native_fb"] is None and r["vs_composite_fb"] is not None]
    mish = next((r for r in rows if r["name"] == "mish"), None)
    piecewise = [r for r in rows if r.get("piecewise_linear")]
    return {
        "fb_vs_native_min": min((r["vs_native_fb"] for r in with_native), default=None),
        "fb_vs_native_below_1": [r["name"] for r in with_native if r["vs_native_fb"] < 1.0],
        "fb_vs_native_geomean": _geomean([r["vs_native_fb"] for r in with_native]),
        "mish_fb_vs_native": mish["vs_native_fb"] if mish else None,
        "fb_vs_composite_min_no_native": min((r["vs_composite_fb"] for r in without), default=None),
        "fb_vs_composite_below_2_no_native": [r["name"] for r in without if r["vs_composite_fb"] < 2.0],
        "fb_geomean_vs_relu": _geomean([r["vs_relu_fb"] for r in rows]),
        "fwd_geomean_vs_relu": _geomean([r["vs_relu_fwd"] for r in rows]),
        "saved_bytes_max_fp32": max((r["ours_saved_bytes"] or 0 for r in rows), default=None),
        "saved_bytes_max_piecewise_linear": max((r["ours_saved_bytes"] or 0 for r in piecewise),
                                                default=None),
        "composite_failed": [r["name"] for r in rows if r.get("composite_fb") is None],
        "numpy_blocked_vs_torch_geomean": _geomean([r["blocked_vs_torch"] for r in nprows]),
        "numpy_compiled_vs_torch_geomean": _geomean([r.get("compiled_vs_torch") for r in nprows]),
    }


def markdown(meta, rows, relu, mlp, nprows, summary) -> str:
    L = [f"# Kernel benchmark ({meta['when']})", "",
         f"{meta['machine']}; torch {meta['torch']}; {meta['threads']} threads; n = {meta['n']:,} float32; "
         f"medians of {meta['repeats']} runs. relu (torch native, timed "
         f"alongside every entry; median): forward {relu['fwd']:.0f} M/s, forward+backward {relu['fb']:.0f} "
         f"M/s. Load average at the end: {meta['load_average']}.", "",
         "Throughput in M elements/s; ratios are ours / other. fb = forward+backward. "
         "saved = bytes kept for backward per element (ours / native).", "",
         "| function | fwd | fb | fwd vs native | fb vs native | fb vs composite | fb vs relu | saves | "
         "saved B/el (ours/native) | dispatched |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        nat_saved = _fmt(r.get("native_saved_bytes"), 1) if r.get("native_saved_bytes") is not None else "-"
        L.append(f"| {r['name']} | {_fmt(r['ours_fwd'])} | {_fmt(r['ours_fb'])} | "
                 f"{_fmt(r['vs_native_fwd'])} | "
                 f"{_fmt(r['vs_native_fb'])} | {_fmt(r['vs_composite_fb'])} | {_fmt(r['vs_relu_fb'])} | "
                 f"{r['saves'] or 'generic'} | {_fmt(r['ours_saved_bytes'], 1)} / {nat_saved} | "
                 f"{'yes' if r.get('dispatched') else 'no: native'} |")
    L += ["", "## Targets", ""]
    s = summary
    L.append(f"- fb >= 1.0x torch native for every function torch has: min {_fmt(s['fb_vs_native_min'])}"
             f" (below 1: {', '.join(s['fb_vs_native_below_1']) or 'none'}); geomean "
             f"{_fmt(s['fb_vs_native_geomean'])}")
    L.append(f"- mish fb >= 3x native: {_fmt(s['mish_fb_vs_native'])}")
    L.append(f"- fb >= 2x naive composite where torch lacks the function: min "
             f"{_fmt(s['fb_vs_composite_min_no_native'])} (below 2: "
             f"{', '.join(s['fb_vs_composite_below_2_no_native']) or 'none'})")
    def pct(v):
        return _fmt(100 * v if v else None, 0)

    L.append(f"- fb geomean >= 50% of relu: {pct(s['fb_geomean_vs_relu'])}%"
             f" (forward: {pct(s['fwd_geomean_vs_relu'])}%)")
    L.append(f"- saved for backward <= 4 B/element (fp32): max {_fmt(s['saved_bytes_max_fp32'], 1)}; "
             f"<= 1 B for piecewise-linear entries: max {_fmt(s['saved_bytes_max_piecewise_linear'], 1)}")
    L.append(f"- NumPy blocked forward >= 1.0x torch forward (geomean): "
             f"{_fmt(s['numpy_blocked_vs_torch_geomean'])} (the compiled C loops on the same NumPy "
             f"arrays: {_fmt(s['numpy_compiled_vs_torch_geomean'])})")
    if mlp:
        L += ["", "## 20-layer MLP training step: activation memory", "",
              f"Linear({mlp[0]['width']}, {mlp[0]['width']}) + activation, x {mlp[0]['layers']}, batch "
              f"{mlp[0]['batch']}, float32, SGD. saved = bytes autograd "
              "keeps (Linear inputs included, each storage once); peak = rise of the peak RSS during "
              "one training step in a fresh process.", "",
              "| function | saved ours MB | saved native MB | peak ours MB | peak native MB |",
              "|---|---|---|---|---|"]
        for r in mlp:
            o, nv = r.get("ours", {}), r.get("native", {})

            def mb(d, k):
                v = d.get(k)
                return f"{v / 2**20:.1f}" if isinstance(v, (int, float)) else "-"

            L.append(f"| {r['name']} | {mb(o, 'saved_bytes')} | {mb(nv, 'saved_bytes')} | "
                     f"{mb(o, 'peak_rss_delta')} | {mb(nv, 'peak_rss_delta')} |")
    if nprows:
        L += ["", "## NumPy forward (float32)", "",
              "M elements/s. compiled = the CPU kernel's C loop run on the NumPy array (zero-copy).", "",
              "| function | plain | blocked | torch | blocked / torch | compiled | compiled / torch |",
              "|---|---|---|---|---|---|---|"]
        for r in nprows:
            L.append(f"| {r['name']} | {_fmt(r['numpy_plain'])} | {_fmt(r['numpy_blocked'])} | "
                     f"{_fmt(r['torch_fwd'])} | {_fmt(r['blocked_vs_torch'])} | "
                     f"{_fmt(r.get('compiled_on_numpy'))} | {_fmt(r.get('compiled_vs_torch'))} |")
    L += ["", "GPU (Triton): " + meta["gpu"]]
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a ~10 s run that checks the benchmark works")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-n", type=int, default=None, help="elements (default 4M; smoke 64K)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--names", nargs="*", help="only these entries")
    ap.add_argument("--no-mlp", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)

    import torch

    import actlab
    from actlab.core import blocked
    from actlab.torch.kernels import _api

    torch.set_num_threads(a.threads)
    blocked.set_threads(a.threads)
    n = a.n or ((1 << 16) if a.smoke else (4 << 20))
    repeats = a.repeats or (3 if a.smoke else 15)
    all_names = actlab.names(kind="elementwise")
    names = a.names or ([m for m in SMOKE_NAMES if m in all_names] if a.smoke else all_names)

    t0 = time.perf_counter()
    for name in names:  # compile (or load from the cache) before timing
        _api.kernel(name, "cpu")
    compile_s = time.perf_counter() - t0
    rows = []
    for name in names:
        row = bench_entry(name, n, repeats)
        row["piecewise_linear"] = actlab.spec(name).piecewise_linear
        rows.append(row)
        print(f"{name:18s} fwd {_fmt(row['ours_fwd']):>7s}  fb {_fmt(row['ours_fb']):>7s}  "
              f"vs native {_fmt(row['vs_native_fb']):>5s}  vs composite {_fmt(row['vs_composite_fb']):>5s}  "
              f"vs relu {_fmt(row['vs_relu_fb']):>5s}  saved {_fmt(row['ours_saved_bytes'], 1)} B",
              flush=True)
    relu = {m: statistics.median([r[f"relu_{m}"] for r in rows if r.get(f"relu_{m}")]) for m in ("fwd", "fb")}
    mlp_names = ("mish",) if a.smoke else ("relu", "gelu", "silu", "mish", "tanh", "elu", "hardtanh",
                                                  "leaky_relu")
    mlp = [] if a.no_mlp else bench_mlp([m for m in names if m in mlp_names], a.threads, a.smoke)
    nprows = bench_numpy(names, n, repeats)
    gpu = ("not run: no CUDA device here" if not torch.cuda.is_available()
           else "CUDA present: GPU benchmarks are not part of this script yet")
    meta = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()} "
            f"{platform.processor() or ''} ({os.cpu_count()} CPUs)".strip(), "torch": torch.__version__,
            "threads": a.threads, "n": n, "repeats": repeats, "smoke": a.smoke,
            "compile_or_load_s": compile_s, "gpu": gpu,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    summary = summarize(rows, relu, mlp, nprows)
    result = {"meta": meta, "relu": relu, "rows": rows, "mlp": mlp, "numpy": nprows, "summary": summary}
    a.out.mkdir(parents=True, exist_ok=True)
    stem = "kernels_smoke" if a.smoke else "kernels"
    (a.out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))
    md = markdown(meta, rows, relu, mlp, nprows, summary)
    (a.out / f"{stem}.md").write_text(md)
    print()
    print(md)
    return result


if __name__ == "__main__":
    main()
