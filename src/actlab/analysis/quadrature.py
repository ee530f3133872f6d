"""Gaussian expectations E[g(z)], z ~ N(mu, sigma^2), by quadrature.

Two rules:

- ``"hermite"``: classical Gauss-Hermite with ``order`` nodes,
  ``E g = pi^-1/2 sum_i w_i g(mu + sqrt(2) sigma t_i)``. Exact for polynomials of
  degree < 2*order and geometrically convergent for smooth g whose features are
  no narrower than sigma; it converges only algebraically across a kink, and
  loses accuracy once sigma is many times the scale on which g varies (tanh^2 at
  sigma = 10: 2e-2 relative error with 160 nodes).
- ``"panels"`` (the default): Gauss-Legendre panels (16 nodes each) times the
  Gaussian density over ``mu +- 16 sigma``, the panels split at ``breakpoints``
  (kinks, jumps) and no wider than ``min(sigma/2, 1/2)`` (so a feature of g near
  the origin is resolved whatever sigma is). Across a kink each piece is smooth,
  so the rule stays at full double precision; it is checked against mpmath
  quadrature in ``tests/test_analysis_quadrature.py``. The mass beyond 16 sigma
  (1e-56) is dropped: a g that grows like e^(a z) with a sigma beyond about 8 needs
  a wider ``tail``.

``expect(act, "f**2", sigma=...)`` builds g from an activation's f and f'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ._common import df_np, elementwise, f_np

__all__ = [
    "INTEGRANDS",
    "GaussianMoments",
    "expect",
    "gauss_hermite",
    "gaussian_expectation",
    "gaussian_expectation_2d",
    "moments",
]

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
TAIL = 16.0  # integrate over mu +- TAIL * sigma
_NODES = 16  # Gauss-Legendre nodes per panel
_MAX_PANELS = 4000


@lru_cache(maxsize=16)
def _hermite(order: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import roots_hermite

    t, w = roots_hermite(order)
    return t, w / math.sqrt(math.pi)


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import roots_legendre

    return roots_legendre(n)


def gauss_hermite(
    g: Callable[[np.ndarray], Any], mu: float = 0.0, sigma: float = 1.0, order: int = 128
) -> float:
    """E[g(z)] for z ~ N(mu, sigma^2) by ``order``-node Gauss-Hermite quadrature.

    >>> round(gauss_hermite(lambda z: z**2, 1.0, 2.0), 12)   # mu^2 + sigma^2
    5.0
    """
    t, w = _hermite(int(order))
    with np.errstate(all="ignore"):
        return float(np.dot(w, np.asarray(g(mu + _SQRT2 * sigma * t), dtype=np.float64)))


def panel_rule(
    mu: float, sigma: float, breakpoints: Iterable[float] = (), tail: float = TAIL
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``"panels"`` rule: sum(w * g(x)) = E[g(z)], z ~ N(mu, sigma^2)."""
    lo, hi = mu - tail * sigma, mu + tail * sigma
    width = max(min(0.5 * sigma, 0.5), (hi - lo) / _MAX_PANELS)
    edges = np.linspace(lo, hi, int(math.ceil((hi - lo) / width)) + 1)
    inner = [b for b in breakpoints if lo < b < hi and math.isfinite(b)]
    if inner:
        edges = np.unique(np.concatenate([edges, np.asarray(inner, dtype=np.float64)]))
    t, w = _legendre(_NODES)
    a, b = edges[:-1, None], edges[1:, None]
    x = ((a + b) / 2 + (b - a) / 2 * t).ravel()
    ww = ((b - a) / 2 * w).ravel() * np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * _SQRT2PI)
    return x, ww


