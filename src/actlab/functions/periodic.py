"""Periodic activations: sine, and linear or gated terms with an oscillating part.

Where a function keeps oscillating as x -> +-inf (sine, gcu) it has no limit
there and gives nan at +-inf; where the oscillation rides on a growing term
(snake, sinlu) it gives that term's limit. Either way no trigonometric function
is ever called on inf, so NumPy raises no invalid-value warning.
"""

import math

from ._common import (
    BIG,
    SMOOTH,
    ActivationSpec,
    Param,
    Properties,
    finite_or_zero,
    inf,
    nan,
    register,
)

FAMILY = "periodic"

# min of sinlu at a = b = 1: f(-1.0828652708940810) (mpmath, 30 digits)
SINLU_MIN = -0.49737055418999102


# Veltkamp split: 2^s + 1 splits a float of p bits into halves of p - s and s bits
_SPLIT = {64: 2.0**27 + 1.0, 32: 2.0**12 + 1.0}
_SPLIT_PARAM = {64: 2.0**27 + 1.0, 32: 2.0**41 + 1.0}  # w (a float64) into 26 or 12 high bits
_CLIP = {64: 1e300, 32: 1e30}  # keeps the split of x from overflowing


def _product(w, x, o):
    """w * x as an unevaluated sum (p, e), exact to about twice the working precision, or (w x, None)
    where the product is already exact (w a power of two, or 0). The rounding of w x in a naive sin(w x) is an
    absolute error of about |w x| eps in the result: 5e-5 in float32 at w = 30 (SIREN), x = 30.
    (Dekker's product, with w split once in Python; |x| beyond 1e30 in float32, or 1e300 in
    float64, is clipped there, where one ulp of x already spans many periods.)"""
    fi = o.finfo(x.dtype)
    if abs(math.frexp(w)[0]) in (0.0, 0.5) or fi.bits not in _SPLIT:
        lim = fi.max / max(1.0, abs(w))  # keeps w x finite
        return w * (x if abs(w) <= 1 else o.clip(x, -lim, lim)), None
    bits = fi.bits
    t = _SPLIT_PARAM[bits] * w
    wh = t - (t - w)  # exact in the working dtype, with few enough bits that wh * xh, wh * xl are exact
    wl = w - wh
    xc = o.clip(x, -_CLIP[bits], _CLIP[bits])
    c = _SPLIT[bits] * xc
    xh = c - (c - xc)
    xl = xc - xh
    hi = wh * xh
    lo = wh * xl + wl * xc
    p = hi + lo
    return p, (hi - p) + lo


def _sin_of_product(w, x, o):
    p, e = _product(w, x, o)
    # sin(p + e) by the addition formula: exact for any size of the rounding error e
    return o.sin(p) if e is None else o.sin(p) * o.cos(e) + o.cos(p) * o.sin(e)


def _cos_of_product(w, x, o):
    p, e = _product(w, x, o)
    return o.cos(p) if e is None else o.cos(p) * o.cos(e) - o.sin(p) * o.sin(e)


def _no_limit(x, value, o):
    """``value`` where x is finite, nan at +-inf (an oscillation has no limit)."""
    return o.where(o.isinf(x), nan, value)


register(ActivationSpec(
    name="sine", family=FAMILY,
    description="Sine: sin(w0 x).",
    forward=lambda x, o, w0: _no_limit(x, _sin_of_product(w0, finite_or_zero(x, o), o), o),
    derivative=lambda x, y, o, w0: _no_limit(x, w0 * _cos_of_product(w0, finite_or_zero(x, o), o), o),
    expression="sin(w0*x)",
    params=(Param("w0", 1.0, low=0.0, open_low=True,
                  doc="frequency; SIREN uses 30 in its first layer, with matching initialisation"),),
    properties=Properties(range=(-1.0, 1.0), monotonic=False, smoothness=SMOOTH, zero_centred=True),
    aliases=("sin", "siren"),
    paper="Sitzmann, Martel, Bergman, Lindell & Wetzstein, Implicit Neural Representations with "
          "Periodic Activation Functions (SIREN)", year=2020,
    notes="nan at +-inf, where sin has no limit. SIREN's gains rely on its weight initialisation "
          "(uniform in +-sqrt(6/n)/w0), not on the activation alone.",
    peers={"torch": lambda t, x, w0: t.sin(w0 * x), "jax": lambda j, x, w0: j.numpy.sin(w0 * x)},
))


