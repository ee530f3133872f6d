"""The fused CPU kernels (actlab.torch.kernels) against the catalog and the 50-digit reference.

Every elementwise entry, float32 and float64, forward and backward:
- on the catalog's extreme grid, against the mpmath reference with the catalog's own tolerance;
- on random data over a wide range, against the catalog's plain forward and derivative;
- half precision, what is saved for backward, the autograd wrapper, and the fallbacks.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402
from actlab.torch.kernels import _api, _cgen  # noqa: E402
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
HAVE_CC = _cgen.compiler() is not None
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler: CPU kernels are off")


def _kernel(name):
    k = _api.kernel(name, "cpu")
    assert k is not None, f"{name}: no CPU kernel ({_api.status().get(name)})"
    return k


def _run(k, act, x: np.ndarray, dtype: str, g: np.ndarray | None = None):
    t = torch.from_numpy(np.ascontiguousarray(x)).to(DTYPES[dtype])
    y, saved = k.forward_and_save(t, **act.params)
    gt = torch.ones_like(t) if g is None else torch.from_numpy(g).to(DTYPES[dtype])
    d = k.backward(saved, gt, **act.params)
    assert y.dtype == t.dtype and d.dtype == t.dtype
    return y.numpy().astype(np.float64), d.numpy().astype(np.float64)


def _ref32(ref: float) -> float:
    if not math.isnan(ref):
        r32 = float(np.float32(ref)) if abs(ref) < 3.4e38 else math.copysign(math.inf, ref)
        if math.isinf(r32):
            return r32
    return ref


@needs_cc
def test_every_elementwise_entry_has_a_cpu_kernel():
    missing = [(n, _api.status().get(n)) for n in NAMES if _api.kernel(n, "cpu") is None]
    assert not missing, missing


@needs_cc
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_matches_50_digit_reference(name, dtype):
    act = actlab.get(name)
    xs = np.array(grid(act), dtype=dtype)
    y, _ = _run(_kernel(name), act, xs, dtype)
    bad = []
    for xi, yi in zip(xs.tolist(), y.tolist()):
        ref = reference(act, xi)
        if dtype == "float32":
            ref = _ref32(ref)
        score = _score(yi, ref, xi, dtype)
        if score > 1:
            bad.append((xi, yi, ref, score))
    assert not bad, f"{name} {dtype}: (x, kernel, reference, error/tol) {bad[:6]}"


@needs_cc
@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_sympy_derivative(name):
    act = actlab.get(name)
    xs = np.array(grid(act))
    _, d = _run(_kernel(name), act, xs, "float64")
    kinks = {k.at for k in act.properties.kinks}
    bad = []
    for xi, di in zip(xs.tolist(), d.tolist()):
        if xi in kinks or not math.isfinite(xi):
            continue  # conventions and limits: compared with the catalog below
        ref = reference(act, xi, derivative=True)
        score = _score(di, ref, xi, "float64") * (1e-12 / 1e-10)  # the catalog's f' tolerance
        if score > 1:
            bad.append((xi, di, ref, score))
    assert not bad, f"{name}: (x, kernel f', sympy f', error/tol) {bad[:6]}"


def _close(ours, ref, x, dtype, scale=2.0):
    """Within ``scale`` times the catalog tolerance of the catalog's own result (nan/inf exact)."""
    rtol, atol = TOL[dtype]
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    same = (np.isnan(ours) & np.isnan(ref)) | (ours == ref)
    with np.errstate(all="ignore"):
        err = np.abs(ours - ref)
        ok = (err <= scale * rtol * np.abs(ref)) | (err <= scale * atol * np.maximum(1.0, np.abs(x)))
    bad = ~(same | (ok & np.isfinite(ours) & np.isfinite(ref)))
    return bad