def gaussian_expectation(
    g: Callable[[np.ndarray], Any],
    mu: float = 0.0,
    sigma: float = 1.0,
    *,
    breakpoints: Iterable[float] = (),
    method: str = "panels",
    order: int = 128,
    tail: float = TAIL,
) -> float:
    """E[g(z)] for z ~ N(mu, sigma^2).

    ``g`` maps a float64 array to an array. ``breakpoints``: where g (or a
    derivative of it) is not smooth; the ``"panels"`` rule splits there.
    ``method="hermite"`` uses ``order``-node Gauss-Hermite instead (see the module
    docstring for when that is accurate). The panels cover mu +- ``tail`` sigma; a g
    growing like e^(a z) moves the mass a sigma^2 away from mu and needs
    ``tail > a sigma + 8``. sigma = 0 gives g(mu).

    >>> relu = lambda z: np.maximum(z, 0.0)
    >>> round(gaussian_expectation(lambda z: relu(z) ** 2, breakpoints=[0.0]), 15)
    0.5
    """
    mu, sigma = float(mu), float(sigma)
    if sigma < 0 or not math.isfinite(sigma) or not math.isfinite(mu):
        raise ValueError(f"gaussian_expectation: needs finite mu and sigma >= 0, got mu={mu}, sigma={sigma}")
    if sigma == 0.0:
        with np.errstate(all="ignore"):
            return float(np.asarray(g(np.array([mu])), dtype=np.float64)[0])
    if method == "hermite":
        return gauss_hermite(g, mu, sigma, order)
    if method != "panels":
        raise ValueError(f"gaussian_expectation: method must be 'panels' or 'hermite', got {method!r}")
    x, w = panel_rule(mu, sigma, breakpoints, tail=tail)
    with np.errstate(all="ignore"):
        gx = np.asarray(g(x), dtype=np.float64)
        return float(np.dot(w, gx))


def gaussian_expectation_2d(
    g: Callable[[np.ndarray, np.ndarray], Any],
    q1: float,
    q2: float,
    c: float,
    *,
    breakpoints: Iterable[float] = (),
    tail: float = 10.0,
    pieces: int = 24,
) -> float:
    """E[g(u1, u2)] for a centred Gaussian pair with variances q1, q2 and correlation c.

    u1 ~ N(0, q1) by the panel rule (split at ``breakpoints``); given u1, u2 ~
    N(c sqrt(q2/q1) u1, q2 (1 - c^2)), integrated over t = (u2 - mean)/sd in
    [-tail, tail] split at the breakpoints (which move with u1), each piece in
    ``pieces`` Gauss-Legendre panels. Vectorised over all nodes (about 5e5 points).
    """
    bps = sorted(b for b in breakpoints if math.isfinite(b))
    s1 = math.sqrt(q1)
    c = min(max(float(c), -1.0), 1.0)
    if s1 == 0.0:
        return gaussian_expectation(lambda u2: g(np.zeros_like(u2), u2), 0.0, math.sqrt(q2), breakpoints=bps)
    x1, w1 = panel_rule(0.0, s1, bps, tail=tail)
    slope, sd = c * math.sqrt(q2 / q1), math.sqrt(max(q2 * (1.0 - c * c), 0.0))
    with np.errstate(all="ignore"):
        if sd == 0.0:
            return float(np.dot(w1, np.asarray(g(x1, slope * x1), dtype=np.float64)))
        mean = slope * x1  # (N1,)
        cuts = (np.asarray(bps, dtype=np.float64)[None, :] - mean[:, None]) / sd  # (N1, K)
        edges = np.concatenate(
            [
                np.full((len(x1), 1), -tail),
                np.clip(np.sort(cuts, axis=1), -tail, tail),
                np.full((len(x1), 1), tail),
            ],
            axis=1,
        )  # (N1, K+2)
        t, w = _legendre(_NODES)
        sub = np.arange(pieces + 1) / pieces  # sub-panel edges within each piece
        lo, hi = edges[:, :-1], edges[:, 1:]  # (N1, K+1)
        a = lo[..., None] + (hi - lo)[..., None] * sub[None, None, :-1]  # (N1, K+1, P)
        b = lo[..., None] + (hi - lo)[..., None] * sub[None, None, 1:]
        tt = (a + b)[..., None] / 2 + (b - a)[..., None] / 2 * t  # (N1, K+1, P, 16)
        ww = (b - a)[..., None] / 2 * w * np.exp(-0.5 * tt * tt) / _SQRT2PI
        u2 = mean[:, None, None, None] + sd * tt
        u1 = np.broadcast_to(x1[:, None, None, None], u2.shape)
        vals = np.asarray(g(u1.ravel(), u2.ravel()), dtype=np.float64).reshape(u2.shape)
        inner = np.sum(vals * ww, axis=(1, 2, 3))
        return float(np.dot(w1, inner))