def _snake(x, o, a):
    s = _sin_of_product(a, finite_or_zero(x, o), o)
    return x + s * s / a


register(ActivationSpec(
    name="snake", family=FAMILY,
    description="Snake: x + sin^2(a x) / a.",
    forward=_snake,
    # d/dx sin^2(a x)/a = 2 sin(a x) cos(a x) = sin(2 a x)
    derivative=lambda x, y, o, a: _no_limit(x, 1.0 + _sin_of_product(2.0 * a, finite_or_zero(x, o), o), o),
    expression="x + sin(a*x)**2/a",
    params=(Param("a", 1.0, low=0.0, open_low=True, learnable=True,
                  doc="frequency; larger a is a faster, smaller ripple (a -> 0 is the identity)"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    paper="Liu Ziyin, Hartwig & Ueda, Neural Networks Fail to Learn Periodic Functions and How to "
          "Fix It", year=2020,
    notes="Monotonic for every a > 0 (f' = 1 + sin(2 a x) >= 0), so it extrapolates linearly with "
          "a periodic ripple. f(+-inf) = +-inf; f' has no limit there (nan).",
))


def _gcu(x, o):
    xf = finite_or_zero(x, o)
    return _no_limit(x, xf * o.cos(xf), o)


register(ActivationSpec(
    name="gcu", family=FAMILY,
    description="Growing cosine unit: x cos(x).",
    forward=_gcu,
    derivative=lambda x, y, o: (lambda xf: _no_limit(x, o.cos(xf) - xf * o.sin(xf), o))(
        finite_or_zero(x, o)),
    expression="x*cos(x)",
    properties=Properties(range=(-inf, inf), monotonic=False, smoothness=SMOOTH, zero_centred=True),
    aliases=("growing_cosine_unit",),
    paper="Noel, Trivedi, Dutta, Banerjee & Muthiah, Growing Cosine Unit: A Novel Oscillatory "
          "Activation Function That Can Speedup Training and Reduce Parameters in Convolutional "
          "Neural Networks", year=2021,
    notes="Oscillates with growing amplitude: no limit at +-inf (nan there).",
))


def _sinlu(x, o, a, b):
    # (x + a sin(b x)) sigmoid(x); clipping x to +-BIG keeps b x finite and sends x = -inf to
    # -1e18 * sigmoid(-1e18) = -0 (the true limit); x > BIG is returned as itself.
    xc = o.clip(x, -BIG, BIG)
    val = (xc + a * _sin_of_product(b, xc, o)) * o.sigmoid(xc)
    return o.where(x > BIG, x, val)


def _sinlu_grad(x, y, o, a, b):
    xc = o.clip(x, -BIG, BIG)
    s = o.sigmoid(xc)
    d = (1.0 + (a * b) * _cos_of_product(b, xc, o)) * s + (xc + a * _sin_of_product(b, xc, o)) * (
        s * o.sigmoid(-xc))
    # f' oscillates, 1 + a b cos(b x), as x -> +inf: no limit there
    return o.where(x == inf, nan, d)


register(ActivationSpec(
    name="sinlu", family=FAMILY,
    description="Sinu-sigmoidal linear unit: (x + a sin(b x)) sigmoid(x).",
    forward=_sinlu, derivative=_sinlu_grad,
    expression="(x + a*sin(b*x))*sigmoid(x)",
    params=(Param("a", 1.0, learnable=True, doc="amplitude of the sine term"),
            Param("b", 1.0, learnable=True, doc="frequency of the sine term"),),
    properties=Properties(range=(SINLU_MIN, inf), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    paper="Paul, Bandyopadhyay, Yoon, Geem & Sarkar, SinLU: Sinu-Sigmoidal Linear Unit", year=2022,
    notes="A SiLU with a learnable sine added to its linear part. f(-inf) = 0, f(+inf) = +inf; "
          "f' has no limit at +inf (nan there).",
))
