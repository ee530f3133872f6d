"""Vector-valued catalog entries: softmax family, sparsemax, maxout, the GLU family.

Every test is parametrised over ``actlab.catalog(kind="vector")``, so a newly
registered vector entry is covered the moment it is registered. What is checked:
accuracy against a 50-digit mpmath reference (sympy ``vector_expression`` or the
entry's mpmath ``reference``), the VJP against finite differences, torch autograd
and jax.vjp of the forward, the Jacobian against the VJP, sympy and torch, axis
handling (every axis of a 3-d input, negative axes, bad axes and split sizes),
empty and one-element inputs, non-finite entries, half precision, backend
agreement and the torch / jax.nn peers.
"""

from __future__ import annotations

import functools
import warnings

import mpmath
import numpy as np
import pytest
import sympy

import actlab
from actlab import AxisError, ParameterError

VECTOR = actlab.catalog(kind="vector")
IDS = [a.name for a in VECTOR]
vector = pytest.mark.parametrize("act", VECTOR, ids=IDS)

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

F64 = (1e-12, 1e-15)  # relative, absolute (times max(1, max|x| of the row))
F32 = (1e-5, 5e-7)
# jax's x64 mode (float64 comparisons) is switched on for the session by tests/conftest.py.


@pytest.fixture(autouse=True)
def _no_fp_warnings():
    """Overflow, invalid and divide-by-zero in numpy are errors in every test here."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        yield


# --- helpers ----------------------------------------------------------------------------------

def fits(act, n: int) -> bool:
    """Whether an axis of size n is valid for ``act`` (even for GLUs, divisible for maxout)."""
    try:
        act(np.zeros(n))
    except AxisError:
        return False
    return True


def sizes(act, candidates=(1, 2, 3, 4, 6, 8)) -> list[int]:
    return [n for n in candidates if fits(act, n)]


def out_size(act, n: int) -> int:
    return act(np.zeros(n)).shape[0] if n else 0


@functools.cache
def _lambdified(name: str, params: tuple, n: int):
    act = actlab.get(name, **dict(params))
    xs = list(sympy.symbols(f"x0:{n}", real=True))
    exprs = act.spec.vector_expression(sympy, xs, **act.params)
    jac = sympy.Matrix(exprs).jacobian(xs)
    return (sympy.lambdify(xs, exprs, modules="mpmath"),
            sympy.lambdify(xs, jac.tolist(), modules="mpmath"))


def reference(act, row) -> list:
    """The 50-digit value of ``act`` on one row (a sequence of floats)."""
    with mpmath.workdps(50):
        xs = [mpmath.mpf(float(v)) for v in row]
        if act.spec.vector_expression is not None:
            f, _ = _lambdified(act.name, tuple(sorted(act.params.items())), len(xs))
            return [mpmath.mpf(v) for v in f(*xs)]
        return [mpmath.mpf(v) for v in act.spec.reference(xs, **act.params)]


def reference_jacobian(act, row):
    with mpmath.workdps(50):
        _, j = _lambdified(act.name, tuple(sorted(act.params.items())), len(row))
        return np.array([[float(v) for v in r] for r in j(*[mpmath.mpf(float(v)) for v in row])])


def assert_accurate(act, rows, y, tol, what=""):
    rel, ab = tol
    for row, out in zip(rows, y):
        ref = reference(act, row)
        scale = max(1.0, float(np.max(np.abs(np.asarray(row, dtype=np.float64)))))
        for i, (got, want) in enumerate(zip(np.asarray(out, dtype=np.float64), ref)):
            err = abs(mpmath.mpf(float(got)) - want)
            assert err <= rel * abs(want) or err <= ab * scale, (
                f"{act.name}{what}: output {i} of row {list(map(float, row))}: got {float(got)!r}, "
                f"want {mpmath.nstr(want, 20)}")


def random_rows(act, n, count=6, seed=0, scales=(1.0, 4.0, 30.0)):
    rng = np.random.default_rng(seed + 7919 * n)
    return np.concatenate([rng.normal(size=(count, n)) * s for s in scales])


def special_rows(n):
    """Hand-picked rows: zeros, ties, extremes of the grid."""
    base = [0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0, 20.0, -20.0, 88.0, -88.0, 710.0, -710.0, 1e4, -1e4]
    rows = [np.zeros(n), np.ones(n), np.full(n, -3.5)]
    for k in range(0, len(base), n):
        chunk = (base[k:k + n] * n)[:n]
        rows.append(np.array(chunk))
        rows.append(-np.array(chunk[::-1]))
    return np.array(rows)


def numpy_vjp_fd(act, x, g, axis=-1, h=1e-6):
    """Central finite differences of <g, f(x)> with respect to each entry of x."""
    out = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        step = h * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        out[i] = (np.sum(g * act(xp, axis)) - np.sum(g * act(xm, axis))) / (2 * step)
    return out


def moved(x, axis):
    return np.moveaxis(x, axis, -1)


def on_jax(fn, *arrays):
    """``fn`` on jax copies of ``arrays``, under jax.jit, as numpy array(s).

    Eager jax compiles every primitive for every new shape (seconds per call on a small CPU);
    one jit compile of several results together is much cheaper, so the jax checks below run
    jitted, on one shape each. test_jax_eager covers the eager path.
    """
    out = jax.jit(fn)(*[jnp.asarray(a) for a in arrays])
    return tuple(map(np.asarray, out)) if isinstance(out, tuple) else np.asarray(out)


def jax_size(act):
    """The one axis size the jax checks use."""
    return sizes(act, (4, 6, 2))[0]


# --- metadata ---------------------------------------------------------------------------------

@vector
def test_declares_vector_parts(act):
    s = act.spec
    assert s.kind == "vector" and not act.is_elementwise
    assert s.vjp is not None and s.jacobian is not None
    assert (s.vector_expression is None) != (s.reference is None)
    assert s.latex and s.description and s.paper
    assert s.family in ("vector", "gated")
    with pytest.raises(TypeError, match=act.name):
        act.derivative(np.zeros(4))


# --- accuracy against the 50-digit reference ------------------------------------------------------

@vector
def test_reference_float64(act):
    for n in sizes(act):
        rows = np.concatenate([random_rows(act, n, count=4), special_rows(n)])
        assert_accurate(act, rows, act(rows), F64, f" (float64, n={n})")


@vector
def test_reference_float32(act):
    for n in sizes(act, (2, 4, 6)):
        rows = np.concatenate([random_rows(act, n, count=4), special_rows(n)]).astype(np.float32)
        y = act(rows)
        assert y.dtype == np.float32
        assert_accurate(act, rows, y, F32, f" (float32, n={n})")


@vector
def test_outputs_in_declared_range(act):
    lo, hi = act.properties.range
    for n in sizes(act):
        y = act(random_rows(act, n, count=20))
        assert np.all((y >= lo) & (y <= hi)), act.name


def test_probability_outputs_sum_to_one():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 7)) * 5
    for name in ("softmax", "softmin", "sparsemax"):
        np.testing.assert_allclose(np.sum(actlab.get(name)(x), axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.sum(np.exp(actlab.get("log_softmax")(x)), axis=-1), 1.0, rtol=1e-14)
    assert np.any(actlab.get("sparsemax")(x) == 0.0)  # sparse, unlike softmax


def test_log_softmax_keeps_tiny_outputs():
    # log(1 + e^-40) would round to 0; the exact value is -e^-40 (to 1e-35 relative)
    y = actlab.get("log_softmax")(np.array([0.0, -40.0]))
    assert y[0] == pytest.approx(-np.exp(-40.0), rel=1e-15)


def test_known_values():
    x = np.array([1.0, 2.0, 3.0])
    e = np.exp(x)
    np.testing.assert_allclose(actlab.get("softmax")(x), e / e.sum(), rtol=1e-15)
    sparse = actlab.get("sparsemax")(np.array([1.0, 0.2, -0.5]))
    np.testing.assert_allclose(sparse, [0.9, 0.1, 0.0], atol=1e-15)
    np.testing.assert_array_equal(actlab.get("maxout", pieces=3)(np.array([1.0, 5, 2, -1, -2, -3])), [5, -1])
    a, b = np.array([2.0, -1.0]), np.array([0.5, -3.0])
    np.testing.assert_allclose(actlab.get("glu")(np.concatenate([a, b])), a / (1 + np.exp(-b)), rtol=1e-15)
    np.testing.assert_allclose(actlab.get("reglu")(np.concatenate([a, b])), a * np.maximum(b, 0), rtol=1e-15)


# --- VJP and Jacobian -------------------------------------------------------------------------

@vector
def test_vjp_matches_finite_differences(act):
    rng = np.random.default_rng(3)
    for n in sizes(act, (1, 2, 4, 6)):
        x = rng.normal(size=(3, n)) * 2
        g = rng.normal(size=act(x).shape)
        np.testing.assert_allclose(act.vjp(x, g), numpy_vjp_fd(act, x, g), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{act.name}, n={n}")


@vector
def test_vjp_matches_torch_autograd(act):
    rng = np.random.default_rng(4)
    for n in sizes(act, (2, 4, 6)):
        x = rng.normal(size=(4, n)) * 3
        g = rng.normal(size=act(x).shape)
        xt = torch.tensor(x, requires_grad=True)
        (act(xt) * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(act.vjp(x, g), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(act.vjp(torch.tensor(x), torch.tensor(g)).numpy(), xt.grad.numpy(),
                                   rtol=1e-12, atol=1e-14)


@vector
def test_vjp_matches_jax_vjp(act):
    rng = np.random.default_rng(5)
    n = jax_size(act)
    x = rng.normal(size=(4, n)) * 3
    g = rng.normal(size=act(x).shape)
    expected, ours = on_jax(lambda v, w: (jax.vjp(lambda u: act(u), v)[1](w)[0], act.vjp(v, w)), x, g)
    np.testing.assert_allclose(act.vjp(x, g), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


@vector
def test_jacobian_matches_vjp(act):
    rng = np.random.default_rng(6)
    for n in sizes(act, (1, 2, 4, 6)):
        x = rng.normal(size=(2, 3, n)) * 2
        m = out_size(act, n)
        jac = act.jacobian(x)
        assert jac.shape == (2, 3, m, n)
        for i in range(m):
            e = np.zeros((2, 3, m))
            e[..., i] = 1.0
            np.testing.assert_allclose(jac[..., i, :], act.vjp(x, e), rtol=1e-13, atol=1e-15)


@vector
def test_jacobian_matches_sympy(act):
    if act.spec.vector_expression is None:
        pytest.skip(f"{act.name} has an mpmath reference, no sympy expression (see the FD test)")
    rng = np.random.default_rng(7)
    for n in sizes(act, (1, 2, 4)):
        for x in rng.normal(size=(4, n)) * 2:
            np.testing.assert_allclose(act.jacobian(x), reference_jacobian(act, x), rtol=1e-10, atol=1e-13,
                                       err_msg=f"{act.name} at {x}")


@vector
def test_jacobian_matches_torch(act):
    rng = np.random.default_rng(8)
    for n in sizes(act, (1, 2, 4, 6)):
        x = rng.normal(size=n) * 2
        expected = torch.autograd.functional.jacobian(lambda v: act(v), torch.tensor(x)).numpy()
        np.testing.assert_allclose(act.jacobian(x), expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(act.jacobian(torch.tensor(x)).numpy(), expected, rtol=1e-12, atol=1e-14)
        if n == jax_size(act):
            np.testing.assert_allclose(on_jax(lambda v: act.jacobian(v), x), expected, rtol=1e-12, atol=1e-14)


def test_softmax_jacobian_formula():
    x = np.array([0.3, -1.2, 2.0, 0.0])
    y = actlab.get("softmax")(x)
    np.testing.assert_allclose(actlab.get("softmax").jacobian(x), np.diag(y) - np.outer(y, y), atol=1e-16)


def test_sparsemax_vjp_on_support():
    x = np.array([1.0, 0.9, -2.0, 0.7])
    g = np.array([1.0, 2.0, 3.0, 6.0])
    sm = actlab.get("sparsemax")
    y = sm(x)
    s = y > 0
    assert list(s) == [True, True, False, True]
    np.testing.assert_allclose(sm.vjp(x, g), np.where(s, g - g[s].mean(), 0.0), atol=1e-15)


def test_maxout_vjp_routes_to_first_maximum():
    mo = actlab.get("maxout", pieces=3)
    x = np.array([2.0, 2.0, 1.0, -1.0, 0.0, 0.0])
    np.testing.assert_array_equal(mo.vjp(x, np.array([5.0, 7.0])), [5.0, 0, 0, 0, 7.0, 0])
    np.testing.assert_array_equal(mo.jacobian(x), [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]])


# --- axes ---------------------------------------------------------------------------------------

SHAPE3 = (2, 4, 6)  # every axis even and divisible by 2: valid for every default entry


@vector
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_every_axis_of_a_3d_input(act, axis):
    rng = np.random.default_rng(9)
    x = rng.normal(size=SHAPE3)
    y = act(x, axis=axis)
    expected = np.moveaxis(act(moved(x, axis)), -1, axis)
    np.testing.assert_array_equal(y, expected)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(act.vjp(x, g, axis=axis),
                               np.moveaxis(act.vjp(moved(x, axis), moved(g, axis)), -1, axis), rtol=1e-15)
    np.testing.assert_allclose(act.jacobian(x, axis=axis), act.jacobian(moved(x, axis)), rtol=1e-15)
    np.testing.assert_allclose(act(torch.tensor(x), axis=axis).numpy(), y, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(act.vjp(torch.tensor(x), torch.tensor(g), axis=axis).numpy(),
                               act.vjp(x, g, axis=axis), rtol=1e-12, atol=1e-15)
    if axis in (1, -3):  # jax (jitted: see on_jax) on one inner and one negative axis
        yj, vj = on_jax(lambda v, w: (act(v, axis=axis), act.vjp(v, w, axis=axis)), x, g)
        np.testing.assert_allclose(yj, y, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(vj, act.vjp(x, g, axis=axis), rtol=1e-12, atol=1e-15)


@vector
@pytest.mark.parametrize("axis", [3, -4, 100])
def test_axis_out_of_range(act, axis):
    x = np.zeros(SHAPE3)
    for call in (lambda: act(x, axis=axis), lambda: act.vjp(x, x, axis=axis),
                 lambda: act.jacobian(x, axis=axis)):
        with pytest.raises(AxisError, match=rf"{act.name}.*axis {axis}.*out of range"):
            call()


@vector
def test_axis_must_be_an_integer(act):
    for bad in (1.0, "1", None, True):
        with pytest.raises(AxisError, match=act.name):
            act(np.zeros(SHAPE3), axis=bad)


@vector
def test_0d_input_is_rejected(act):
    with pytest.raises(AxisError, match="0-d"):
        act(np.float64(1.0))


GATED = [a for a in VECTOR if a.family == "gated"]


@pytest.mark.parametrize("act", GATED, ids=[a.name for a in GATED])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_gated_odd_split_is_an_axis_error(act, size):
    x = np.zeros((2, size, 4))
    for call in (lambda: act(x, axis=1), lambda: act.vjp(x, np.zeros((2, 1, 4)), axis=1),
                 lambda: act.jacobian(x, axis=1)):
        with pytest.raises(AxisError, match=rf"{act.name}.*axis 1.*even.*size {size}"):
            call()
    with pytest.raises(AxisError):
        act(torch.zeros(2, size, 4), axis=-2)


def test_maxout_indivisible_axis_is_an_axis_error():
    mo = actlab.get("maxout", pieces=3)
    with pytest.raises(AxisError, match=r"maxout.*axis 1.*size 4.*pieces=3"):
        mo(np.zeros((2, 4)), axis=-1)
    with pytest.raises(AxisError, match="size 4"):
        mo.vjp(np.zeros((4, 2)), np.zeros((1, 2)), axis=0)
    assert mo(np.zeros((2, 6))).shape == (2, 2)
    assert actlab.get("maxout", pieces=4)(np.zeros((3, 8)), axis=1).shape == (3, 2)


def test_maxout_pieces_must_be_a_positive_integer():
    for bad in (0, -2, 1.5):
        with pytest.raises(ParameterError, match="pieces"):
            actlab.get("maxout", pieces=bad)
    assert actlab.get("maxout", pieces=2.0).params["pieces"] == 2
    x = np.array([3.0, -1.0, 2.0])
    np.testing.assert_array_equal(actlab.get("maxout", pieces=1)(x), x)


# --- shapes: empty and one-element inputs -----------------------------------------------------------

@vector
@pytest.mark.parametrize("shape,axis", [((0,), -1), ((3, 0), -1), ((0, 4), -1), ((0, 4), 0), ((2, 0, 4), 1)])
def test_empty_inputs(act, shape, axis):
    n = shape[axis]
    if not fits(act, n) and n:
        pytest.skip("size not valid for this entry")
    out_shape = list(shape)
    out_shape[axis] = out_size(act, n)
    moved_shape = [s for i, s in enumerate(shape) if i != axis % len(shape)]
    jac_shape = (*moved_shape, out_shape[axis], n)
    for make in (np.zeros, torch.zeros):
        x = make(shape)
        assert tuple(act(x, axis=axis).shape) == tuple(out_shape)
        assert tuple(act.vjp(x, make(tuple(out_shape)), axis=axis).shape) == tuple(shape)
        assert tuple(act.jacobian(x, axis=axis).shape) == jac_shape
    y, v, j = on_jax(lambda u, w: (act(u, axis=axis), act.vjp(u, w, axis=axis), act.jacobian(u, axis=axis)),
                     np.zeros(shape), np.zeros(out_shape))
    assert (y.shape, v.shape, j.shape) == (tuple(out_shape), tuple(shape), jac_shape)


@vector
def test_smallest_axis(act):
    n = sizes(act)[0]  # 1, or 2 for the GLUs
    for x in (np.array([0.7, -1.3][:n]), np.array([1e300, -1e300][:n]), np.array([-710.0, 3.0][:n])):
        assert_accurate(act, [x], [act(x)], F64, " (smallest axis)")
    if n == 1:
        assert act(np.array([[5.0], [-2.0]])).shape == (2, 1)


def test_size_one_axis_values():
    x = np.array([[5.0], [-1e300], [0.0]])
    np.testing.assert_array_equal(actlab.get("softmax")(x), 1.0)
    np.testing.assert_array_equal(actlab.get("softmin")(x), 1.0)
    np.testing.assert_array_equal(actlab.get("log_softmax")(x), 0.0)
    np.testing.assert_array_equal(actlab.get("sparsemax")(x), 1.0)
    np.testing.assert_array_equal(actlab.get("softmax").vjp(x, np.ones_like(x)), 0.0)


# --- non-finite entries -------------------------------------------------------------------------

NONFINITE_ROWS = np.array([
    [np.inf, 1.0, 2.0, 3.0],
    [np.inf, np.inf, 1.0, 2.0],
    [-np.inf, 1.0, 2.0, 3.0],
    [-np.inf, -np.inf, 0.5, -np.inf],
    [-np.inf, -np.inf, -np.inf, -np.inf],
    [np.nan, 1.0, 2.0, 3.0],
    [np.inf, -np.inf, 0.0, np.nan],
    [1e308, -1e308, 0.0, 1.0],
])


@vector
def test_nonfinite_inputs_raise_no_warnings(act):
    x = NONFINITE_ROWS
    y = act(x)
    g = np.ones_like(y)
    act.vjp(x, g)
    act.jacobian(x)
    for row, out in zip(x, y):
        if np.isnan(row).any():
            assert np.isnan(out).any(), f"{act.name}: nan in {row} did not reach the output"


@pytest.mark.parametrize("act", [a for a in VECTOR if "torch" in a.spec.peers], ids=lambda a: a.name)
def test_nonfinite_agrees_with_torch_peer(act):
    peer = act.spec.peers["torch"](torch, torch.tensor(NONFINITE_ROWS), axis=-1).numpy()
    np.testing.assert_allclose(act(NONFINITE_ROWS), peer, rtol=1e-14, atol=0)  # same nan / inf places


def test_softmax_family_nonfinite_conventions():
    sm = actlab.get("softmax")
    y = sm(NONFINITE_ROWS)
    assert np.isnan(y[[0, 1, 4, 5, 6]]).all()
    np.testing.assert_allclose(y[2], [0.0, *sm(np.array([1.0, 2.0, 3.0]))])
    np.testing.assert_array_equal(y[3], [0.0, 0.0, 1.0, 0.0])
    assert actlab.get("log_softmax")(NONFINITE_ROWS)[2][0] == -np.inf
    sp = actlab.get("sparsemax")(NONFINITE_ROWS)
    assert np.isnan(sp[[0, 1, 4, 5, 6]]).all()
    np.testing.assert_array_equal(sp[3], [0.0, 0.0, 1.0, 0.0])


def test_maxout_and_glu_nonfinite():
    np.testing.assert_array_equal(actlab.get("maxout")(np.array([np.inf, 1.0, -np.inf, 2.0])), [np.inf, 2.0])
    assert np.isnan(actlab.get("maxout")(np.array([np.nan, 1.0, 0.0, 2.0]))[0])
    # a = [inf, 2, -inf, inf, 1], b = [inf, -inf, 5, -inf, nan]; inf * sigmoid(-inf) is nan, like torch
    x = np.array([np.inf, 2.0, -np.inf, np.inf, 1.0, np.inf, -np.inf, 5.0, -np.inf, np.nan])
    np.testing.assert_array_equal(actlab.get("glu")(x), [np.inf, 0.0, -np.inf, np.nan, np.nan])
    np.testing.assert_array_equal(actlab.get("swiglu")(x), [np.inf, -0.0, -np.inf, np.nan, np.nan])
    np.testing.assert_array_equal(actlab.get("reglu")(x), [np.inf, 0.0, -np.inf, np.nan, np.nan])


# --- dtypes -------------------------------------------------------------------------------------

def _half_inputs():
    import ml_dtypes

    x = np.random.default_rng(10).normal(size=(3, 4)) * 3
    return [
        ("numpy-float16", x.astype(np.float16), lambda v: np.asarray(v, dtype=np.float32)),
        ("numpy-bfloat16", x.astype(ml_dtypes.bfloat16), lambda v: np.asarray(v, dtype=np.float32)),
        ("torch-float16", torch.tensor(x, dtype=torch.float16), lambda v: v.float()),
        ("torch-bfloat16", torch.tensor(x, dtype=torch.bfloat16), lambda v: v.float()),
        ("jax-float16", jnp.asarray(x, dtype=jnp.float16), lambda v: v.astype(jnp.float32)),
        ("jax-bfloat16", jnp.asarray(x, dtype=jnp.bfloat16), lambda v: v.astype(jnp.float32)),
    ]


def _maybe_jit(fn, x):
    return jax.jit(fn) if isinstance(x, jax.Array) else fn




def _to_f64(v):
    return v.double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)


def _cast(v, dtype):
    return v.to(dtype) if isinstance(v, torch.Tensor) else v.astype(dtype)


@vector
def test_half_precision(act):
    """fp16 / bf16 are computed in fp32 and cast back: exactly the fp32 result, rounded."""
    for label, x, to32 in _half_inputs():
        y, y32, v, j = _maybe_jit(lambda u: (act(u), _cast(act(to32(u)), x.dtype), act.vjp(u, act(u)),
                                             act.jacobian(u)), x)(x)
        assert y.dtype == v.dtype == j.dtype == x.dtype, label
        np.testing.assert_array_equal(_to_f64(y), _to_f64(y32), err_msg=label)


@vector
def test_integer_input_is_promoted(act):
    n = sizes(act, (2, 4))[0]
    xi = np.arange(n, dtype=np.int64)
    np.testing.assert_array_equal(act(xi), act(xi.astype(np.float64)))
    assert act(torch.arange(n)).dtype == torch.get_default_dtype()


@vector
def test_complex_input_is_rejected(act):
    with pytest.raises(TypeError, match=act.name):
        act(np.zeros(4, dtype=np.complex128))


# --- backends -----------------------------------------------------------------------------------

@vector
def test_backends_agree(act):
    rng = np.random.default_rng(11)
    for n in sizes(act, (1, 2, 4, 6)):
        x = rng.normal(size=(5, n)) * 4
        g = rng.normal(size=act(x).shape)
        y, v, j = act(x), act.vjp(x, g), act.jacobian(x)
        xt, gt = torch.tensor(x), torch.tensor(g)
        np.testing.assert_allclose(act(xt).numpy(), y, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(act.vjp(xt, gt).numpy(), v, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(act.jacobian(xt).numpy(), j, rtol=1e-13, atol=1e-15)
        assert act(torch.tensor(x, dtype=torch.float32)).dtype == torch.float32
        if n == jax_size(act):
            yj, vj, jj = on_jax(lambda u, w: (act(u), act.vjp(u, w), act.jacobian(u)), x, g)
            np.testing.assert_allclose(yj, y, rtol=1e-14, atol=1e-300)
            np.testing.assert_allclose(vj, v, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(jj, j, rtol=1e-13, atol=1e-15)
            assert jax.jit(lambda u: act(u))(jnp.asarray(x, dtype=jnp.float32)).dtype == jnp.float32


@vector
def test_jax_eager(act):
    """Eager jax (no jit): the same numbers as numpy and as the jitted function."""
    n = jax_size(act)
    x = np.random.default_rng(12).normal(size=(3, n))
    g = np.ones_like(act(x))
    xj = jnp.asarray(x)
    y = act(xj)
    assert isinstance(y, jax.Array) and y.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(y), act(x), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(np.asarray(act.vjp(xj, jnp.asarray(g))), act.vjp(x, g), rtol=1e-13, atol=1e-15)
    yjit, grad = on_jax(lambda v: (act(v), jax.grad(lambda u: act(u).sum())(v)), x)
    np.testing.assert_allclose(np.asarray(y), yjit, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(grad, act.vjp(x, g), rtol=1e-12, atol=1e-14)


# --- peers --------------------------------------------------------------------------------------

PEERED = [(a, lib) for a in VECTOR for lib in sorted(a.spec.peers)]


def _run_peer(act, lib, x, axis=-1):
    peer = act.spec.peers[lib]
    if lib == "torch":
        return peer(torch, torch.tensor(x), axis=axis).numpy()
    return on_jax(lambda v: peer(jax, v, axis=axis), x)


@pytest.mark.parametrize("act,lib", PEERED, ids=[f"{a.name}-{lib}" for a, lib in PEERED])
def test_peer_agrees(act, lib):
    rng = np.random.default_rng(13)
    for n in sizes(act, (2, 4, 6)):
        x = rng.normal(size=(2, 3, n)) * 5
        for axis in (-1, 0, 1):
            if not fits(act, x.shape[axis]):
                continue
            peer = _run_peer(act, lib, x, axis)
            # absolute slack: log_softmax's tiny outputs are more accurate than the peers' (next test)
            np.testing.assert_allclose(act(x, axis=axis), peer, rtol=1e-13, atol=1e-15 * np.abs(x).max())


def _max_error(act, rows, y):
    worst = 0.0
    for row, out in zip(rows, y):
        for got, want in zip(out, reference(act, row)):
            if abs(want) < np.finfo(np.float64).tiny:  # underflows for everyone
                continue
            worst = max(worst, float(abs(mpmath.mpf(float(got)) - want) / abs(want)))
    return worst


@pytest.mark.parametrize("act,lib", PEERED, ids=[f"{a.name}-{lib}" for a, lib in PEERED])
def test_no_less_accurate_than_peer(act, lib):
    for n in sizes(act, (2, 4)):
        rows = np.concatenate([random_rows(act, n, count=3, seed=14), special_rows(n),
                               np.array([[0.0, -40.0, -80.0, -5.0][:n]])])
        ours = _max_error(act, rows, act(rows))
        theirs = _max_error(act, rows, _run_peer(act, lib, rows))
        assert ours <= max(theirs, 4 * np.finfo(np.float64).eps), (act.name, lib, n, ours, theirs)
