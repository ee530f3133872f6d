"""Adaptive (learnable-shape) activations: APL, SReLU, ACON-C and the rational (Padé) unit.

Their parameters are marked ``learnable=True``: the papers train them with the
network (the torch layer makes them trainable); here they are plain values.
The defaults give a sensible fixed function (see each entry).

The forwards avoid ``0 * inf`` when a slope parameter is 0 and the input is
infinite: +-inf maps to the function's limit, computed from the parameters.
"""

import math

from ._common import (
    C0,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    inf,
    register,
    step01,
)

FAMILY = "adaptive"


def _slope_limit(slope, const):
    """lim of const + slope * x as x -> +inf: +-inf, or const when slope == 0."""
    slope = float(slope)
    return const if slope == 0 else math.copysign(inf, slope)


# --- APL ----------------------------------------------------------------------------------------

def _hinge(x, b, o):
    """max(0, b - x), written so that nan propagates and x = b takes the right-hand branch."""
    return o.where(x >= b, 0.0, b - x)


def _apl(x, o, a1, b1, a2, b2):
    # Left of every hinge f(x) = (a1 b1 + a2 b2) - (a1 + a2) x: f(-inf) from that line.
    lim = _slope_limit(float(a1) + float(a2), float(a1) * float(b1) + float(a2) * float(b2))
    xf = o.where(x == -inf, 0.0, x)
    f = o.where(xf < 0, 0.0, xf) + a1 * _hinge(xf, b1, o) + a2 * _hinge(xf, b2, o)
    return o.where(x == -inf, lim, f)


def _apl_grad(x, y, o, a1, b1, a2, b2):
    return step01(x >= 0, x, o) - a1 * step01(x < b1, x, o) - a2 * step01(x < b2, x, o)


register(ActivationSpec(
    name="apl", family=FAMILY,
    description="Adaptive piecewise linear unit: max(0, x) + sum_s a_s max(0, -x + b_s), S = 2 hinges.",
    forward=_apl, derivative=_apl_grad,
    expression="Piecewise((x, x >= 0), (0, True)) + a1*Piecewise((b1 - x, x < b1), (0, True))"
               " + a2*Piecewise((b2 - x, x < b2), (0, True))",
    params=(Param("a1", -0.2, learnable=True, doc="slope change of hinge 1 (its slope left of b1 is -a1)"),
            Param("b1", 0.0, learnable=True, doc="location of hinge 1"),
            Param("a2", 0.1, learnable=True, doc="slope change of hinge 2"),
            Param("b2", -1.0, learnable=True, doc="location of hinge 2")),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(-1.0, 0.2), Kink(0.0, 1.0))),
    piecewise_linear=True, aliases=("adaptive_piecewise_linear",),
    paper="Agostinelli, Hoffman, Sadowski & Baldi, Learning Activation Functions to Improve Deep "
          "Neural Networks", year=2014,
    notes="The paper learns S hinges per unit (S a hyperparameter); this entry has S = 2 with "
          "scalar parameters. The defaults are ours (the paper learns a, b from a random start): "
          "slope 1 for x > 0, 0.2 on (-1, 0) and 0.1 below -1, a monotone leaky ReLU with two "
          "hinges. At each hinge the derivative takes the right-hand value (f'(0) = 1, "
          "f'(b_s) excludes hinge s). With a1 = a2 = 0 it is ReLU.",
))


# --- SReLU --------------------------------------------------------------------------------------

def _affine(x, t, a, o):
    """t + a (x - t), equal to t at x = +-inf when a == 0 (instead of nan)."""
    xs = o.where(o.isinf(x) & (a == 0), t, x)
    return t + a * (xs - t)


def _srelu(x, o, t_l, a_l, t_r, a_r):
    return o.where(x >= t_r, _affine(x, t_r, a_r, o), o.where(x <= t_l, _affine(x, t_l, a_l, o), x))


