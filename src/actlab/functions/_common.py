"""Shared names for the catalog modules."""

import math

from array_api_compat import device as _device

from ..core import (  # noqa: F401 - re-exported for the family modules
    C0,
    C1,
    C2,
    DISCONTINUOUS,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    register,
)

inf = math.inf
pi = math.pi
SQRT2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# |x| beyond which x**2 is not needed: clip to it so that x**2 cannot overflow in
# float32 (1e36 < 3.4e38) while every correction term is far below float64 eps.
BIG = 1e18


def pick(cond, a, b, like, o):
    """``where(cond, a, b)`` for scalars a, b, in ``like``'s dtype and device."""
    dev = _device(like)
    return o.where(cond, o.asarray(a, dtype=like.dtype, device=dev), o.asarray(b, dtype=like.dtype, device=dev))


def step01(cond, like, o):
    """1 where ``cond`` holds, else 0, in ``like``'s dtype."""
    return o.astype(cond, like.dtype)


nan = math.nan

# Largest argument whose exp is finite in NumPy, by float width in bits (found by bisection:
# the next float up overflows). Above it the true e^t exceeds the dtype's largest value.
EXP_MAX_ARG = {64: 709.782712893384, 32: 88.72283172607422}


def _exp_clamped(fn, t, o):
    lim = EXP_MAX_ARG.get(o.finfo(t.dtype).bits)
    if lim is None:
        return fn(t)
    big = t > lim
    # above lim: t * inf = +inf, so that autograd also sees the infinite slope (the inner where
    # keeps that inf out of every other element's gradient); nan falls to fn(t) and stays nan
    return o.where(big, o.where(big, t, lim) * inf, fn(o.where(big, lim, t)))


def exp_safe(t, o):
    """e^t with +inf, and no overflow warning, where the true value exceeds the dtype's range."""
    return _exp_clamped(o.exp, t, o)


def expm1_safe(t, o):
    """e^t - 1 with +inf, and no overflow warning, where the true value exceeds the dtype's range."""
    return _exp_clamped(o.expm1, t, o)


def finite_or_zero(x, o):
    """x with +-inf replaced by 0: the argument for a periodic function whose limit is nan."""
    return o.where(o.isinf(x), 0.0, x)


# --- self-gated helpers (x * gate(x)); used by smooth.py, reusable by gated.py -----------

GELU_TANH_C = 0.044715  # the cubic coefficient of the tanh approximation of GELU


def gated(x, s, o):
    """``x * s`` for a gate ``s`` that is exactly 0 where x is infinite: inf * 0 reads as 0.

    ``where`` is applied to x before the product, so no inf * 0 is ever evaluated (no numpy
    warning) and autodiff sees d/dx = s.
    """
    return o.where(s == 0, 0.0, x) * s


def sech2(x, o):
    """sech(x)^2 = 1 - tanh(x)^2 without cancellation: 4 e^-2|x| / (1 + e^-2|x|)^2."""
    e = o.exp(-2.0 * o.minimum(o.abs(x), 1e4))
    return 4.0 * e / o.square(1.0 + e)


def gelu_erf(x, o):
    """Exact GELU, x Phi(x) = x/2 erfc(-x/sqrt2); erfc keeps full relative accuracy for x < 0."""
    return gated(x, 0.5 * o.erfc(-x / SQRT2), o)


def gelu_erf_grad(x, o):
    """d/dx x Phi(x) = Phi(x) + x phi(x)."""
    xc = o.clip(x, -BIG, BIG)
    return 0.5 * o.erfc(-x / SQRT2) + xc * (INV_SQRT_2PI * o.exp(-0.5 * o.square(xc)))


def _gelu_tanh_arg(x, o):
    # 2u with u = sqrt(2/pi) (x + c x^3); x clipped so that x^3 stays finite in float32 (the
    # sigmoid of 2u has saturated long before |x| = 1e6).
    xc = o.clip(x, -1e6, 1e6)
    return xc, (2.0 * SQRT_2_OVER_PI) * xc * (1.0 + GELU_TANH_C * xc * xc)


def gelu_tanh(x, o):
    """tanh-GELU, x/2 (1 + tanh u) written as x sigmoid(2u): no cancellation for x < 0."""
    _, z = _gelu_tanh_arg(x, o)
    return gated(x, o.sigmoid(z), o)


def gelu_tanh_grad(x, o):
    """d/dx x sigmoid(2u) = s + x 2u' s (1 - s), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3c x^2)."""
    xc, z = _gelu_tanh_arg(x, o)
    s = o.sigmoid(z)
    dz = (2.0 * SQRT_2_OVER_PI) * (1.0 + (3.0 * GELU_TANH_C) * xc * xc)
    return s + xc * dz * (s * o.sigmoid(-z))


def nonpos(x, o):
    """min(x, 0) for a negative branch: nan stays nan, and autograd's slope at 0 is 1 (minimum's is 1/2)."""
    return o.where(x > 0, 0.0, x)


def nonneg(x, o):
    """max(x, 0) for a positive branch: nan stays nan, and autograd's slope at 0 is 1 (maximum's is 1/2)."""
    return o.where(x < 0, 0.0, x)


def softplus(x, o):
    """log(1 + e^x), exact, without NumPy's invalid-value warning for nan (np.logaddexp(0, nan)
    raises one); autograd's slope at 0 is sigmoid(0) = 1/2."""
    pos = x + o.log1p(o.exp(-o.where(x > 0, x, 0.0)))
    neg = o.log1p(o.exp(o.where(x > 0, 0.0, x)))
    return o.where(x > 0, pos, neg)


def times(c, x, o):
    """c * x for a Python float c, with +-inf, and no overflow warning, where the product exceeds
    the largest float (as x * inf there, so that autograd sees the slope); c = 0 gives 0 at +-inf."""
    if c == 0:
        return o.where(o.isnan(x), x, o.zeros_like(x))
    if abs(c) <= 1:
        return c * x
    over = o.abs(x) > o.finfo(x.dtype).max / abs(c)
    return o.where(over, o.where(over, x, 1.0) * math.copysign(inf, c), c * o.where(over, 0.0, x))
