"""The Triton kernels, run on the CPU through Triton's interpreter (TRITON_INTERPRET=1).

The generated source is the same one a GPU compiles; only libdevice's own accuracy is not
exercised here (the interpreter gets NumPy stand-ins for it). GPU runs are at the end,
marked ``gpu``, and skip without CUDA.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

# Triton decides at import time whether its own @jit helpers (tl.sum's combine function, ...)
# are interpreted: the variable must be set before the first `import triton` of the process
# (`make test` sets it for the whole run).
if "triton" not in sys.modules:
    os.environ["TRITON_INTERPRET"] = "1"

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import actlab  # noqa: E402
from actlab.torch.kernels import _api  # noqa: E402
from reference import TOL, elementwise_names, error_score, grid, reference  # noqa: E402

NAMES = elementwise_names()


def _score(ours, ref, x, dtype):
    """reference.error_score, guarding a subnormal ``ref`` (rtol * |ref| underflows to 0)."""
    try:
        return error_score(ours, ref, x, dtype)
    except ZeroDivisionError:
        rtol, atol = TOL[dtype]
        return abs(ours - ref) / (atol * max(1.0, abs(x)))
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@pytest.fixture(scope="module", autouse=True)
def _interpret():
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    yield
    if old is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = old


def _kernel(name):
    k = _api.kernel(name, "triton")
    assert k is not None, f"{name}: no Triton kernel ({_api.status().get(name)})"
    assert k.backend == "triton"
    return k


def _run(k, act, x: np.ndarray, dtype: str, g: np.ndarray | None = None, device="cpu"):
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=DTYPES[dtype])
    y, saved = k.forward_and_save(t, **act.params)
    gt = torch.ones_like(t) if g is None else torch.from_numpy(g).to(device=device, dtype=DTYPES[dtype])
    d = k.backward(saved, gt, **act.params)
    assert y.dtype == t.dtype and d.dtype == t.dtype
    return y.cpu().numpy().astype(np.float64), d.cpu().numpy().astype(np.float64)


def _close(ours, ref, x, dtype, scale=2.0):
    rtol, atol = TOL[dtype]
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    same = (np.isnan(ours) & np.isnan(ref)) | (ours == ref)
    with np.errstate(all="ignore"):
        err = np.abs(ours - ref)
        ok = (err <= scale * rtol * np.abs(ref)) | (err <= scale * atol * np.maximum(1.0, np.abs(x)))
    return ~(same | (ok & np.isfinite(ours) & np.isfinite(ref)))


def test_every_elementwise_entry_has_a_triton_kernel():
    missing = [(n, _api.status().get(n)) for n in NAMES if _api.kernel(n, "triton") is None]
    assert not missing, missing


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_matches_50_digit_reference(name, dtype):
    act = actlab.get(name)
    xs = np.array(grid(act), dtype=dtype)
    y, _ = _run(_kernel(name), act, xs, dtype)
    bad = []
    for xi, yi in zip(xs.tolist(), y.tolist()):
        ref = reference(act, xi)
        if dtype == "float32" and not math.isnan(ref):
            r32 = float(np.float32(ref)) if abs(ref) < 3.4e38 else math.copysign(math.inf, ref)
            ref = r32 if math.isinf(r32) else ref
        if _score(yi, ref, xi, dtype) > 1:
            bad.append((xi, yi, ref))
    assert not bad, f"{name} {dtype}: (x, kernel, reference) {bad[:6]}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_catalog_forward_and_backward(name, dtype):
    act = actlab.get(name)
    rng = np.random.default_rng(0)
    x = np.concatenate([np.array(grid(act)), rng.standard_normal(3001) * 4.0,
                        rng.choice([-1, 1], 600) * 10.0 ** rng.uniform(-20, 6, 600)]).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    y, gx = _run(_kernel(name), act, x, dtype, g)
    with np.errstate(all="ignore"):
        ref = act(x)
        gref = g.astype(np.float64) * act.derivative(x).astype(np.float64)
    bad = _close(y, ref, x, dtype)
    assert not bad.any(), f"{name} {dtype} forward: {list(zip(x[bad][:4], y[bad][:4], ref[bad][:4]))}"
    bad = _close(gx, gref, x, dtype, scale=4.0 if dtype == "float32" else 200.0)
    assert not bad.any(), f"{name} {dtype} backward: {list(zip(x[bad][:4], gx[bad][:4], gref[bad][:4]))}"


@pytest.mark.parametrize("name", NAMES)
def test_half_precision_loads_and_stores_compute_in_float32(name):
    act = actlab.get(name)
    k = _kernel(name)
    x = torch.linspace(-6, 6, 97)
    for half in (torch.float16, torch.bfloat16):
        xh = x.to(half)
        y, saved = k.forward_and_save(xh, **act.params)
        assert y.dtype == half
        torch.testing.assert_close(y.float(), act(xh).float(), rtol=1e-2, atol=1e-2, equal_nan=True)
        gx = k.backward(saved, torch.ones_like(xh), **act.params)
        assert gx.dtype == half
        d = act.derivative(xh.float())
        torch.testing.assert_close(gx.float(), d.to(half).float(), rtol=2e-2, atol=2e-2, equal_nan=True)


@pytest.mark.parametrize("name", [n for n in NAMES if actlab.spec(n).piecewise_linear])
def test_piecewise_linear_entries_save_a_one_byte_mask(name):
    act = actlab.get(name)
    k = _kernel(name)
    x = torch.randn(500)
    _, saved = k.forward_and_save(x, **act.params)
    assert k.saves == "mask" and saved.dtype == torch.uint8 and saved.numel() <= x.numel()
    if saved.numel():
        torch.testing.assert_close(k.mask(x, **act.params), saved)


def test_interpreter_uses_cpu_tensors_and_matches_the_c_kernel():
    name = "mish" if "mish" in NAMES else NAMES[0]
    act = actlab.get(name)
    x = torch.randn(5000, dtype=torch.float64)
    yt = _kernel(name).forward(x, **act.params)
    ck = _api.kernel(name, "cpu")
    if ck is None:
        pytest.skip("no C compiler")
    torch.testing.assert_close(yt, ck.forward(x, **act.params), rtol=1e-13, atol=1e-15)


# --- on a real GPU -----------------------------------------------------------------------------

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("name", NAMES)
def test_gpu_kernels_match_the_catalog(name, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    act = actlab.get(name)
    k = _api.fused(name, torch.zeros(1, device="cuda"))
    assert k is not None and k.backend == "triton"
    for dtype in ("float32", "float64"):
        x = np.concatenate([np.array(grid(act)), np.random.default_rng(0).standard_normal(4096) * 4])
        x = x.astype(dtype)
        y, gx = _run(k, act, x, dtype, device="cuda")
        with np.errstate(all="ignore"):
            ref, dref = act(x), act.derivative(x)
        assert not _close(y, ref, x, dtype, scale=4.0).any(), (name, dtype)
        assert not _close(gx, dref, x, dtype, scale=8.0 if dtype == "float32" else 200.0).any(), (name, dtype)


# --- learnable activations through the interpreter ------------------------------------------

def _reductions_interpretable() -> bool:
    import triton.language.standard as std

    return type(std._sum_combine).__name__ == "InterpretedFunction"


@pytest.fixture
def _force_triton(monkeypatch):
    from actlab.torch.kernels import _combo, _rational

    if not _reductions_interpretable():
        pytest.skip("triton was imported before TRITON_INTERPRET=1 was set: run with TRITON_INTERPRET=1")

    monkeypatch.setattr(_rational, "_FORCE_TRITON", True)
    monkeypatch.setattr(_combo, "_FORCE_TRITON", True)


@pytest.mark.usefixtures("_force_triton")
@pytest.mark.parametrize("degrees", [(5, 4), (2, 3)])
def test_triton_rational_gradcheck(degrees):
    from actlab.torch.kernels import rational

    m, n = degrees
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(2500, dtype=torch.float64, generator=g) * 3).requires_grad_()
    a = torch.randn(m + 1, dtype=torch.float64, generator=g).requires_grad_()
    b = torch.randn(n, dtype=torch.float64, generator=g).requires_grad_()
    assert torch.autograd.gradcheck(rational, (x[:40].detach().requires_grad_(), a, b))
    # across program boundaries: many programs, partial sums reduced on the host
    from actlab.torch.kernels import _rational as rational_impl

    y = rational(x, a, b)
    gy = torch.randn_like(y)
    y.backward(gy)
    f, d, da, db = rational_impl._terms(x.detach(), a.tolist(), b.tolist())
    torch.testing.assert_close(y.detach(), f)
    torch.testing.assert_close(a.grad, torch.stack([(gy * t).sum() for t in da]))
    torch.testing.assert_close(b.grad, torch.stack([(gy * t).sum() for t in db]))


@pytest.mark.usefixtures("_force_triton")
def test_triton_combination_gradcheck():
    from actlab.torch.kernels import combination

    x = (torch.randn(3000, dtype=torch.float64) * 3).requires_grad_()
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: combination(x, ["tanh", "silu", "relu"], w),
                                    (x[:50].detach().requires_grad_(), w))
    y = combination(x, ["tanh", "silu", "relu"], w)
    acts = [actlab.get(n) for n in ("tanh", "silu", "relu")]
    torch.testing.assert_close(y, sum(w[i] * acts[i](x) for i in range(3)))
