"""50-digit references for catalog entries, from their sympy expressions through mpmath."""

from __future__ import annotations

import math
from functools import cache

import mpmath
import numpy as np
import sympy

import actlab

DPS = 50
X = sympy.Symbol("x", real=True)

# The extreme points every entry is checked on, then a dense grid.
EXTREMES = [0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0, 20.0, -20.0, 88.0, -88.0, 710.0, -710.0,
            1e4, -1e4, math.inf, -math.inf, math.nan]
DENSE = sorted({*np.linspace(-30, 30, 241).tolist(), *np.geomspace(1e-8, 10, 40).tolist(),
                *(-np.geomspace(1e-8, 10, 40)).tolist()})

# float64: rel 1e-12 or abs 1e-15*max(1,|x|); float32: rel 1e-5 or abs 5e-7*max(1,|x|).
TOL = {"float64": (1e-12, 1e-15), "float32": (1e-5, 5e-7)}


def elementwise_names() -> list[str]:
    return actlab.names(kind="elementwise")


def grid(act: actlab.Activation) -> list[float]:
    kinks = [k.at for k in act.properties.kinks]
    near = [k + d for k in kinks for d in (-1e-6, 1e-6, -0.1, 0.1)]
    return EXTREMES + DENSE + kinks + near


@cache
def _mp_function(name: str, params: tuple, derivative: bool):
    expr = actlab.get(name, **dict(params)).sympy()
    if derivative:
        expr = sympy.diff(expr, X)
    return sympy.lambdify(X, expr, modules="mpmath")


def reference(act: actlab.Activation, x: float, derivative: bool = False) -> float:
    """f(x) (or f'(x)) to 50 digits, rounded to float64; +-inf gives the limit, or nan if none."""
    f = _mp_function(act.name, tuple(sorted(act.params.items())), derivative)
    with mpmath.workdps(DPS):
        if math.isnan(x):
            return math.nan
        if math.isinf(x):
            return _limit(f, 1 if x > 0 else -1)
        return _to_float(f(mpmath.mpf(x)))


def _limit(f, sign: int) -> float:
    """The limit at sign*inf from x = 1e60 ... 1e120: a common float value, 0 for a decay, +-inf
    when the values grow without bound with one sign, else nan (no limit, e.g. an oscillation)."""
    with mpmath.workdps(DPS + 130):  # enough digits that x - 1 differs from x at 1e120
        vals = [_to_float(f(sign * mpmath.mpf(10) ** k)) for k in range(60, 130, 10)]
    if all(v == vals[0] for v in vals):
        return vals[0]
    if all(abs(v) < 1e-50 for v in vals[-3:]):  # decays to 0, e.g. like 1/x
        return 0.0
    steps = [abs(b) - abs(a) for a, b in zip(vals, vals[1:])]
    # unbounded: |f| keeps increasing, either past 1e100 or without its steps shrinking (like log x)
    grows = all(d > 0 for d in steps) and (abs(vals[-1]) > 1e100 or steps[-1] >= 0.5 * steps[0])
    if grows and len({math.copysign(1, v) for v in vals}) == 1:
        return math.copysign(math.inf, vals[-1])
    return math.nan


def _to_float(v) -> float:
    try:
        v = mpmath.mpf(v)
    except TypeError:  # a complex result: outside the real domain
        return math.nan
    return float(v)


def error_score(ours: float, ref: float, x: float, dtype: str) -> float:
    """Error in units of the tolerance: <= 1 passes. nan/inf must match exactly."""
    rtol, atol = TOL[dtype]
    if math.isnan(ref) or math.isinf(ref) or math.isnan(ours) or math.isinf(ours):
        same = (math.isnan(ref) and math.isnan(ours)) or ref == ours
        return 0.0 if same else math.inf
    err = abs(ours - ref)
    scale = 1.0 if math.isinf(x) else max(1.0, abs(x))
    rel = err / (rtol * abs(ref)) if rtol * abs(ref) > 0 else math.inf  # a subnormal ref underflows
    return min(rel, err / (atol * scale))
