"""Blocked multi-threaded NumPy evaluation (actlab.core.blocked): same bits as the plain call."""

from __future__ import annotations

import numpy as np
import pytest

import actlab
from actlab.core import blocked, namespace
from reference import elementwise_names

NAMES = elementwise_names()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocked_equals_plain_bit_for_bit(name, dtype):
    spec = actlab.spec(name)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(3 * blocked.BLOCK + 123) * 5).astype(dtype)
    x[::997] = np.nan
    x[1::1999] = np.inf
    x[2::1999] = -np.inf
    ops = namespace(x)
    p = spec.defaults
    with np.errstate(all="ignore"):
        ref = spec.forward(x, ops, **p)
        got = blocked.evaluate(lambda b: spec.forward(b, ops, **p), x, threads=3)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_shapes_views_and_small_inputs():
    f = np.tanh
    x = np.random.default_rng(1).standard_normal((300, 500))
    np.testing.assert_array_equal(blocked.evaluate(f, x, block=1000, threads=2), f(x))
    xt = x.T  # not contiguous
    np.testing.assert_array_equal(blocked.evaluate(f, xt, block=1000, threads=2), f(xt))
    assert blocked.evaluate(f, np.float64(0.5)) == f(0.5)
    np.testing.assert_array_equal(blocked.evaluate(f, x[:3, :3]), f(x[:3, :3]))
    empty = np.zeros((0, 4))
    assert blocked.evaluate(f, empty).shape == (0, 4)


def test_error_state_reaches_the_worker_threads():
    x = np.concatenate([np.ones(50_000), [-1.0], np.ones(50_000)])
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        blocked.evaluate(np.log, x, block=4096, threads=4)
    with np.errstate(invalid="ignore"):
        y = blocked.evaluate(np.log, x, block=4096, threads=4)
    assert np.isnan(y[50_000])


def test_apply_blocks_only_large_numpy_arrays():
    calls = []

    def fwd(x, ops, **p):
        calls.append(x.size)
        return x * 2.0

    ops = namespace("numpy")
    blocked.apply(fwd, np.ones(10), ops, {})
    assert calls == [10]
    calls.clear()
    big = np.ones(blocked.MIN_SIZE)
    np.testing.assert_array_equal(blocked.apply(fwd, big, ops, {}), big * 2)
    assert len(calls) > 1 and max(calls) <= blocked.BLOCK
    calls.clear()
    blocked.set_enabled(False)
    try:
        blocked.apply(fwd, big, ops, {})
        assert calls == [big.size]
    finally:
        blocked.set_enabled(True)


def test_thread_setting_is_validated():
    with pytest.raises(ValueError, match="positive int"):
        blocked.set_threads(0)
    blocked.set_threads(3)
    assert blocked.get_threads() == 3
    blocked.set_threads(None)
    assert blocked.get_threads() >= 1
