"""Every elementwise catalog entry against its 50-digit reference, its derivative, the other
backends and the peer libraries. Parametrised over the registry: a new entry is tested at once."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import actlab
from reference import DENSE, TOL, elementwise_names, error_score, grid, reference

NAMES = elementwise_names()


def _errors(act, dtype: str, derivative: bool = False):
    xs = grid(act)
    x = np.array(xs, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        finite = ~np.isnan(x)
        out = np.empty_like(x)
        fn = act.derivative if derivative else act
        out[finite] = fn(x[finite])
    with np.errstate(all="ignore"):
        out[~finite] = fn(x[~finite])
    kinks = {k.at for k in act.properties.kinks}
    bad = []
    for xi, yi in zip(x.tolist(), out.tolist()):
        if derivative and (xi in kinks or not math.isfinite(xi)):
            continue  # kink conventions and limits of f' are checked separately
        ref = reference(act, xi, derivative)
        if dtype == "float32" and not math.isnan(ref):
            ref32 = float(np.float32(ref)) if abs(ref) < 3.4e38 else math.copysign(math.inf, ref)
            if math.isinf(ref32):
                ref = ref32
        score = error_score(yi, ref, xi, dtype)
        if score > 1:
            bad.append((xi, yi, ref, score))
    return bad


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_matches_50_digit_reference(name, dtype):
    act = actlab.get(name)
    bad = _errors(act, dtype)
    assert not bad, f"{name} {dtype}: (x, ours, reference, error/tol) {bad[:6]}"
    assert act(np.array([1.0], dtype=dtype)).dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", NAMES)
def test_nan_in_nan_out(name):
    with np.errstate(all="ignore"):
        y = actlab.get(name)(np.array([math.nan, 1.0]))
    assert math.isnan(y[0])


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_sympy(name):
    act = actlab.get(name)
    rtol_atol = TOL["float64"]
    try:
        TOL["float64"] = (1e-10, 1e-13)
        bad = _errors(act, "float64", derivative=True)
    finally:
        TOL["float64"] = rtol_atol
    assert not bad, f"{name}: (x, ours, sympy, error/tol) {bad[:6]}"


@pytest.mark.parametrize("name", NAMES)
def test_derivative_at_kinks_follows_declared_convention(name):
    act = actlab.get(name)
    for kink in act.properties.kinks:
        got = float(act.derivative(np.array([kink.at]))[0])
        assert got == pytest.approx(kink.grad, rel=1e-12, abs=1e-15), (name, kink)


def _smooth_points(act, h_scale=1e-6):
    kinks = [k.at for k in act.properties.kinks]
    xs = np.array([x for x in DENSE if all(abs(x - k) > 1e-3 * max(1, abs(k)) for k in kinks)])
    return xs


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    act = actlab.get(name)
    x = _smooth_points(act)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    with np.errstate(all="ignore"):
        fd = (act(x + h) - act(x - h)) / (2 * h)
    d = act.derivative(x)
    np.testing.assert_allclose(d, fd, rtol=1e-5, atol=1e-6 * np.nanmax(np.abs(act(x))) + 1e-8,
                               err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_torch_autograd(name):
    torch = pytest.importorskip("torch")
    act = actlab.get(name)
    x = torch.tensor(_smooth_points(act), dtype=torch.float64, requires_grad=True)
    act(x).sum().backward()
    ours = act.derivative(x.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), ours, rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_jax_grad(name):
    jax = pytest.importorskip("jax")
    act = actlab.get(name)
    x = _smooth_points(act)
    g = jax.vmap(jax.grad(lambda t: act(t)))(jax.numpy.asarray(x, dtype=jax.numpy.float64))
    np.testing.assert_allclose(np.asarray(g), act.derivative(x), rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_backends_agree(name):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    act = actlab.get(name)
    x = np.array(grid(act))
    with np.errstate(all="ignore"):
        ref, dref = act(x), act.derivative(x)
    for arr in (torch.tensor(x), jnp.asarray(x, dtype=jnp.float64)):
        y, d = np.asarray(act(arr)), np.asarray(act.derivative(arr))
        assert y.dtype == np.float64
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=name)
        finite = np.isfinite(x)
        np.testing.assert_allclose(d[finite], dref[finite], rtol=1e-11, atol=1e-14, equal_nan=True,
                                   err_msg=f"{name} derivative")


def _peer_output(act, lib: str, x: np.ndarray):
    fn = act.spec.peers[lib]
    if lib == "torch":
        import torch

        return fn(torch, torch.tensor(x), **act.params).numpy()
    import jax

    return np.asarray(fn(jax, jax.numpy.asarray(x), **act.params))


PEERED = [(n, lib) for n in NAMES for lib in sorted(actlab.spec(n).peers)]


@pytest.mark.parametrize(("name", "lib"), PEERED)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_less_accurate_than_peer(name, lib, dtype):
    """Ours is within tolerance, or at least as close to the reference as the peer is."""
    pytest.importorskip(lib)
    act = actlab.get(name)
    x = np.array([v for v in grid(act) if not math.isnan(v)], dtype=dtype)
    with np.errstate(all="ignore"):
        ours = act(x)
        theirs = _peer_output(act, lib, x)
    worst_ours = worst_theirs = 0.0
    for xi, a, b in zip(x.tolist(), ours.tolist(), theirs.tolist()):
        ref = reference(act, xi)
        worst_ours = max(worst_ours, error_score(a, ref, xi, dtype))
        worst_theirs = max(worst_theirs, error_score(b, ref, xi, dtype))
    assert worst_ours <= max(1.0, worst_theirs), (name, lib, worst_ours, worst_theirs)


@pytest.mark.parametrize("name", NAMES)
def test_half_precision_computed_in_float32(name):
    import ml_dtypes

    act = actlab.get(name)
    x32 = np.linspace(-6, 6, 49, dtype=np.float32)
    for half in (np.float16, ml_dtypes.bfloat16):
        xh = x32.astype(half)
        y = act(xh)
        assert y.dtype == np.dtype(half)
        expected = act(xh.astype(np.float32)).astype(half)
        np.testing.assert_array_equal(y.astype(np.float32), expected.astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_half_precision_torch_and_jax(name):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    act = actlab.get(name)
    x = np.linspace(-6, 6, 49, dtype=np.float32)
    for half in (torch.float16, torch.bfloat16):
        t = torch.tensor(x).to(half)
        y = act(t)
        assert y.dtype == half
        torch.testing.assert_close(y, act(t.float()).to(half), rtol=0, atol=0, equal_nan=True)
    for half in (jnp.float16, jnp.bfloat16):
        j = jnp.asarray(x).astype(half)
        assert act(j).dtype == half


@pytest.mark.parametrize("name", NAMES)
def test_integer_and_bool_inputs_are_promoted(name):
    act = actlab.get(name)
    y = act(np.array([-2, 0, 3]))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, act(np.array([-2.0, 0.0, 3.0])))
    assert act(np.array([True, False])).dtype == np.float64


@pytest.mark.parametrize("name", NAMES)
def test_bad_dtypes_raise_type_error_naming_the_function(name):
    act = actlab.get(name)
    for bad in (np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object)):
        with pytest.raises(TypeError, match=name):
            act(bad)


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_zero_d(name):
    act = actlab.get(name)
    assert act(np.zeros((0, 3))).shape == (0, 3)
    assert act.derivative(np.zeros((0,))).shape == (0,)
    y = act(np.float64(0.5))
    assert np.ndim(y) == 0 and float(y) == pytest.approx(reference(act, 0.5), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_out_of_range_are_rejected(name):
    spec = actlab.spec(name)
    for p in spec.params:
        for bad in (p.low - 1.0, p.high + 1.0):
            if math.isinf(bad):
                continue
            with pytest.raises(ValueError, match=p.name) as e:
                actlab.get(name, **{p.name: bad})
            assert "got" in str(e.value)
        with pytest.raises(ValueError, match=p.name):
            actlab.get(name, **{p.name: math.nan})


@pytest.mark.parametrize("name", NAMES)
def test_formula_and_metadata_present(name):
    act = actlab.get(name)
    assert act.formula.startswith("f(x) =")
    assert act.spec.description and act.spec.paper
    assert act.family in actlab.families()
    d = act.describe()
    assert d["name"] == name and set(d["params"]) == set(act.spec.param_names)


def test_no_warnings_from_the_grid_in_any_backend():
    """Inputs +-inf and extremes raise no RuntimeWarning anywhere in the catalog."""
    x = np.array([v for v in grid(actlab.get("relu")) if not math.isnan(v)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for name in NAMES:
            act = actlab.get(name)
            act(x)
            act.derivative(x)