def _srelu_grad(x, y, o, t_l, a_l, t_r, a_r):
    return o.where(x >= t_r, a_r, o.where(x <= t_l, a_l, o.ones_like(x)))


register(ActivationSpec(
    name="srelu", family=FAMILY,
    description="S-shaped ReLU: t_l + a_l (x - t_l) for x <= t_l, x between, t_r + a_r (x - t_r) "
                "for x >= t_r.",
    forward=_srelu, derivative=_srelu_grad,
    expression="Piecewise((t_r + a_r*(x - t_r), x >= t_r), (t_l + a_l*(x - t_l), x <= t_l), (x, True))",
    params=(Param("t_l", 0.0, learnable=True, doc="left threshold"),
            Param("a_l", 0.2, learnable=True, doc="slope left of t_l"),
            Param("t_r", 1.0, learnable=True, doc="right threshold (the paper sets it from data)"),
            Param("a_r", 1.0, learnable=True, doc="slope right of t_r")),
    check=lambda t_l, a_l, t_r, a_r: None if t_l <= t_r else f"needs t_l <= t_r, got {t_l} > {t_r}",
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.2),)),
    piecewise_linear=True, aliases=("s_relu", "s_shaped_relu"),
    paper="Jin, Xu, Feng, Wei, Xiong & Yan, Deep Learning with S-shaped Rectified Linear "
          "Activation Units", year=2016,
    notes="Defaults follow the paper's start, a leaky ReLU (t_l = 0, a_r = 1), with a_l = 0.2; "
          "the paper then sets t_r from the data, so t_r = 1 is a placeholder (with a_r = 1 it "
          "makes no kink). As in the paper's definition x = t_l belongs to the left piece and "
          "x = t_r to the right piece: f'(t_l) = a_l, f'(t_r) = a_r.",
))


# --- ACON-C -------------------------------------------------------------------------------------

def _acon_gate(x, o, p1, p2, beta):
    """h with f = x h: (p1 - p2) sigmoid(beta (p1 - p2) x) + p2, from x clipped (h saturates)."""
    d = p1 - p2
    u = o.clip((beta * d) * o.clip(x, -1e18, 1e18), -1e18, 1e18)
    return d, u, d * o.sigmoid(u) + p2


def _acon_c(x, o, p1, p2, beta):
    _, _, h = _acon_gate(x, o, p1, p2, beta)
    # x h -> 0 where h -> 0 (always exponentially, or h == 0 identically): no inf * 0.
    return o.where(o.isinf(x) & (h == 0), 0.0, x) * h


def _acon_c_grad(x, y, o, p1, p2, beta):
    d, u, _ = _acon_gate(x, o, p1, p2, beta)
    return d * (o.sigmoid(u) + u * (o.sigmoid(u) * o.sigmoid(-u))) + p2


