"""Gaussian expectations: Gauss-Hermite and the split panel rule against mpmath quadrature."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import actlab
from actlab.analysis import breakpoints as aa_breakpoints
from actlab.analysis import expect, gauss_hermite, gaussian_expectation, gaussian_expectation_2d, moments


def mp_expect(gm, mu, sigma, breaks=()):
    """E[g(z)], z ~ N(mu, sigma^2), by mpmath tanh-sinh quadrature at 30 digits, split at breaks and mu."""
    with mpmath.workdps(30):
        pts = sorted({mpmath.mpf(mu), *(mpmath.mpf(b) for b in breaks)})
        return float(
            mpmath.quad(lambda x: gm(x) * mpmath.npdf(x, mu, sigma), [-mpmath.inf, *pts, mpmath.inf])
        )


CASES = [
    # name, numpy g, mpmath g, kinks
    ("tanh^2", lambda x: np.tanh(x) ** 2, lambda x: mpmath.tanh(x) ** 2, ()),
    ("relu", lambda x: np.maximum(x, 0), lambda x: max(x, 0), (0.0,)),
    ("relu^2", lambda x: np.maximum(x, 0) ** 2, lambda x: max(x, 0) ** 2, (0.0,)),
    ("step", lambda x: (x > 0.5) * 1.0, lambda x: 1 if x > 0.5 else 0, (0.5,)),
    ("hardtanh", lambda x: np.clip(x, -1, 1), lambda x: min(max(x, -1), 1), (-1.0, 1.0)),
    ("exp", np.exp, mpmath.exp, ()),
    ("sin^2", lambda x: np.sin(x) ** 2, lambda x: mpmath.sin(x) ** 2, ()),
]
# closed forms where mpmath's quadrature is the weaker party (wide oscillation, huge dynamic range)
CLOSED = {
    "exp": lambda mu, s: math.exp(mu + s * s / 2),
    "sin^2": lambda mu, s: (1 - math.exp(-2 * s * s) * math.cos(2 * mu)) / 2,
}


@pytest.mark.parametrize("mu,sigma", [(0.0, 1.0), (0.3, 0.2), (-1.0, 3.0), (1.0, 10.0)])
@pytest.mark.parametrize("name,g,gm,kinks", CASES, ids=[c[0] for c in CASES])
def test_panel_rule_matches_mpmath(name, g, gm, kinks, mu, sigma):
    ref = CLOSED[name](mu, sigma) if name in CLOSED else mp_expect(gm, mu, sigma, kinks)
    tail = 24.0 if name == "exp" else 16.0  # e^z at sigma = 10 puts its mass 10 sigma out
    got = gaussian_expectation(g, mu, sigma, breakpoints=kinks, tail=tail)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("name,g,gm,kinks", CASES[:1] + CASES[5:], ids=["tanh^2", "exp", "sin^2"])
def test_gauss_hermite_matches_mpmath_for_smooth_g_at_unit_scale(name, g, gm, kinks):
    for mu, sigma in [(0.0, 1.0), (0.3, 0.5)]:
        ref = mp_expect(gm, mu, sigma)
        assert gauss_hermite(g, mu, sigma, order=128) == pytest.approx(ref, rel=1e-12)
        assert gaussian_expectation(g, mu, sigma, method="hermite") == pytest.approx(ref, rel=1e-12)


def test_gauss_hermite_is_exact_for_polynomials_and_slow_at_kinks():
    assert gauss_hermite(lambda z: z**6, 0.0, 1.0, order=4) == pytest.approx(15.0, rel=1e-13)
    assert gauss_hermite(lambda z: z**2, 1.0, 2.0, order=2) == pytest.approx(5.0, rel=1e-14)
    relu = 1 / math.sqrt(2 * math.pi)
    err_gh = abs(gauss_hermite(lambda z: np.maximum(z, 0), order=128) - relu)
    err_panels = abs(gaussian_expectation(lambda z: np.maximum(z, 0), breakpoints=[0.0]) - relu)
    assert err_panels < 1e-15 < 1e-6 < err_gh  # why the default splits at kinks


def test_degenerate_and_bad_sigma():
    assert gaussian_expectation(np.exp, 2.0, 0.0) == math.exp(2.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_expectation(np.exp, 0.0, -1.0)
    with pytest.raises(ValueError, match="method"):
        gaussian_expectation(np.exp, method="simpson")


def test_expect_builds_g_from_f_and_derivative():
    # E[f f' z] for tanh against mpmath; E relu'^2 = 1/2; callables get (z, f, df)
    ref = mp_expect(lambda x: x * mpmath.tanh(x) * (1 - mpmath.tanh(x) ** 2), 0.0, 1.5)
    assert expect("tanh", "z*f*df", sigma=1.5) == pytest.approx(ref, rel=1e-12)
    assert expect("relu", "df**2") == pytest.approx(0.5, abs=1e-15)
    assert expect("relu", lambda z, f, df: f * df) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-14)
    with pytest.raises(ValueError, match="unknown integrand"):
        expect("relu", "f**3 + __import__('os')")


@pytest.mark.parametrize("name", ["elu", "gelu", "hardswish", "softplus", "selu", "mish"])
def test_moments_of_catalog_entries_match_mpmath(name):
    act = actlab.get(name)
    fm = __import__("sympy").lambdify(__import__("sympy").Symbol("x", real=True), act.sympy(), "mpmath")
    kinks = aa_breakpoints(name)  # kinks and the points where f'' jumps (elu's 0) for mpmath too
    m = moments(name, 0.2, 1.3)
    assert m.mean == pytest.approx(mp_expect(fm, 0.2, 1.3, kinks), rel=1e-12, abs=1e-15)
    assert m.second_moment == pytest.approx(mp_expect(lambda x: fm(x) ** 2, 0.2, 1.3, kinks), rel=1e-12)


@pytest.mark.parametrize("c", [-0.7, 0.0, 0.3, 0.9, 0.999])
def test_2d_expectation_matches_the_arc_cosine_kernel(c):
    # Cho & Saul: E[relu(u1) relu(u2)] = (sin t + (pi - t) cos t) / (2 pi),
    # E[1{u1>0} 1{u2>0}] = (pi - t) / (2 pi)
    t = math.acos(c)
    got = gaussian_expectation_2d(
        lambda a, b: np.maximum(a, 0) * np.maximum(b, 0), 1.0, 1.0, c, breakpoints=[0.0]
    )
    assert got == pytest.approx(
        (math.sin(t) + (math.pi - t) * math.cos(t)) / (2 * math.pi), rel=1e-11, abs=1e-13
    )
    got = gaussian_expectation_2d(lambda a, b: (a > 0) * (b > 0) * 1.0, 2.0, 2.0, c, breakpoints=[0.0])
    assert got == pytest.approx((math.pi - t) / (2 * math.pi), rel=1e-9, abs=1e-11)
