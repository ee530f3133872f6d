"""Properties of an activation derived numerically from its definition.

:func:`properties` measures what the catalog declares (range, monotonicity,
smoothness, zero-centring, kinks) and more (sup/inf of f', saturation and dead
regions, Gaussian moments, extrema), from the forward and the analytic
derivative evaluated in float64, with the sympy expression (through mpmath, at
high precision) deciding what float64 cannot:

- **grid**: about 65 000 points, step 1e-3 on [-20, 20], 0.02 on [-200, 200],
  geometric out to +-1e7 and in to +-1e-12, plus 0; then +-10^k (k = 8 ... 300)
  and +-inf for the limits.
- **range**: the extremes over the grid and the limits, an interior extremum
  refined by Brent's method; a value beyond 1e150 (or a limit of +-inf) makes
  that side unbounded.
- **jumps of f and f'**: cells whose increment stands out from both neighbours
  are bisected down to adjacent floats; a jump is an increment that does not
  shrink with the cell (a smooth or merely steep function's does). This runs on
  the float64 forward and derivative themselves, so it is independent of the
  sympy expression.
- **jumps of f'' and f'''** (C1 versus C2 versus C-infinity): at the points where
  the sympy expression switches branch (roots of the arguments of Abs, Max, Min,
  sign, Heaviside, Piecewise conditions, and of fractional-power bases and log
  arguments), one-sided derivatives of orders 0-3 are compared at 160 digits.
  Without an expression, f'' jumps are looked for numerically (finite differences
  of f') and C2 is not told apart from C-infinity (a note says so).
- **dead regions** (f' = 0 on an interval) are runs of exact zeros of f' on the
  grid, confirmed by f being constant there at 50 digits (so a derivative that
  merely underflows, like the sigmoid's below -745, is not "dead").

``SMOOTH`` means no discontinuity found in f, f', f'' or f'''. Kinks are the
points where f or f' jumps, plus a finite edge of the domain (where f stops
being defined); the gradient reported there is what ``act.derivative`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..core.spec import C0, C1, C2, DISCONTINUOUS, SMOOTH, SMOOTHNESS_NAMES, Activation, Kink, Properties
from ._common import cache_key, elementwise

__all__ = [
    "DerivedProperties",
    "Disagreement",
    "Discontinuity",
    "breakpoints",
    "check_metadata",
    "properties",
]

SATURATION = 1e-3  # |f'| below this is saturated
ZERO_CENTRED = 0.05  # |E f| <= 0.05 sqrt(E f^2)
_BIG = 1e150  # a value beyond this (on the grid's huge tail) means "unbounded"
_ORDER_CLASS = {0: DISCONTINUOUS, 1: C0, 2: C1, 3: C2}


# --- result types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discontinuity:
    """A point where the ``order``-th derivative jumps (0: f itself, 1: f', 2: f'', 3: f''').

    ``source`` says how it was found: ``"float64"`` (bisection of the forward or the
    derivative) or ``"sympy"`` (one-sided derivatives of the expression at 160 digits).
    """

    at: float
    order: int
    source: str


@dataclass(frozen=True)
class DerivedProperties:
    """What :func:`properties` measured; ``as_dict()`` gives plain data."""

    name: str
    params: dict[str, float]
    domain: tuple[float, float]
    range: tuple[float, float]
    limits: dict[str, float]  # f(-inf), f(+inf), f'(-inf), f'(+inf); nan: no limit
    monotonic: bool  # non-decreasing
    non_increasing: bool
    derivative_inf: float
    derivative_sup: float
    saturation_regions: tuple[tuple[float, float], ...]
    dead_regions: tuple[tuple[float, float], ...]
    mean: float  # E f(z), z ~ N(0, 1); nan when f is not defined on all of R
    second_moment: float
    variance: float
    centring: float  # |E f| / sqrt(E f^2)
    zero_centred: bool | None
    smoothness: int
    discontinuities: tuple[Discontinuity, ...]
    kinks: tuple[Kink, ...]
    minimum: tuple[float, float] | None  # (x, f(x)) of the global minimum, for non-monotonic f
    maximum: tuple[float, float] | None
    notes: tuple[str, ...] = field(default=())

    @property
    def bounded_above(self) -> bool:
        return math.isfinite(self.range[1])

    @property
    def bounded_below(self) -> bool:
        return math.isfinite(self.range[0])

    @property
    def bounded(self) -> bool:
        return self.bounded_above and self.bounded_below

    @property
    def vanishing_gradient(self) -> bool:
        """sup |f'| < 1: every layer shrinks the backward signal."""
        return max(abs(self.derivative_inf), abs(self.derivative_sup)) < 1.0

    @property
    def smoothness_name(self) -> str:
        return SMOOTHNESS_NAMES[self.smoothness]

    @property
    def gain(self) -> float:
        """1 / sqrt(E f(z)^2): the init gain (see :func:`actlab.analysis.init_gain`)."""
        return 1.0 / math.sqrt(self.second_moment) if self.second_moment > 0 else math.nan

    def as_properties(self) -> Properties:
        """The derived values in the catalog's ``Properties`` form."""
        return Properties(
            range=self.range,
            monotonic=self.monotonic,
            smoothness=self.smoothness,
            zero_centred=bool(self.zero_centred),
            kinks=self.kinks,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": dict(self.params),
            "domain": list(self.domain),
            "range": list(self.range),
            "bounded_above": self.bounded_above,
            "bounded_below": self.bounded_below,
            "limits": dict(self.limits),
            "monotonic": self.monotonic,
            "non_increasing": self.non_increasing,
            "derivative_inf": self.derivative_inf,
            "derivative_sup": self.derivative_sup,
            "vanishing_gradient": self.vanishing_gradient,
            "saturation_regions": [list(r) for r in self.saturation_regions],
            "dead_regions": [list(r) for r in self.dead_regions],
            "mean": self.mean,
            "second_moment": self.second_moment,
            "variance": self.variance,
            "centring": self.centring,
            "zero_centred": self.zero_centred,
            "gain": self.gain,
            "smoothness": self.smoothness_name,
            "discontinuities": [
                {"at": d.at, "order": d.order, "source": d.source} for d in self.discontinuities
            ],
            "kinks": [{"at": k.at, "grad": k.grad} for k in self.kinks],
            "minimum": list(self.minimum) if self.minimum else None,
            "maximum": list(self.maximum) if self.maximum else None,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from ._common import fmt

        lines = [f"{self.name} {self.params or ''}".rstrip()]
        d = self.as_dict()
        for k in (
            "domain",
            "range",
            "monotonic",
            "derivative_inf",
            "derivative_sup",
            "saturation_regions",
            "dead_regions",
            "mean",
            "variance",
            "zero_centred",
            "gain",
            "smoothness",
            "kinks",
            "minimum",
            "maximum",
        ):
            v = d[k]
            if isinstance(v, float):
                v = fmt(v)
            lines.append(f"  {k:20s} {v}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


# --- the grid ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _base_grid() -> np.ndarray:
    parts = [
        np.linspace(-20.0, 20.0, 40001),
        np.linspace(-200.0, 200.0, 20001),
        np.geomspace(200.0, 1e7, 1500),
        -np.geomspace(200.0, 1e7, 1500),
        np.geomspace(1e-12, 1e-3, 300),
        -np.geomspace(1e-12, 1e-3, 300),
        np.array([0.0]),
    ]
    g = np.unique(np.concatenate(parts))
    g[g == 0] = 0.0  # no -0.0
    return g


_HUGE = 10.0 ** np.arange(8, 301, 1)  # the tails, for limits and unboundedness


def _quiet(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], np.ndarray]:
    def g(x: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    return g


def _functions(act: Activation) -> tuple[Callable, Callable]:
    f = _quiet(act)
    if act.spec.derivative is not None:
        df = _quiet(act.derivative)
    else:  # a user spec without a derivative: central differences

        def df(x: Any) -> np.ndarray:
            x = np.asarray(x, dtype=np.float64)
            h = 1e-6 * np.maximum(1.0, np.abs(x))
            with np.errstate(all="ignore"):
                return (f(x + h) - f(x - h)) / (2 * h)

    return f, df


def _rounder(a: float, b: float) -> float:
    """Of two adjacent floats bracketing a jump, the one with the shorter decimal form (0 not 5e-324)."""
    ra, rb = repr(a), repr(b)
    return a if len(ra) <= len(rb) else b


def _limit(fn: Callable, sign: int) -> float:
    """lim fn(x) as x -> sign*inf: fn(+-inf) if that is a number, else from x = 10^8 ... 10^300."""
    v = float(fn(np.array([sign * math.inf]))[0])
    if not math.isnan(v):
        return v
    vs = fn(sign * _HUGE)
    if np.isnan(vs).any():
        return math.nan
    tail = vs[-40:]
    if np.isinf(tail).all() and (tail == tail[0]).all():
        return float(tail[0])
    if np.isinf(tail).any():
        return math.nan
    if np.ptp(tail) <= 1e-9 * max(1.0, float(np.max(np.abs(tail)))):
        return float(tail[-1]) if abs(tail[-1]) > 1e-200 else 0.0
    d = np.diff(tail)
    if (d > 0).all() and tail[-1] > 0:
        return math.inf
    if (d < 0).all() and tail[-1] < 0:
        return -math.inf
    return math.nan


# --- jump detection on float64 -------------------------------------------------------------------


def _jumps(g: Callable, x: np.ndarray, gx: np.ndarray) -> list[tuple[float, float]]:
    with np.errstate(all="ignore"):
        return _jumps_quiet(g, x, gx)


def _jumps_quiet(g: Callable, x: np.ndarray, gx: np.ndarray) -> list[tuple[float, float]]:
    """Points where g jumps, as (location, jump size), from the grid values ``gx`` at ``x``."""
    with np.errstate(all="ignore"):
        d = np.abs(np.diff(gx))
    n = len(d)
    if n < 3:
        return []
    left = np.concatenate([[np.inf], d[:-1]])
    right = np.concatenate([d[1:], [np.inf]])
    scale = np.maximum(1.0, np.maximum(np.abs(gx[:-1]), np.abs(gx[1:])))
    cand = (d > 4.0 * np.minimum(left, right) + 1e-9 * scale) & np.isfinite(d)
    idx = np.nonzero(cand)[0]
    if len(idx) == 0:
        return []
    a, b = x[idx].copy(), x[idx + 1].copy()
    ga, gb = gx[idx].copy(), gx[idx + 1].copy()
    d0 = d[idx].copy()
    for _ in range(1100):  # enough halvings to reach adjacent floats from any cell
        # halve the cell; beside 0 shrink geometrically (2^-32 a step) instead of through 1000
        # halvings down to the subnormals
        m = np.where(a == 0, b * 2.0**-32, np.where(b == 0, a * 2.0**-32, 0.5 * (a + b)))
        live = (m > a) & (m < b) & (b - a > 1e-300)
        if not live.any():
            break
        gm = g(m)
        dl, dr = np.abs(gm - ga), np.abs(gb - gm)
        go_left = live & ((dl >= dr) | np.isnan(dr))
        go_right = live & ~go_left
        b = np.where(go_left, m, b)
        gb = np.where(go_left, gm, gb)
        a = np.where(go_right, m, a)
        ga = np.where(go_right, gm, ga)
    dfin = np.abs(gb - ga)
    sc = np.maximum(1.0, np.maximum(np.abs(ga), np.abs(gb)))
    ok = (dfin > 1e-9 * sc) & (dfin > 0.1 * d0) | (np.isinf(ga) ^ np.isinf(gb))
    out = []
    for i in np.nonzero(ok)[0]:
        out.append((_rounder(float(a[i]), float(b[i])), float(dfin[i])))
    return _dedupe(out)


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for p in sorted(points):
        if out and abs(p[0] - out[-1][0]) <= 1e-12 * max(1.0, abs(p[0])):
            if p[1] > out[-1][1]:
                out[-1] = p
            continue
        out.append(p)
    return out


def _second_derivative_jumps(df: Callable, lo: float, hi: float) -> list[float]:
    with np.errstate(all="ignore"):
        return _second_derivative_jumps_quiet(df, lo, hi)


def _second_derivative_jumps_quiet(df: Callable, lo: float, hi: float) -> list[float]:
    """Without an expression: points in [-50, 50] where f'' jumps, from central differences of f'.

    A uniform grid (step 1e-3) of f'' estimates (h = 1e-6); a cell whose increment
    stands out from both neighbours is bisected to width 2e-5, and is a jump if
    the increment did not shrink with it (a smooth f'' would shrink 50-fold)."""

    def g(t: np.ndarray) -> np.ndarray:
        ht = 1e-6 * np.maximum(1.0, np.abs(t))
        return (df(t + ht) - df(t - ht)) / (2 * ht)

    xs = np.linspace(max(lo, -50.0), min(hi, 50.0), 100001) if lo < 50 and hi > -50 else np.array([])
    if len(xs) < 5:
        return []
    d2 = g(xs)
    d = np.abs(np.diff(d2))
    left = np.concatenate([[np.inf], d[:-1]])
    right = np.concatenate([d[1:], [np.inf]])
    scale = np.maximum(1.0, np.maximum(np.abs(d2[:-1]), np.abs(d2[1:])))
    idx = np.nonzero((d > 4.0 * np.minimum(left, right) + 1e-6 * scale) & np.isfinite(d))[0]
    out = []
    for i in idx[:200]:
        a, b = float(xs[i]), float(xs[i + 1])
        ga, gb = float(d2[i]), float(d2[i + 1])
        d0 = abs(gb - ga)
        while b - a > 2e-5 * max(1.0, abs(a)):
            m = 0.5 * (a + b)
            gm = float(g(np.array([m]))[0])
            if abs(gm - ga) >= abs(gb - gm):
                b, gb = m, gm
            else:
                a, ga = m, gm
        if abs(gb - ga) > 0.5 * d0 and abs(gb - ga) > 1e-5 * max(1.0, abs(ga), abs(gb)):
            out.append(_rounder(a, b) if abs(a - round(a, 6)) < 1e-5 else 0.5 * (a + b))
    return out


# --- the sympy side ------------------------------------------------------------------------------


class _Symbolic:
    """The activation's sympy expression, evaluated with mpmath at high precision."""

    def __init__(self, act: Activation) -> None:
        import sympy

        self.sympy = sympy
        self.x = sympy.Symbol("x", real=True)
        self.expr = act.sympy()
        self._mp = sympy.lambdify(self.x, self.expr, modules="mpmath")

    def f(self, x: Any) -> Any:
        import mpmath

        try:
            v = self._mp(x)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return None
        try:
            v = mpmath.mpmathify(v)
        except (TypeError, ValueError):
            return None
        if isinstance(v, mpmath.mpc):
            if v.imag != 0:
                return None
            v = v.real
        return v

    def branch_points(self, lo: float = -1e7, hi: float = 1e7) -> list[Any]:
        """Real roots (as mpf) of the quantities whose sign switches a branch of the expression."""
        sp = self.sympy
        x = self.x
        args: list[Any] = []
        for node in sp.preorder_traversal(self.expr):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
                args.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                a = node.args
                args.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    args.extend(_relational_sides(sp, cond))
            elif isinstance(node, sp.Pow) and not node.exp.is_integer and node.base.has(x):
                args.append(node.base)
            elif isinstance(node, sp.log) and node.args[0].has(x):
                args.append(node.args[0])
        roots: list[Any] = []
        for u in args:
            if not u.has(x):
                continue
            roots.extend(self._roots(u, lo, hi))
        return _unique_mp(roots)

    def _roots(self, u: Any, lo: float, hi: float) -> list[Any]:
        import mpmath

        sp = self.sympy
        x = self.x
        with mpmath.workdps(60):
            try:
                if u.is_polynomial(x):
                    poly = sp.Poly(u, x)
                    if poly.degree() <= 0:
                        return []
                    out = []
                    for r in sp.Poly(u, x).nroots(n=60, maxsteps=200):
                        if abs(sp.im(r)) < 1e-40 and lo <= float(sp.re(r)) <= hi:
                            out.append(mpmath.mpf(str(sp.re(r))))
                    return out
            except (sp.PolynomialError, sp.polys.polyerrors.NoConvergence, ValueError, TypeError):
                pass
            # numeric: sign changes (and exact zeros) of u on the grid, refined by bisection at 60 digits
            try:
                un = sp.lambdify(x, u, modules="numpy")
                umpf = sp.lambdify(x, u, modules="mpmath")
            except Exception:  # noqa: BLE001 - an expression lambdify cannot print
                return []
            grid = _base_grid()
            grid = grid[(grid >= lo) & (grid <= hi)]
            with np.errstate(all="ignore"):
                try:
                    v = np.asarray(un(grid), dtype=np.float64) * np.ones_like(grid)
                except Exception:  # noqa: BLE001
                    return []
            s = np.sign(v)
            ok = np.isfinite(v[:-1]) & np.isfinite(v[1:])
            # a sign change, or the edge of a run of exact zeros (Max(0, u) is 0 on a half-line)
            idx = np.nonzero((s[:-1] != s[1:]) & ok)[0]
            out = []
            for i in idx[:200]:
                a, b = mpmath.mpf(float(grid[i])), mpmath.mpf(float(grid[i + 1]))
                try:
                    ua, ub = umpf(a), umpf(b)
                    if ua == 0 and ub == 0:
                        continue

                    def key(val: Any) -> int:
                        return 0 if val == 0 else (1 if val > 0 else -1)

                    ka = key(ua)
                    for _ in range(220):
                        m = (a + b) / 2
                        if m in (a, b):
                            break
                        km = key(umpf(m))
                        if km == ka:
                            a = m
                        else:
                            b = m
                    # the root is the end of the zero run if there is one, else the crossing
                    out.append(a if ka == 0 else (b if key(umpf(b)) == 0 else (a + b) / 2))
                except (TypeError, ValueError, ZeroDivisionError):
                    continue
            return out

    def one_sided(self, c: Any, order: int, side: int, dist: str = "1e-25") -> Any:
        """The ``order``-th derivative at ``dist`` from c on the ``side`` (-1 / +1), at 160 digits."""
        import mpmath

        with mpmath.workdps(160):
            s = max(mpmath.mpf(1), abs(c))
            p = c + side * mpmath.mpf(dist) * s
            if order == 0:
                return self.f(p)
            try:
                return mpmath.diff(lambda t: self._checked(t), p, order, h=mpmath.mpf("1e-32") * s)
            except _UndefinedError:
                return None

    def _checked(self, t: Any) -> Any:
        v = self.f(t)
        if v is None:
            raise _UndefinedError
        return v

    def order_at(self, c: Any, max_order: int = 3) -> int | None:
        """The lowest derivative order (0..3) that jumps at c; None if none does (or c is an edge)."""
        import mpmath

        for k in range(max_order + 1):
            left, right = self.one_sided(c, k, -1), self.one_sided(c, k, +1)
            if left is None or right is None:
                return None  # an edge of the domain: not a discontinuity inside it
            with mpmath.workdps(160):
                if mpmath.isinf(left) or mpmath.isinf(right) or mpmath.isnan(left) or mpmath.isnan(right):
                    return k
                tol = mpmath.mpf("1e-8") * max(mpmath.mpf(1), abs(left), abs(right))
                if abs(left - right) > tol:
                    return k
                # equal limits, but is the k-th derivative bounded near c? (sign(x) sqrt|x|: f' -> inf)
                far = [self.one_sided(c, k, side, "1e-20") for side in (-1, 1)]
                if any(v is None for v in far):
                    return None
                if any(
                    abs(v - near) > mpmath.mpf("1e-6") * max(mpmath.mpf(1), abs(v))
                    for v, near in zip(far, (left, right))
                ):
                    return k
        return None

    def localize(self, p: Any) -> Any:
        """The expression with every branch (Max, Min, Abs, sign, Heaviside, Piecewise) resolved
        to the one active at the point p: the formula f follows near p."""
        import mpmath

        sp = self.sympy
        x = self.x

        def val(e: Any) -> Any:
            with mpmath.workdps(60):
                v = sp.lambdify(x, e, modules="mpmath")(p)
                return mpmath.mpmathify(v)

        def go(e: Any) -> Any:
            if not e.args or not e.has(x):
                return e
            if isinstance(e, sp.Piecewise):
                for expr_, cond in e.args:
                    c = cond if isinstance(cond, bool) else cond.subs(x, sp.Float(p, 60))
                    if c in (True, sp.true):
                        return go(expr_)
                raise ValueError("no Piecewise branch holds")
            args = [go(a) for a in e.args]
            if isinstance(e, sp.Max):
                vals = [val(a) for a in args]
                return args[max(range(len(args)), key=lambda i: vals[i])]
            if isinstance(e, sp.Min):
                vals = [val(a) for a in args]
                return args[min(range(len(args)), key=lambda i: vals[i])]
            if isinstance(e, (sp.Abs, sp.sign, sp.Heaviside)):
                v = val(args[0])
                sgn = 0 if v == 0 else (1 if v > 0 else -1)
                if isinstance(e, sp.Abs):
                    return args[0] if sgn >= 0 else -args[0]
                if isinstance(e, sp.sign):
                    return sp.Integer(sgn)
                return sp.Integer(1 if sgn > 0 else 0) if sgn != 0 else e.func(*args)
            return e.func(*args)

        return go(self.expr)

    def constant_on(self, a: float, b: float) -> bool:
        """f is constant on (a, b): at points spread over it, the formula active there (branches
        resolved, see :meth:`localize`) has a derivative that sympy simplifies to 0. Where that
        fails, f takes one value to 50 digits at those points (which cannot tell a derivative that
        underflows even in mpmath from a zero one)."""
        import mpmath

        pts = _interior_points(a, b)
        try:
            for p in pts:
                d = self.sympy.diff(self.localize(mpmath.mpf(p)), self.x)
                if d == 0:
                    continue
                # not 0 as written: a value at enough digits settles most cases quickly
                dn = self.sympy.lambdify(self.x, d, modules="mpmath")
                for dps in (50, 400, 2000):
                    with mpmath.workdps(dps):
                        if mpmath.mpmathify(dn(mpmath.mpf(p))) != 0:
                            return False
                if self.sympy.simplify(d) != 0:
                    return False
            return True
        except Exception:  # noqa: BLE001 - an expression localize cannot resolve
            pass
        with mpmath.workdps(50):
            vals = [self.f(mpmath.mpf(p)) for p in pts]
            if any(v is None for v in vals):
                return False
            v0 = vals[0]
            return all(v == v0 or abs(v - v0) <= mpmath.mpf("1e-45") * max(abs(v), abs(v0)) for v in vals)


class _UndefinedError(Exception):
    pass


def _relational_sides(sp: Any, cond: Any) -> list[Any]:
    if cond is sp.true or cond is True or cond is sp.false:
        return []
    if isinstance(cond, sp.core.relational.Relational):
        return [cond.lhs - cond.rhs]
    if isinstance(cond, (sp.And, sp.Or, sp.Not)):
        out = []
        for c in cond.args:
            out.extend(_relational_sides(sp, c))
        return out
    return []


def _unique_mp(roots: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in sorted(roots):
        if out and abs(r - out[-1]) <= 1e-30 * max(1, abs(r)):
            continue
        out.append(r)
    return out


def _interior_points(a: float, b: float) -> list[float]:
    if math.isinf(a) and math.isinf(b):
        return [-1e3, -10.0, -1.0, 0.5, 3.0, 100.0]
    if math.isinf(a):
        return [b - 1e-6 * max(1.0, abs(b)), b - 0.5, b - 7.0, b - 1e3, b - 1e6]
    if math.isinf(b):
        return [a + 1e-6 * max(1.0, abs(a)), a + 0.5, a + 7.0, a + 1e3, a + 1e6]
    w = b - a
    return [a + w * t for t in (1e-6, 0.1, 0.37, 0.5, 0.81, 1 - 1e-6)]


# --- regions -------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of True in ``mask``."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist()))


def _edge(pred: Callable[[float], bool], inside: float, outside: float) -> float:
    """Bisect for the boundary between ``inside`` (pred true) and ``outside`` (pred false)."""
    a, b = inside, outside
    for _ in range(200):
        m = 0.5 * (a + b)
        if m in (a, b):
            break
        if pred(m):
            a = m
        else:
            b = m
    return _rounder(a, b)


def _holds_inside(pred_v: Callable[[np.ndarray], np.ndarray], lo: float, hi: float) -> bool:
    """``pred_v`` holds at 4096 points spread over (lo, hi) (log-spaced toward an infinite end): a
    region read off the coarse part of the grid may be aliasing of an oscillation."""
    if math.isinf(lo) and math.isinf(hi):
        pts = np.concatenate([-np.geomspace(1e-3, 1e300, 2048), np.geomspace(1e-3, 1e300, 2048)])
    elif math.isinf(hi):
        pts = lo + np.geomspace(1e-9 * max(1.0, abs(lo)), 1e300, 4096)
    elif math.isinf(lo):
        pts = hi - np.geomspace(1e-9 * max(1.0, abs(hi)), 1e300, 4096)
    else:
        pts = np.linspace(lo, hi, 4098)[1:-1]
    return bool(np.all(pred_v(pts)))


def _regions(
    x: np.ndarray,
    mask: np.ndarray,
    pred: Callable[[float], bool],
    tails: tuple[bool, bool],
    min_width: float,
    domain: tuple[float, float],
    pred_v: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[tuple[float, float]]:
    out = []
    for i, j in _runs(mask):
        upper = float(x[min(j + 1, len(x) - 1)] - x[max(i - 1, 0)])
        if upper < min_width and not ((i == 0 and tails[0]) or (j == len(x) - 1 and tails[1])):
            continue
        if pred_v is not None and j > i and not _holds_inside(pred_v, float(x[i]), float(x[j])):
            continue
        if i == 0 and tails[0]:
            lo = domain[0]
        else:
            lo = _edge(pred, float(x[i]), float(x[i - 1])) if i > 0 else float(x[i])
        if j == len(x) - 1 and tails[1]:
            hi = domain[1]
        else:
            hi = _edge(pred, float(x[j]), float(x[j + 1])) if j < len(x) - 1 else float(x[j])
        wide = hi - lo >= min_width or math.isinf(lo) or math.isinf(hi)
        if wide and (pred_v is None or _holds_inside(pred_v, lo, hi)):
            out.append((lo, hi))
    return out


def _refine(fn: Callable, x: np.ndarray, i: int, sign: int) -> tuple[float, float]:
    """Refine the grid extremum at index i of sign*fn (sign=+1: min, -1: max) by Brent's method."""
    from scipy.optimize import minimize_scalar

    lo, hi = float(x[max(i - 1, 0)]), float(x[min(i + 1, len(x) - 1)])
    best_x, best_v = float(x[i]), float(fn(np.array([x[i]]))[0])
    if hi > lo:
        r = minimize_scalar(
            lambda t: sign * float(fn(np.array([t]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-13 * max(1.0, abs(best_x)), "maxiter": 500},
        )
        if r.success and math.isfinite(r.fun) and r.fun < sign * best_v:
            best_x, best_v = float(r.x), sign * float(r.fun)
    return best_x, best_v


# --- the analysis --------------------------------------------------------------------------------


@dataclass
class _Scan:
    act: Activation
    f: Callable
    df: Callable
    x: np.ndarray  # the grid inside the domain
    fx: np.ndarray
    dx: np.ndarray
    domain: tuple[float, float]
    symbolic: _Symbolic | None
    notes: list[str]
    jumps_f: list[tuple[float, float]]
    jumps_df: list[tuple[float, float]]
    structural: list[tuple[Any, int]]  # (mpf location, order) from the expression

    @property
    def discontinuities(self) -> list[Discontinuity]:
        found: dict[float, Discontinuity] = {}

        def add(at: float, order: int, source: str) -> None:
            for k in list(found):
                if abs(k - at) <= 1e-9 * max(1.0, abs(at)):
                    if order < found[k].order or (order == found[k].order and source == "sympy"):
                        del found[k]
                        break
                    return
            found[at] = Discontinuity(at, order, source)

        for at, _ in self.jumps_f:
            add(at, 0, "float64")
        for at, _ in self.jumps_df:
            add(at, 1, "float64")
        for c, order in self.structural:
            add(float(c), order, "sympy")
        return sorted(found.values(), key=lambda d: d.at)


@lru_cache(maxsize=256)
def _scan_cached(key: tuple, act: Activation) -> _Scan:
    with np.errstate(all="ignore"):
        return _scan(act)


def _get_scan(act: Activation) -> _Scan:
    return _scan_cached(cache_key(act), act)


def _scan(act: Activation) -> _Scan:
    f, df = _functions(act)
    grid = _base_grid()
    fg = f(grid)
    notes: list[str] = []
    defined = ~np.isnan(fg)
    if not defined.any():
        raise ValueError(f"properties: {act.name} is nan everywhere on [-1e7, 1e7]")
    first, last = int(np.argmax(defined)), len(grid) - 1 - int(np.argmax(defined[::-1]))
    if not defined[first : last + 1].all():
        notes.append("f is undefined (nan) inside its domain at some points; analysed where it is defined")

    def is_def(t: float) -> bool:
        return not math.isnan(float(f(np.array([t]))[0]))

    lo = (
        -math.inf
        if first == 0 and is_def(-1e300)
        else (_edge(is_def, float(grid[first]), float(grid[first - 1])) if first > 0 else float(grid[0]))
    )
    hi = (
        math.inf
        if last == len(grid) - 1 and is_def(1e300)
        else (
            _edge(is_def, float(grid[last]), float(grid[last + 1]))
            if last < len(grid) - 1
            else float(grid[-1])
        )
    )
    keep = defined & np.isfinite(fg)
    x = grid[keep]
    fx = fg[keep]
    dx = df(x)
    symbolic = None
    if act.spec.expression:
        try:
            symbolic = _Symbolic(act)
        except Exception as e:  # noqa: BLE001 - an expression sympy cannot handle
            notes.append(f"sympy expression unusable ({type(e).__name__}: {e}); float64 analysis only")
    else:
        notes.append(
            "no sympy expression: f'' jumps found from finite differences only, "
            "and C2 is not told apart from C-infinity"
        )
    dfin = np.isfinite(dx)
    jumps_f = _jumps(f, x, fx)
    jumps_df = _jumps(df, x[dfin], dx[dfin])
    # a jump of f is also one of f' in the bisection above; keep it as order 0 only
    jumps_df = [j for j in jumps_df if all(abs(j[0] - k[0]) > 1e-9 * max(1.0, abs(k[0])) for k in jumps_f)]
    # an infinite derivative inside the domain (sign(x) sqrt|x| at 0): f' is not continuous there
    inner = np.isinf(dx) & (x > lo) & (x < hi)
    jumps_df = _dedupe(jumps_df + [(float(t), math.inf) for t in x[inner]][:50])
    structural: list[tuple[Any, int]] = []
    if symbolic is not None:
        try:
            for c in symbolic.branch_points(max(lo, -1e7), min(hi, 1e7)):
                if not (lo < float(c) < hi):
                    continue
                order = symbolic.order_at(c)
                if order is not None:
                    structural.append((c, order))
        except Exception as e:  # noqa: BLE001
            notes.append(f"sympy branch analysis failed ({type(e).__name__}: {e})")
    elif len(x) > 10:
        jumps_d2 = _second_derivative_jumps(df, lo, hi)
        structural.extend((c, 2) for c in jumps_d2)
    return _Scan(act, f, df, x, fx, dx, (lo, hi), symbolic, notes, jumps_f, jumps_df, structural)


def breakpoints(act: Any, **params: Any) -> tuple[float, ...]:
    """Where f or a derivative of it jumps (all orders found), for splitting quadrature.

    >>> breakpoints("relu6")
    (0.0, 6.0)
    """
    a = elementwise(act, "breakpoints", **params)
    s = _get_scan(a)
    pts = {d.at for d in s.discontinuities}
    pts.update(x for x in s.domain if math.isfinite(x))
    return tuple(sorted(pts))


def properties(
    act: Any, *, saturation: float = SATURATION, min_width: float = 0.1, **params: Any
) -> DerivedProperties:
    """Measure an elementwise activation's properties numerically.

    ``act`` is an :class:`~actlab.Activation` or a catalog name (``params`` bind
    parameters). ``saturation``: the |f'| threshold of a saturation region;
    regions narrower than ``min_width`` are left out (the neighbourhood of an
    extremum, where f' crosses 0, is not saturation). See the module docstring for
    the method.

    >>> p = properties("relu")
    >>> p.range, p.monotonic, p.smoothness_name, p.kinks, p.dead_regions
    ((0.0, inf), True, 'C0', (Kink(at=0.0, grad=0.0),), ((-inf, 0.0),))
    >>> p = properties("silu")
    >>> [round(v, 6) for v in p.minimum], p.zero_centred
    ([-1.278465, -0.278465], False)
    """
    a = elementwise(act, "properties", **params)
    with np.errstate(all="ignore"):
        return _properties(a, saturation, min_width)


def _properties(a: Activation, saturation: float, min_width: float) -> DerivedProperties:
    from .quadrature import panel_rule

    s = _get_scan(a)
    f, df, x, fx, dx = s.f, s.df, s.x, s.fx, s.dx
    lo, hi = s.domain
    notes = list(s.notes)

    # limits at +-inf and the tails
    lim = {"f(-inf)": math.nan, "f(+inf)": math.nan, "f'(-inf)": math.nan, "f'(+inf)": math.nan}
    tail_vals: list[float] = []
    tail_d: list[float] = []
    for sign, key in ((-1, "-inf"), (1, "+inf")):
        if (sign < 0 and lo == -math.inf) or (sign > 0 and hi == math.inf):
            lim[f"f({key})"] = _limit(f, sign)
            lim[f"f'({key})"] = _limit(df, sign)
            tv = f(sign * _HUGE)
            td = df(sign * _HUGE)
            tail_vals.extend(tv[~np.isnan(tv)].tolist())
            tail_d.extend(td[~np.isnan(td)].tolist())
    edge_vals = [float(f(np.array([e]))[0]) for e in (lo, hi) if math.isfinite(e)]
    edge_vals = [v for v in edge_vals if not math.isnan(v)]
    edge_d = [float(df(np.array([e]))[0]) for e in (lo, hi) if math.isfinite(e)]
    edge_d = [v for v in edge_d if not math.isnan(v)]

    # range
    limit_vals = [v for k, v in lim.items() if k.startswith("f(") and not math.isnan(v)]
    extra = np.array(tail_vals + limit_vals + edge_vals, dtype=np.float64)
    grid_min = _best(f, x, fx, +1)[1]
    grid_max = _best(f, x, fx, -1)[1]
    inf_f = min(grid_min, float(extra.min())) if len(extra) else grid_min
    sup_f = max(grid_max, float(extra.max())) if len(extra) else grid_max
    inf_f = -math.inf if inf_f < -_BIG else inf_f + 0.0
    sup_f = math.inf if sup_f > _BIG else sup_f + 0.0

    # monotonicity: increments of f on the grid and the tails, and the sign of f'
    def _monotone(vals: np.ndarray, ds: np.ndarray, sign: int) -> bool:
        with np.errstate(all="ignore"):
            inc = sign * np.diff(vals)
        # rounding: a branch switch of the forward may step back by a few ulps (x - tanh x at 0.1)
        tol = 1e-12 * np.maximum(np.abs(vals[:-1]), np.abs(vals[1:])) + 1e-15
        inc = np.where(np.isnan(inc), 0.0, inc)
        if (inc < -tol).any():
            return False
        dd = sign * ds[np.isfinite(ds)]
        return not (dd < -1e-12 * max(1.0, float(np.max(np.abs(ds[np.isfinite(ds)]), initial=0.0)))).any()

    ordered_vals = fx
    if lo == -math.inf:
        ordered_vals = np.concatenate([f(-_HUGE[::-1]), ordered_vals])
    if hi == math.inf:
        ordered_vals = np.concatenate([ordered_vals, f(_HUGE)])
    ordered_vals = ordered_vals[~np.isnan(ordered_vals)]
    monotonic = _monotone(ordered_vals, dx, +1)
    non_increasing = _monotone(ordered_vals, dx, -1)

    # f': sup and inf
    dfin = np.isfinite(dx) | np.isinf(dx)
    dvals = dx[dfin & ~np.isnan(dx)]
    d_extra = [v for v in tail_d + edge_d + [lim["f'(-inf)"], lim["f'(+inf)"]] if not math.isnan(v)]
    dxx = x[dfin & ~np.isnan(dx)]
    d_inf = min([_best(df, dxx, dvals, +1)[1], *d_extra])
    d_sup = max([_best(df, dxx, dvals, -1)[1], *d_extra])
    d_inf = -math.inf if d_inf < -_BIG else d_inf + 0.0
    d_sup = math.inf if d_sup > _BIG else d_sup + 0.0

    # discontinuities, kinks, smoothness
    discs = s.discontinuities
    order = min((d.order for d in discs), default=None)
    smoothness = SMOOTH if order is None else _ORDER_CLASS[order]
    kink_pts = sorted({d.at for d in discs if d.order <= 1} | {e for e in (lo, hi) if math.isfinite(e)})
    kinks = tuple(Kink(c, float(df(np.array([c]))[0])) for c in kink_pts)
    if any(math.isfinite(e) for e in (lo, hi)):
        notes.append(
            f"defined on [{lo}, {hi}] only; its finite edge counts as a kink, and the Gaussian "
            "moments are undefined (nan)"
        )

    # saturation and dead regions
    def saturated(t: float) -> bool:
        v = float(df(np.array([t]))[0])
        return abs(v) < saturation

    sat_mask = np.abs(dx) < saturation
    tails_sat = (
        lo == -math.inf and bool(np.all(np.abs(df(-_HUGE)) < saturation)),
        hi == math.inf and bool(np.all(np.abs(df(_HUGE)) < saturation)),
    )
    sat = _regions(
        x, sat_mask, saturated, tails_sat, min_width, (lo, hi), lambda t: ~(np.abs(df(t)) >= saturation)
    )

    def flat(t: float) -> bool:
        return float(df(np.array([t]))[0]) == 0.0

    zero_mask = dx == 0.0
    tails_zero = (
        lo == -math.inf and bool(np.all(df(-_HUGE) == 0.0)),
        hi == math.inf and bool(np.all(df(_HUGE) == 0.0)),
    )
    dead = []
    cuts = sorted(d.at for d in discs if d.order == 0)
    for r in _regions(x, zero_mask, flat, tails_zero, 0.0, (lo, hi), lambda t: ~(df(t) != 0.0)):
        pieces = [r[0], *[c for c in cuts if r[0] < c < r[1]], r[1]]
        for p0, p1 in zip(pieces, pieces[1:]):
            if p1 - p0 <= 1e-9 * max(1.0, abs(p0)) and not math.isinf(p1 - p0):
                continue
            if _confirm_dead(s, p0, p1):
                dead.append((p0, p1))

    # Gaussian moments
    if lo == -math.inf and hi == math.inf:
        bps = [d.at for d in discs]
        qx, qw = panel_rule(0.0, 1.0, bps)
        fq = f(qx)
        with np.errstate(all="ignore"):
            mean = float(np.dot(qw, fq))
            m2 = float(np.dot(qw, fq * fq))
        var = m2 - mean * mean
        centring = abs(mean) / math.sqrt(m2) if m2 > 0 else (0.0 if mean == 0 else math.inf)
        zero_centred: bool | None = bool(abs(mean) <= ZERO_CENTRED * math.sqrt(max(m2, 0.0)))
        if not math.isfinite(m2):
            zero_centred = None
    else:
        mean = m2 = var = centring = math.nan
        zero_centred = None

    # extrema of non-monotonic functions
    minimum = maximum = None
    if not monotonic and not non_increasing:
        minimum = _extremum(f, x, fx, +1, [*limit_vals, *edge_vals], tail_vals)
        maximum = _extremum(f, x, fx, -1, [*limit_vals, *edge_vals], tail_vals)

    return DerivedProperties(
        name=a.name,
        params=dict(a.params),
        domain=(lo, hi),
        range=(inf_f, sup_f),
        limits=lim,
        monotonic=monotonic,
        non_increasing=non_increasing,
        derivative_inf=d_inf,
        derivative_sup=d_sup,
        saturation_regions=tuple(sat),
        dead_regions=tuple(dead),
        mean=mean,
        second_moment=m2,
        variance=var,
        centring=centring,
        zero_centred=zero_centred,
        smoothness=smoothness,
        discontinuities=tuple(discs),
        kinks=kinks,
        minimum=minimum,
        maximum=maximum,
        notes=tuple(notes),
    )


def _confirm_dead(s: _Scan, a: float, b: float) -> bool:
    """f' = 0 on (a, b) for real, not by underflow: f is constant there at 50 digits."""
    if s.symbolic is not None:
        try:
            return s.symbolic.constant_on(a, b)
        except Exception:  # noqa: BLE001 - fall back to float64
            pass
    pts = np.array(_interior_points(a, b))
    v = s.f(pts)
    near = (math.isfinite(a) and abs(a) < 25) or (math.isfinite(b) and abs(b) < 25) or (a < 0 < b)
    return bool(np.all(v == v[0])) and near


def _best(f: Callable, x: np.ndarray, fx: np.ndarray, sign: int) -> tuple[float, float]:
    """The grid's minimum (sign=+1) or maximum (-1) of f, refined: the near-best local extrema
    (within 1e-6) nearest 0 are each refined by Brent's method; ties go to the one nearest 0."""
    v = sign * fx
    best = float(v.min())
    if not math.isfinite(best):
        i = int(np.argmin(v))
        return float(x[i]), float(fx[i])
    near = v <= best + 1e-6 * max(1.0, abs(best))
    interior = np.zeros_like(near)
    interior[1:-1] = (v[1:-1] <= v[:-2]) & (v[1:-1] <= v[2:])
    cand = np.nonzero(near & (interior | (np.arange(len(v)) == 0) | (np.arange(len(v)) == len(v) - 1)))[0]
    if len(cand) == 0:
        cand = np.array([int(np.argmin(v))])
    cand = cand[np.argsort(np.abs(x[cand]), kind="stable")][:8]
    results = []
    for i in cand.tolist():
        if 0 < i < len(x) - 1:
            xm, vm = _refine(f, x, i, sign)
        else:
            xm, vm = float(x[i]), float(fx[i])
        results.append((sign * vm, abs(xm), xm, vm))
    top = min(r[0] for r in results)
    tied = [r for r in results if r[0] <= top + 1e-12 * max(1.0, abs(top))]
    r = min(tied, key=lambda t: t[1])
    return r[2], r[3]


def _extremum(
    f: Callable, x: np.ndarray, fx: np.ndarray, sign: int, limits: list[float], tails: list[float]
) -> tuple[float, float] | None:
    """The global minimum (sign=+1) or maximum (-1) at a finite point, nearest 0 among ties; None if
    the extreme value is only approached at +-inf (or the function is unbounded that way)."""
    xm, vm = _best(f, x, fx, sign)
    best = sign * vm
    others = [sign * t for t in [*limits, *tails] if not math.isnan(t)]
    if others and min(others) <= best + 1e-12 * max(1.0, abs(best)):
        return None
    return (xm + 0.0, vm + 0.0)  # no -0.0


# --- checking declared metadata ------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """One declared metadata field that the derived value contradicts."""

    name: str
    field: str
    declared: Any
    derived: Any

    def __str__(self) -> str:
        return f"{self.name}.{self.field}: declared {self.declared!r}, derived {self.derived!r}"


def _close(a: float, b: float, rel: float = 1e-7, abs_: float = 1e-9) -> bool:
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def check_metadata(act: Any, derived: DerivedProperties | None = None, **params: Any) -> list[Disagreement]:
    """Compare an entry's declared ``Properties`` with :func:`properties` (at the default parameters).

    Fields: range (rel 1e-7), bounded above / below, monotonic, smoothness,
    zero_centred (skipped where f is not defined on all of R), and the kinks: the
    same locations (rel 1e-9) with the same gradient there. Returns the
    disagreements (empty when all agree).

    >>> check_metadata("tanh")
    []
    """
    a = elementwise(act, "check_metadata", **params)
    p = derived or properties(a)
    dec = a.properties
    out: list[Disagreement] = []

    def bad(field_: str, declared: Any, got: Any) -> None:
        out.append(Disagreement(a.name, field_, declared, got))

    for i, side in enumerate(("inf", "sup")):
        if not _close(dec.range[i], p.range[i]):
            bad(f"range.{side}", dec.range[i], p.range[i])
    if dec.bounded_above != p.bounded_above:
        bad("bounded_above", dec.bounded_above, p.bounded_above)
    if dec.bounded_below != p.bounded_below:
        bad("bounded_below", dec.bounded_below, p.bounded_below)
    if dec.monotonic != p.monotonic:
        bad("monotonic", dec.monotonic, p.monotonic)
    if dec.smoothness != p.smoothness:
        bad("smoothness", SMOOTHNESS_NAMES[dec.smoothness], p.smoothness_name)
    if p.zero_centred is not None and dec.zero_centred != p.zero_centred:
        bad("zero_centred", dec.zero_centred, f"{p.zero_centred} (|E f|/sqrt(E f^2) = {p.centring:.4g})")
    derived_k = {k.at: k for k in p.kinks}
    matched = set()
    for k in dec.kinks:
        hit = next((d for d in derived_k if _close(d, k.at, 1e-9, 1e-12)), None)
        if hit is None:
            bad("kinks", f"kink at {k.at}", "no kink there")
            continue
        matched.add(hit)
        g = derived_k[hit].grad
        if not _close(k.grad, g, 1e-9, 1e-12):
            bad(f"kinks[{k.at}].grad", k.grad, g)
    for d in derived_k:
        if d not in matched:
            bad("kinks", "no kink there", f"kink at {d} (grad {derived_k[d].grad})")
    return out