def _random_x(dtype, n=4099, seed=0):
    rng = np.random.default_rng(seed)
    wide = rng.choice([-1.0, 1.0], n // 3) * 10.0 ** rng.uniform(-20, 6 if dtype == "float32" else 12, n // 3)
    return np.concatenate([rng.standard_normal(n - n // 3) * 4.0, wide]).astype(dtype)


@needs_cc
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_catalog_on_grid_and_random_data(name, dtype):
    act = actlab.get(name)
    x = np.concatenate([np.array(grid(act), dtype=dtype), _random_x(dtype)])
    g = np.random.default_rng(1).standard_normal(x.size).astype(dtype)
    y, gx = _run(_kernel(name), act, x, dtype, g)
    with np.errstate(all="ignore"):
        ref = act(x)
        dref = act.derivative(x)
        gref = g.astype(np.float64) * dref.astype(np.float64)
    bad = _close(y, ref, x, dtype)
    assert not bad.any(), f"{name} {dtype} forward: {list(zip(x[bad][:4], y[bad][:4], ref[bad][:4]))}"
    # g * f' in the dtype: one more rounding than f' alone
    bad = _close(gx, gref, x, dtype, scale=4.0 if dtype == "float32" else 200.0)
    assert not bad.any(), (f"{name} {dtype} backward: (x, g, kernel, catalog) "
                           f"{list(zip(x[bad][:4], g[bad][:4], gx[bad][:4], gref[bad][:4]))}")


@needs_cc
@pytest.mark.parametrize("name", NAMES)
def test_derivative_at_kinks_and_infinities_follows_the_catalog(name):
    act = actlab.get(name)
    pts = [k.at for k in act.properties.kinks] + [math.inf, -math.inf, math.nan, 0.0, -0.0]
    for dtype in ("float64", "float32"):
        x = np.array(pts, dtype=dtype)
        _, d = _run(_kernel(name), act, x, dtype)
        with np.errstate(all="ignore"):
            dref = act.derivative(x).astype(np.float64)
        bad = _close(d, dref, x, dtype)
        assert not bad.any(), (name, dtype, list(zip(x[bad], d[bad], dref[bad])))


@needs_cc
@pytest.mark.parametrize("name", NAMES)
def test_half_precision_is_computed_in_float32(name):
    act = actlab.get(name)
    k = _kernel(name)
    x = torch.linspace(-6, 6, 97)
    for half in (torch.float16, torch.bfloat16):
        xh = x.to(half)
        y, saved = k.forward_and_save(xh, **act.params)
        assert y.dtype == half
        ref = act(xh)
        torch.testing.assert_close(y.float(), ref.float(), rtol=1e-2, atol=1e-2, equal_nan=True)
        gx = k.backward(saved, torch.ones_like(xh), **act.params)
        assert gx.dtype == half
        assert torch.isfinite(gx.float()).all() or not torch.isfinite(act.derivative(xh.float())).all()


@needs_cc
@pytest.mark.parametrize("name", NAMES)
def test_saved_for_backward_is_lean(name):
    act = actlab.get(name)
    k = _kernel(name)
    x = torch.randn(1000)
    y, saved = k.forward_and_save(x, **act.params)
    per_element = saved.numel() * saved.element_size() / x.numel()
    assert per_element <= 4
    if act.spec.piecewise_linear:
        assert k.saves == "mask" and per_element <= 1, (name, k.saves)
    if k.saves == "mask":
        assert saved.dtype == torch.uint8
        torch.testing.assert_close(k.mask(x, **act.params), saved)
        # FusedKernel.save (the interface the autograd wrapper uses) gives the same mask
        torch.testing.assert_close(k.save(x, y, **act.params), saved)


@needs_cc
@pytest.mark.parametrize("name", ["mish", "relu", "gelu", "elu", "hardtanh", "softplus", "sigmoid"])
def test_kernel_as_an_autograd_function(name):
    act = actlab.get(name)
    k = _kernel(name)
    x = (torch.randn(300, dtype=torch.float64) * 3).requires_grad_()
    torch.autograd.gradcheck(lambda t: _api._Apply.apply(t, k, dict(act.params)), (x,))
    with torch.no_grad():
        y = _api.apply(name, x)  # the dispatcher: kernel, or the catalog where fused() says None
    torch.testing.assert_close(y, act(x.detach()))


@needs_cc
def test_fused_leaves_measured_losers_to_torch():
    for name in NAMES:
        k = _api.fused(name, torch.zeros(1))
        if name in _api.CPU_SKIP:
            assert k is None, name
        else:
            assert k is not None and k.backend == "cpu", name
    assert _api.fused(NAMES[0], torch.zeros(1, dtype=torch.int64)) is None


@needs_cc
def test_large_and_odd_sizes_and_threads():
    act = actlab.get("silu" if "silu" in NAMES else NAMES[0])
    k = _kernel(act.name)
    old = torch.get_num_threads()
    try:
        for nt in (1, 2, 3):
            torch.set_num_threads(nt)
            for n in (0, 1, 7, 65, 32768 + 3, 200003):
                x = torch.randn(n, dtype=torch.float64)
                y, s = k.forward_and_save(x, **act.params)
                torch.testing.assert_close(y, act(x), rtol=1e-12, atol=1e-15)
                gx = k.backward(s, torch.ones_like(x), **act.params)
                torch.testing.assert_close(gx, act.derivative(x), rtol=1e-11, atol=1e-14)
    finally:
        torch.set_num_threads(old)


@needs_cc
def test_non_contiguous_and_shaped_input():
    act = actlab.get("silu" if "silu" in NAMES else NAMES[0])
    k = _kernel(act.name)
    x = torch.randn(64, 33)[:, ::2].t()
    y = k.forward(x, **act.params)
    assert y.shape == x.shape
    torch.testing.assert_close(y, act(x))


@needs_cc
def test_parameters_are_runtime_values():
    k = _kernel("elu")
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    for alpha in (0.1, 1.0, 2.5):
        torch.testing.assert_close(k.forward(x, alpha=alpha), actlab.get("elu", alpha=alpha)(x))


@needs_cc
def test_build_is_cached_on_disk(monkeypatch):
    name = "tanh" if "tanh" in NAMES else NAMES[0]
    _kernel(name)  # built (or loaded) once
    _cgen._LOADED.clear()
    _api._ENTRIES.clear()

    def no_compiler(*a, **k):
        raise AssertionError("the compiler ran again: the build was not cached")

    monkeypatch.setattr(_cgen.subprocess, "run", no_compiler)
    assert _api.kernel(name, "cpu") is not None


def test_without_a_compiler_the_generic_path_is_used(tmp_path):
    code = (
        "import torch, actlab\n"
        "from actlab.torch import kernels\n"
        "assert kernels.kernel('silu', 'cpu') is None\n"
        "x = torch.randn(10, requires_grad=True)\n"
        "y = kernels.apply('silu', x); y.sum().backward()\n"
        "torch.testing.assert_close(y, actlab.get('silu')(x.detach()))\n"
        "torch.testing.assert_close(x.grad, actlab.get('silu').derivative(x.detach()))\n"
        "print('ok')\n"
    )
    env = {"PATH": "/nonexistent", "ACTLAB_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


# --- learnable: rational (PAU) and learned combinations ----------------------------------------

def _catalog_rational_coefficients():
    d = actlab.spec("rational").defaults
    a = [d[f"a{i}"] for i in range(6)]
    b = [d[f"b{k}"] for k in range(1, 5)]
    return a, b


@pytest.mark.parametrize("degrees", [(5, 4), (3, 2), (2, 3), (4, 4), (1, 1)])
def test_rational_gradcheck_all_inputs(degrees):
    from actlab.torch.kernels import rational

    m, n = degrees
    g = torch.Generator().manual_seed(m * 10 + n)
    x = (torch.randn(300, dtype=torch.float64, generator=g) * 3).requires_grad_()
    a = torch.randn(m + 1, dtype=torch.float64, generator=g).requires_grad_()
    b = torch.randn(n, dtype=torch.float64, generator=g).requires_grad_()
    assert torch.autograd.gradcheck(rational, (x, a, b))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rational_matches_the_catalog_entry(dtype):
    from actlab.torch.kernels import rational

    act = actlab.get("rational")
    a, b = _catalog_rational_coefficients()
    x = np.concatenate([np.array(grid(act)), _random_x(dtype)]).astype(dtype)
    y = rational(torch.from_numpy(x), torch.tensor(a, dtype=torch.float64),
                 torch.tensor(b, dtype=torch.float64)).numpy()
    with np.errstate(all="ignore"):
        ref = act(x)
    bad = _close(y, ref, x, dtype, scale=4.0)
    assert not bad.any(), list(zip(x[bad][:4], y[bad][:4], ref[bad][:4]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rational_parameter_gradients_match_the_composite(dtype):
    from actlab.torch.kernels import _rational as rational_impl

    x = torch.randn(100_003, dtype=dtype) * 2
    gy = torch.randn_like(x)
    a = torch.randn(6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    xr = x.clone().requires_grad_()
    rational_impl.rational(xr, a, b).backward(gy)
    f, d, da, db = rational_impl._terms(x.double(), a.tolist(), b.tolist())
    gd = gy.double()
    tol = dict(rtol=1e-4, atol=1e-2) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(a.grad, torch.stack([(gd * t).sum() for t in da]), **tol)
    torch.testing.assert_close(b.grad, torch.stack([(gd * t).sum() for t in db]), **tol)
    x_tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-11, atol=1e-13)
    torch.testing.assert_close(xr.grad.double(), gd * d, **x_tol)


def test_rational_half_precision_and_limits():
    from actlab.torch.kernels import rational

    a, b = torch.tensor([0.1, 1.0, 0.5, 0.2, 0.01, 0.02]), torch.tensor([0.5, 0.1, 0.05, 0.04])
    x = torch.tensor([-math.inf, -1e30, -2.0, 0.0, 0.5, 3.0, 1e30, math.inf, math.nan])
    y = rational(x, a, b)
    assert y[0] == -math.inf and y[-2] == math.inf and math.isnan(y[-1])
    for half in (torch.float16, torch.bfloat16):
        yh = rational(x[2:6].to(half), a, b)
        assert yh.dtype == half
        torch.testing.assert_close(yh.float(), y[2:6], rtol=1e-2, atol=1e-2)


def test_combination_gradients_and_values():
    from actlab.torch.kernels import combination

    bases = ["relu", "tanh", "mish", actlab.get("elu", alpha=0.5)]
    x = (torch.randn(200, dtype=torch.float64) * 3).requires_grad_()
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: combination(x, bases, w), (x, w))
    xs = torch.randn(50_000) * 3
    w32 = torch.tensor([0.5, -1.0, 2.0, 0.25])
    acts = [actlab.get(b) if isinstance(b, str) else b for b in bases]
    ref = sum(float(wi) * a(xs) for wi, a in zip(w32, acts))
    torch.testing.assert_close(combination(xs, bases, w32), ref, rtol=1e-5, atol=1e-5)


def test_combination_rejects_bad_arguments():
    from actlab.torch.kernels import combination

    with pytest.raises(ValueError, match="one entry per base"):
        combination(torch.randn(3), ["relu", "tanh"], torch.ones(3))
    if "softmax" in actlab.names():
        with pytest.raises(ValueError, match="vector-valued"):
            combination(torch.randn(3), ["softmax"], torch.ones(1))
