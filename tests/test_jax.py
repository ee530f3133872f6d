"""actlab.jax: custom_jvp with the analytic derivative, against jax.grad of the plain forward."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import actlab  # noqa: E402
import actlab.jax as aj  # noqa: E402
from actlab.core import namespace  # noqa: E402

jax.config.update("jax_enable_x64", True)

ELEMENTWISE = actlab.names(kind="elementwise")
VECTOR = actlab.names(kind="vector")
OPS = namespace("jax")


def points(name: str, n: int = 8, seed: int = 0) -> np.ndarray:
    """Points in [-4, 4] where f and f' are finite, away from the declared kinks."""
    act = actlab.get(name)
    rng = np.random.default_rng(seed)
    cand = rng.uniform(-4.0, 4.0, 400)
    kinks = np.array([k.at for k in act.properties.kinks])
    if kinks.size:
        cand = cand[np.min(np.abs(cand[:, None] - kinks[None, :]), axis=1) > 0.05]
    with np.errstate(all="ignore"):
        cand = cand[np.isfinite(act(cand)) & np.isfinite(act.derivative(cand))]
    return cand[:n]


def assert_bar(got, want, x, rel, absolute):
    """|got - want| <= max(rel |want|, absolute max(1, |x|)): the catalog's accuracy bar."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    ok = np.abs(got - want) <= np.maximum(rel * np.abs(want), absolute * np.maximum(1.0, np.abs(x)))
    ok |= (got == want) | (np.isnan(got) & np.isnan(want))
    assert ok.all(), (x[~ok], got[~ok], want[~ok])


def plain(name: str):
    """The catalog forward run on jax arrays, differentiated by jax itself."""
    act = actlab.get(name)
    if act.is_elementwise:
        return lambda x: act.spec.forward(x, OPS, **act.params)
    return lambda x: act.spec.forward(x, OPS, x.ndim - 1, **act.params)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_grad_matches_autodiff_of_the_plain_forward(name):
    x = jnp.asarray(points(name), dtype=jnp.float64)
    ours = jax.jit(jax.vmap(jax.grad(getattr(aj, name))))(x)
    theirs = jax.jit(jax.vmap(jax.grad(plain(name))))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ours, actlab.get(name).derivative(np.asarray(x)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_jit_vmap_and_float32(name):
    x64 = points(name, seed=1)
    act = actlab.get(name)
    step = jax.jit(jax.vmap(jax.value_and_grad(getattr(aj, name))))
    y, g = step(jnp.asarray(x64, dtype=jnp.float32))
    assert y.dtype == g.dtype == jnp.float32
    assert_bar(y, act(x64.astype(np.float32)), x64, 1e-5, 5e-7)
    np.testing.assert_allclose(g, act.derivative(x64), rtol=2e-4, atol=1e-5)
    y, g = step(jnp.asarray(x64))
    assert y.dtype == g.dtype == jnp.float64
    # XLA may fuse (FMA) and reorder: the catalog's accuracy bar, not bit equality
    assert_bar(y, act(x64), x64, 1e-12, 1e-15)
    assert_bar(g, act.derivative(x64), x64, 1e-12, 1e-15)


@pytest.mark.parametrize("name", VECTOR)
def test_vector_entries_vjp(name):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 4)))
    w = jnp.asarray(np.random.default_rng(1).normal(size=actlab.get(name)(np.asarray(x)).shape))
    ours = jax.jit(jax.grad(lambda t: jnp.sum(aj.apply(name, t, axis=-1) * w)))(x)
    theirs = jax.jit(jax.grad(lambda t: jnp.sum(plain(name)(t) * w)))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    jitted = jax.jit(lambda t: getattr(aj, name)(t, axis=0))(x)
    np.testing.assert_allclose(jitted, actlab.get(name)(np.asarray(x), axis=0), rtol=1e-12)


def test_kink_convention_and_higher_derivatives():
    assert float(jax.grad(aj.relu)(0.0)) == 0.0  # the catalog's relu'(0) = 0
    assert float(jax.grad(aj.hardtanh)(1.0)) == 0.0
    x = jnp.array([0.3, -1.2, 2.0])
    h_ours = jax.jit(jax.hessian(lambda t: aj.mish(t).sum()))(x)
    h_plain = jax.jit(jax.hessian(lambda t: plain("mish")(t).sum()))(x)
    np.testing.assert_allclose(h_ours, h_plain, rtol=1e-10, atol=1e-12)


def test_parameters_static_validated_or_learned():
    x = jnp.array([-2.0, 3.0])
    np.testing.assert_allclose(aj.leaky_relu(x, negative_slope=0.1), [-0.2, 3.0])
    with pytest.raises(ValueError, match="negative_slope"):
        aj.leaky_relu(x, negative_slope="a")
    with pytest.raises(ValueError, match="unknown parameter"):
        aj.relu(x, alpha=jnp.array(1.0))
    # a jax-array parameter is differentiable: d/da prelu(x; a) = x for x <= 0
    ga = jax.grad(lambda a: aj.prelu(x, a=a).sum())(jnp.array(0.25))
    assert float(ga) == -2.0
    y = jax.jit(aj.leaky_relu)(x, negative_slope=0.5)  # traced parameter under jit
    np.testing.assert_allclose(y, [-1.0, 3.0])


def test_dtype_policy():
    assert aj.relu(jnp.array([-1, 2])).dtype == jnp.result_type(float)
    for dt in (jnp.float16, jnp.bfloat16):
        y = aj.silu(jnp.array([-1.0, 2.0], dtype=dt))
        assert y.dtype == dt
        g = jax.grad(lambda t: aj.silu(t).sum())(jnp.array([-1.0, 2.0], dtype=dt))
        assert g.dtype == dt
    with pytest.raises(TypeError, match="tanh"):
        aj.tanh(jnp.array([1 + 1j]))


def test_namespace():
    assert aj.swish is aj.silu and aj.silu.__name__ == "silu"
    assert set(ELEMENTWISE) <= set(dir(aj))
    with pytest.raises(AttributeError):
        aj.no_such_thing  # noqa: B018