# --- activations ---------------------------------------------------------------------------------

#: The integrands ``expect`` knows by name, as functions of (z, f(z), f'(z)).
INTEGRANDS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "f": lambda z, f, d: f,
    "f**2": lambda z, f, d: f * f,
    "abs(f)": lambda z, f, d: np.abs(f),
    "df": lambda z, f, d: d,
    "df**2": lambda z, f, d: d * d,
    "abs(df)": lambda z, f, d: np.abs(d),
    "f*df": lambda z, f, d: f * d,
    "z*f": lambda z, f, d: z * f,
    "z*df": lambda z, f, d: z * d,
    "z*f*df": lambda z, f, d: z * f * d,
}


def expect(
    act: Any,
    g: str | Callable[[np.ndarray, np.ndarray, np.ndarray], Any] = "f",
    mu: float = 0.0,
    sigma: float = 1.0,
    *,
    method: str = "panels",
    breakpoints: Iterable[float] | None = None,
    **params: Any,
) -> float:
    """E[g] for z ~ N(mu, sigma^2), g built from the activation's f and f'.

    ``g`` is a callable ``g(z, f, df)`` of three float64 arrays (z, f(z), f'(z)),
    or one of the names in :data:`INTEGRANDS` (``"f"``, ``"f**2"``, ``"df**2"``,
    ``"z*f*df"`` ...). Breakpoints default to the activation's (numerically found)
    kinks and jumps.

    >>> round(expect("relu", "f**2"), 15), round(expect("relu", "df"), 15)
    (0.5, 0.5)
    >>> round(expect("tanh", lambda z, f, df: f * f * df), 6)
    0.141303
    """
    a = elementwise(act, "expect", **params)
    f, df = f_np(a), df_np(a)
    if isinstance(g, str):
        try:
            h = INTEGRANDS[g.replace(" ", "")]
        except KeyError:
            raise ValueError(
                f"expect: unknown integrand {g!r}; valid names: {', '.join(INTEGRANDS)} "
                f"(or pass a callable g(z, f, df))"
            ) from None
    else:
        h = g

    def fn(z: np.ndarray) -> np.ndarray:
        return h(z, f(z), df(z))

    if breakpoints is None:
        from .derived import breakpoints as _bps

        breakpoints = _bps(a)
    return gaussian_expectation(fn, mu, sigma, breakpoints=breakpoints, method=method)


@dataclass(frozen=True)
class GaussianMoments:
    """Moments of f(z) and f'(z) for z ~ N(mu, sigma^2)."""

    mu: float
    sigma: float
    mean: float  # E f
    second_moment: float  # E f^2
    variance: float  # E f^2 - (E f)^2
    mean_derivative: float  # E f'
    derivative_second_moment: float  # E f'^2

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def moments(act: Any, mu: float = 0.0, sigma: float = 1.0, **params: Any) -> GaussianMoments:
    """E f, E f^2, Var f, E f', E f'^2 under z ~ N(mu, sigma^2) (``"panels"`` rule, split at kinks).

    >>> m = moments("selu")
    >>> abs(m.mean) < 1e-12, abs(m.second_moment - 1) < 1e-12
    (True, True)
    """
    a = elementwise(act, "moments", **params)
    from .derived import breakpoints as _bps

    bps = _bps(a)
    x, w = panel_rule(float(mu), float(sigma), bps) if sigma > 0 else (np.array([float(mu)]), np.array([1.0]))
    fx, dx = f_np(a)(x), df_np(a)(x)
    with np.errstate(all="ignore"):
        m1, m2 = float(np.dot(w, fx)), float(np.dot(w, fx * fx))
        d1, d2 = float(np.dot(w, dx)), float(np.dot(w, dx * dx))
    return GaussianMoments(float(mu), float(sigma), m1, m2, m2 - m1 * m1, d1, d2)
