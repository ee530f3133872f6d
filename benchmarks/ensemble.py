"""Ensembled training against a plain sequential PyTorch loop, on the same runs.

    python benchmarks/ensemble.py            # the default study's runs (3 datasets x 9 activations x 15)
    python benchmarks/ensemble.py --quick    # digits only, relu / gelu / tanh
    python benchmarks/ensemble.py --dtype float64   # equivalence to ~1e-9 instead of float32 rounding

For each dataset x activation, the seeds x learning-rate grid is trained once
as one batched model (``actlab.study.trainer.train_ensemble``) and once as a
loop of ordinary ``nn.Sequential`` + ``torch.optim`` runs
(``train_reference``): same data splits, initialisation, batch order, early
stopping. Both run in this process on one thread (as the study's workers do).
It prints the time of each and the ratio, and checks that both produce the
same metrics: in float64 to 1e-6; in float32, runs whose early-stopping epoch
agrees must agree to 1e-2 in validation and test metric (float32 rounding in
a batched matmul versus a plain one can flip an example or two of a few
hundred; a near-tie in validation loss can move the stopping epoch by
rounding alone: such runs are counted and shown). Times are wall time and
process CPU time; on a shared, busy machine the CPU-time ratio is the fairer one.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="digits only, three activations")
    ap.add_argument("--datasets", nargs="*", help="dataset names (default: the default study's)")
    ap.add_argument("--activations", nargs="*", help="activation names (default: the default study's)")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = ap.parse_args(argv)

    import dataclasses

    import torch

    from actlab.study.config import ActivationChoice, DatasetChoice, default_config
    from actlab.study.runner import plan
    from actlab.study.trainer import train_ensemble, train_reference

    torch.set_num_threads(1)
    cfg = default_config()
    if args.quick:
        args.datasets = args.datasets or ["digits"]
        args.activations = args.activations or [
            a for a in ("relu", "gelu", "tanh") if a in {x.name for x in cfg.activations}
        ]
    if args.datasets:
        cfg = dataclasses.replace(cfg, datasets=tuple(DatasetChoice(d) for d in args.datasets))
    if args.activations:
        cfg = dataclasses.replace(cfg, activations=tuple(ActivationChoice(a) for a in args.activations))
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, dtype=args.dtype))
    units = plan(cfg).units
    n_runs = sum(len(u.members) for u in units)
    print(
        f"{len(units)} units, {n_runs} runs ({len(cfg.seeds)} seeds x {len(cfg.training.lr_grid)} "
        f"learning rates per unit), {args.dtype}, torch {torch.__version__}, 1 thread"
    )
    for u in units[:1]:  # warm-up: imports, dataset cache, kernel set-up
        train_ensemble(dataclasses.replace(u, members=u.members[:1]))
        train_reference(dataclasses.replace(u, members=u.members[:1]))

    tol = 1e-6 if args.dtype == "float64" else 1e-2
    t_ens = t_ref = c_ens = c_ref = 0.0
    mismatches, stop_moved, max_diff = [], 0, 0.0
    print(
        f"{'dataset':<16}{'activation':<12}{'ensemble s':>11}{'sequential s':>14}{'ratio':>8}"
        f"{'cpu ratio':>10}"
    )
    for u in units:
        t0, c0 = time.perf_counter(), time.process_time()
        ens = train_ensemble(u)
        t1, c1 = time.perf_counter(), time.process_time()
        ref = train_reference(u)
        t2, c2 = time.perf_counter(), time.process_time()
        t_ens += t1 - t0
        t_ref += t2 - t1
        c_ens += c1 - c0
        c_ref += c2 - c1
        print(
            f"{u.dataset.label:<16}{u.activation.label:<12}{t1 - t0:>11.2f}{t2 - t1:>14.2f}"
            f"{(t2 - t1) / (t1 - t0):>7.1f}x{(c2 - c1) / max(c1 - c0, 1e-9):>9.1f}x",
            flush=True,
        )
        for a, b in zip(ens, ref, strict=True):
            if a.best_epoch != b.best_epoch or a.status != b.status:
                stop_moved += 1
                if args.dtype == "float64":
                    mismatches.append((u.dataset.label, u.activation.label, a.seed, a.lr, "stopping epoch"))
                continue
            d = max(abs(a.test_metric - b.test_metric), abs(a.val_metric - b.val_metric))
            if not math.isfinite(d) and a.status == b.status == "diverged":
                d = 0.0
            max_diff = max(max_diff, d)
            if d > tol + 1e-9:  # inclusive bound
                mismatches.append((u.dataset.label, u.activation.label, a.seed, a.lr, f"diff {d:.2e}"))
    print(
        f"\ntotal: ensembled {t_ens:.1f} s, sequential {t_ref:.1f} s, ratio {t_ref / t_ens:.1f}x "
        f"(sequential / ensembled, wall time), {n_runs} runs"
    )
    print(
        f"       CPU time: ensembled {c_ens:.1f} s, sequential {c_ref:.1f} s, ratio {c_ref / c_ens:.1f}x "
        "(the fairer figure on a shared, busy machine)"
    )
    with contextlib.suppress(OSError):
        print(f"       load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"same metrics: max |diff| {max_diff:.2e} over runs with the same stopping epoch; "
        f"{stop_moved} of {n_runs} runs stopped at another epoch; {len(mismatches)} mismatches"
    )
    for m in mismatches[:20]:
        print("  mismatch:", *m)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