register(ActivationSpec(
    name="acon_c", family=FAMILY,
    description="ACON-C: (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x.",
    forward=_acon_c, derivative=_acon_c_grad,
    expression="(p1 - p2)*x*sigmoid(beta*(p1 - p2)*x) + p2*x",
    params=(Param("p1", 1.0, learnable=True, doc="slope for x -> +inf (when beta (p1 - p2) > 0)"),
            Param("p2", 0.0, learnable=True, doc="slope for x -> -inf (when beta (p1 - p2) > 0)"),
            Param("beta", 1.0, learnable=True, doc="switching factor: 0 gives the mean of the "
                                                   "two lines, large beta a max of them")),
    properties=Properties(range=(-0.27846454276107380, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("aconc",),
    paper="Ma, Zhang, Liu, Zhang & Sun, Activate or Not: Learning Customized Activation", year=2021,
    notes="A smooth maximum of p1 x and p2 x. At the defaults (p1 = 1, p2 = 0, beta = 1) it equals "
          "swish / SiLU, x sigmoid(x) (the paper starts p1, p2 from random values and beta from "
          "1). Meta-ACON, where a small network predicts beta, is not elementwise and not here.",
))


# --- rational (safe Padé activation unit) -------------------------------------------------------

# Defaults: a least-squares fit of this function to leaky_relu(0.01) on [-3, 3], computed once
# while writing this entry: 6001 uniform points of [-3, 3], scipy.optimize.least_squares
# (Levenberg-Marquardt, tolerances 1e-15), best of 201 starts (the linearised problem
# P(x) - t(x) Q(x) ~ 0 solved by lstsq, plus 200 N(0, 1) starts); |b_k| reported.
# RMS error 0.00503, max error 0.0298 (at x = 0, where the fit gives a0).
_RATIONAL_DEFAULTS = {
    "a0": 0.02979726724268519, "a1": 0.6183759763302978, "a2": 2.3229537026230203,
    "a3": 3.0509875760994922, "a4": 1.4847242504591562, "a5": 0.25086732507026227,
    "b1": 1.1418035884977635, "b2": 4.391751473716712, "b3": 0.8710913177827154,
    "b4": 0.3469732553927551,
}


def _rational_limits(a, bq):
    """(f(+inf), f(-inf), f'(+inf), f'(-inf)) from the leading terms of P and Q."""
    a = [float(v) for v in a]
    bq = [1.0] + [abs(float(v)) for v in bq]
    if not any(a):
        return 0.0, 0.0, 0.0, 0.0
    dp = max(k for k, v in enumerate(a) if v != 0)
    dq = max(k for k, v in enumerate(bq) if v != 0)
    lead, e = a[dp] / bq[dq], dp - dq  # f ~ lead sign(x)^dp |x|^e
    out = []
    for s in (1.0, -1.0):
        f = lead * s**dp * (inf if e > 0 else 1.0) if e >= 0 else 0.0
        df = lead * s ** (dp + 1) * (inf if e > 1 else 1.0) if e >= 1 else 0.0
        out.append((f, df))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def _abs0(x, o):
    """|x|, written so that autograd gives d|x|/dx = 0 at 0 in every backend (torch.abs does,
    jax.numpy.abs gives 1), matching sympy's sign(0) = 0 and the analytic derivative."""
    return o.where(x < 0, -x, o.where(x > 0, x, 0.0 * x))


def _rational_parts(x, o, a, bq):
    """(small, large, x_large): P/Q for |x| <= 1 directly, and for |x| > 1 as x N(r)/D(r), r = 1/x,
    with P/x^5 = N(r) and Q/x^4 = D(r), so that nothing overflows for large |x|."""
    a0, a1, a2, a3, a4, a5 = a
    b1, b2, b3, b4 = (abs(v) for v in bq)
    inner = (x >= -1.0) & (x <= 1.0)
    xs = o.where(inner, x, 0.0)
    s = _abs0(xs, o)
    p = a0 + xs * (a1 + xs * (a2 + xs * (a3 + xs * (a4 + xs * a5))))
    q = 1.0 + s * (b1 + s * (b2 + s * (b3 + s * b4)))
    xl = o.where(inner | o.isinf(x), 2.0, x)  # nan stays nan
    r = 1.0 / xl
    rr = o.abs(r)
    n = a5 + r * (a4 + r * (a3 + r * (a2 + r * (a1 + r * a0))))
    d = b4 + rr * (b3 + rr * (b2 + rr * (b1 + rr)))
    return (xs, p, q), (xl, r, rr, n, d)


def _rational(x, o, a0, a1, a2, a3, a4, a5, b1, b2, b3, b4):
    a, bq = (a0, a1, a2, a3, a4, a5), (b1, b2, b3, b4)
    (_, p, q), (xl, _, _, n, d) = _rational_parts(x, o, a, bq)
    f = o.where((x >= -1.0) & (x <= 1.0), p / q, xl * (n / d))
    fp, fm, _, _ = _rational_limits(a, bq)
    return o.where(x == inf, fp, o.where(x == -inf, fm, f))


def _rational_grad(x, y, o, a0, a1, a2, a3, a4, a5, b1, b2, b3, b4):
    a, bq = (a0, a1, a2, a3, a4, a5), (b1, b2, b3, b4)
    (xs, p, q), (xl, r, rr, n, d) = _rational_parts(x, o, a, bq)
    c1, c2, c3, c4 = (abs(v) for v in bq)
    # |x| <= 1: (P' Q - P Q') / Q^2, Q' = sign(x) (|b1| + 2|b2||x| + 3|b3| x^2 + 4|b4||x|^3)
    dp = a1 + xs * (2.0 * a2 + xs * (3.0 * a3 + xs * (4.0 * a4 + xs * (5.0 * a5))))
    s = _abs0(xs, o)
    dq = o.sign(xs) * (c1 + s * (2.0 * c2 + s * (3.0 * c3 + s * (4.0 * c4))))
    small = (dp * q - p * dq) / (q * q)
    # |x| > 1: with P'/x^4 = Np(r) and Q'/x^3 = Dp(|r|): f' = (Np D - N Dp) / D^2
    np_ = 5.0 * a5 + r * (4.0 * a4 + r * (3.0 * a3 + r * (2.0 * a2 + r * a1)))
    dp_ = 4.0 * c4 + rr * (3.0 * c3 + rr * (2.0 * c2 + rr * c1))
    large = (np_ * d - n * dp_) / (d * d)
    g = o.where((x >= -1.0) & (x <= 1.0), small, large)
    _, _, gp, gm = _rational_limits(a, bq)
    return o.where(x == inf, gp, o.where(x == -inf, gm, g))


register(ActivationSpec(
    name="rational", family=FAMILY,
    description="Rational (safe Padé) unit: (a0 + a1 x + ... + a5 x^5) / "
                "(1 + |b1 x| + |b2 x^2| + |b3 x^3| + |b4 x^4|).",
    forward=_rational, derivative=_rational_grad,
    expression="(a0 + a1*x + a2*x**2 + a3*x**3 + a4*x**4 + a5*x**5)"
               "/(1 + Abs(b1*x) + Abs(b2*x**2) + Abs(b3*x**3) + Abs(b4*x**4))",
    params=tuple(Param(k, v, learnable=True, doc=f"numerator coefficient of x^{k[1]}")
                 for k, v in _RATIONAL_DEFAULTS.items() if k[0] == "a")
    + tuple(Param(k, v, learnable=True, doc=f"denominator coefficient of |x|^{k[1]} (its sign "
                                            "does not matter)")
            for k, v in _RATIONAL_DEFAULTS.items() if k[0] == "b"),
    properties=Properties(range=(-inf, inf), monotonic=False, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, _RATIONAL_DEFAULTS["a1"]),)),
    aliases=("pau", "pade", "safe_pau"),
    paper="Molina, Schramowski & Kersting, Padé Activation Units: End-to-end Learning of "
          "Flexible Activation Functions in Deep Networks", year=2019,
    notes="Degrees (5, 4), the 'safe' denominator that cannot vanish (Q >= 1). Defaults: a "
          "least-squares fit to leaky_relu(0.01) on [-3, 3] (6001 points; RMS error 0.0050, max "
          "error 0.0298, at x = 0); outside [-3, 3] it grows like (a5 / |b4|) x = 0.723 x. The fit "
          "is not monotone (a dip of about 1e-5 near x = -0.3). |b1 x| puts a kink at 0 when "
          "a0 b1 != 0 (f' jumps by -2 a0 |b1| = -0.068 at the defaults); there f'(0) = a1, the "
          "mean of the one-sided slopes, which is what autograd of |x| gives (d|x|/dx = 0 at 0). "
          "Evaluated as P/Q for |x| <= 1 and as x N(1/x) / D(1/x) beyond, so large |x| never "
          "overflows in float32.",
))
