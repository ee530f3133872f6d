"""Exponential activations: the ELU family, softplus and its relatives, and plain exponentials.

Every exponential is taken of a clamped argument (``expm1(nonpos(x))`` on the
negative branch of an ELU, where ``nonpos`` is min(x, 0) with autograd's slope 1
at 0); where the true value overflows (``exponential`` for x > 709.78 in
float64) the result is +inf without an overflow warning. Gradient convention at
0 follows PyTorch: an ELU's derivative there is that of its negative branch.
Functions with a restricted domain (log1mexp; soft_exponential for alpha < 0)
give -inf at its edge and nan outside it, quietly, as log does.
"""

import math

from ._common import (
    BIG,
    C0,
    C1,
    C2,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    exp_safe,
    expm1_safe,
    inf,
    nan,
    nonneg,
    nonpos,
    register,
    softplus,
    times,
)

FAMILY = "exponential"

# Klambauer et al. (2017), eq. 14, to 32 digits.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --- the ELU family -------------------------------------------------------

def _elu(x, o, alpha):
    return o.where(x > 0, x, alpha * o.expm1(nonpos(x, o)))


def _elu_grad(x, y, o, alpha):
    return o.where(x > 0, 1.0, alpha * o.exp(nonpos(x, o)))


register(ActivationSpec(
    name="elu", family=FAMILY,
    description="Exponential linear unit: x for x > 0, alpha (e^x - 1) otherwise.",
    forward=_elu, derivative=_elu_grad,
    expression="Piecewise((x, x > 0), (alpha*(exp(x) - 1), True))",
    params=(Param("alpha", 1.0, low=0.0, doc="negative saturation value is -alpha"),),
    properties=Properties(range=(-1.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    paper="Clevert, Unterthiner & Hochreiter, Fast and Accurate Deep Network Learning by "
          "Exponential Linear Units (ELUs)", year=2016,
    notes="f'(0) = alpha, as in PyTorch; at alpha = 1 (the default) both sides agree and f is C1. "
          "For alpha != 1 there is a kink at 0.",
    peers={"torch": lambda t, x, alpha: t.nn.functional.elu(x, alpha),
           "jax": lambda j, x, alpha: j.nn.elu(x, alpha)},
))

register(ActivationSpec(
    name="selu", family=FAMILY,
    description="Scaled ELU: scale * (x for x > 0, alpha (e^x - 1) otherwise), with the "
                "self-normalizing constants.",
    # scale * alpha folded into one constant: one rounding fewer on the negative branch
    forward=lambda x, o, alpha, scale: o.where(x > 0, times(scale, x, o),
                                               (scale * alpha) * o.expm1(nonpos(x, o))),
    derivative=lambda x, y, o, alpha, scale: o.where(x > 0, scale, (scale * alpha) * o.exp(nonpos(x, o))),
    expression="scale*Piecewise((x, x > 0), (alpha*(exp(x) - 1), True))",
    params=(Param("alpha", SELU_ALPHA, low=0.0, doc="negative saturation; 1.6732632423543772..."),
            Param("scale", SELU_SCALE, low=0.0, open_low=True, doc="lambda; 1.0507009873554804..."),),
    properties=Properties(range=(-SELU_SCALE * SELU_ALPHA, inf), monotonic=True, smoothness=C0,
                          zero_centred=True, kinks=(Kink(0.0, SELU_SCALE * SELU_ALPHA),)),
    paper="Klambauer, Unterthiner, Mayr & Hochreiter, Self-Normalizing Neural Networks", year=2017,
    notes="The defaults are the fixed point of mean 0 and variance 1 for N(0, 1) inputs (the "
          "paper's lambda is called scale here). f'(0) = scale * alpha, as in PyTorch. Pair it "
          "with LeCun-normal initialisation and alpha-dropout.",
    peers={"torch": lambda t, x, alpha, scale: t.nn.functional.selu(x)
           if (alpha, scale) == (SELU_ALPHA, SELU_SCALE) else scale * t.nn.functional.elu(x, alpha),
           "jax": lambda j, x, alpha, scale: j.nn.selu(x)
           if (alpha, scale) == (SELU_ALPHA, SELU_SCALE) else scale * j.nn.elu(x, alpha)},
))


def _celu(x, o, alpha):
    return o.where(x > 0, x, alpha * o.expm1(nonpos(x, o) / alpha))


register(ActivationSpec(
    name="celu", family=FAMILY,
    description="Continuously differentiable ELU: max(0, x) + min(0, alpha (e^(x/alpha) - 1)).",
    forward=_celu,
    derivative=lambda x, y, o, alpha: o.where(x > 0, 1.0, o.exp(nonpos(x, o) / alpha)),
    expression="Piecewise((x, x > 0), (alpha*(exp(x/alpha) - 1), True))",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="negative saturation value is -alpha"),),
    properties=Properties(range=(-1.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    paper="Barron, Continuously Differentiable Exponential Linear Units", year=2017,
    notes="f'(0) = 1 for every alpha, so f is C1; equal to elu at alpha = 1.",
    peers={"torch": lambda t, x, alpha: t.nn.functional.celu(x, alpha),
           "jax": lambda j, x, alpha: j.nn.celu(x, alpha)},
))


def _pelu(x, o, a, b):
    return o.where(x >= 0, times(a / b, x, o), a * o.expm1(nonpos(x, o) / b))


register(ActivationSpec(
    name="pelu", family=FAMILY,
    description="Parametric ELU: (a/b) x for x >= 0, a (e^(x/b) - 1) otherwise.",
    forward=_pelu,
    derivative=lambda x, y, o, a, b: o.where(x >= 0, a / b, (a / b) * o.exp(nonpos(x, o) / b)),
    expression="Piecewise((a/b*x, x >= 0), (a*(exp(x/b) - 1), True))",
    params=(Param("a", 1.0, low=0.0, open_low=True, learnable=True, doc="negative saturation -a"),
            Param("b", 1.0, low=0.0, open_low=True, learnable=True, doc="scale of the exponential decay"),),
    properties=Properties(range=(-1.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    paper="Trottier, Giguere & Chaib-draa, Parametric Exponential Linear Unit for Deep "
          "Convolutional Neural Networks", year=2017,
    notes="Both slopes at 0 are a/b, so f is C1 for every a, b > 0; elu at a = b = 1.",
))


def _pdelu(x, o, alpha, t):
    xn = nonpos(x, o)
    if t == 1.0:  # the deformed exponential's limit: the ELU
        neg = o.expm1(xn)
    else:
        # [1 + u]_+^(1/(1-t)) - 1 with u = (1-t) x, as expm1(log1p(u)/(1-t)) so that it does not
        # cancel near 0; u <= -1 (only for t < 1) is the flat part, -1.
        u = (1.0 - t) * xn
        inside = o.expm1(o.log1p(o.where(u <= -1.0, 0.0, u)) / (1.0 - t))
        neg = o.where(u <= -1.0, -1.0, inside)
    return o.where(x > 0, x, alpha * neg)


def _pdelu_grad(x, y, o, alpha, t):
    xn = nonpos(x, o)
    # alpha [1 + (1-t) x]_+^(t/(1-t)); e^x in the ELU limit t = 1
    neg = o.exp(xn) if t == 1.0 else o.maximum(1.0 + (1.0 - t) * xn, 0.0) ** (t / (1.0 - t))
    return o.where(x > 0, 1.0, alpha * neg)


register(ActivationSpec(
    name="pdelu", family=FAMILY,
    description="Parametric deformable ELU: x for x > 0, alpha ([1 + (1 - t) x]_+^(1/(1 - t)) - 1) "
                "otherwise.",
    forward=_pdelu, derivative=_pdelu_grad,
    expression="Piecewise((x, x > 0), (alpha*(exp(x) - 1), Eq(t, 1)), "
               "(alpha*(Max(0, 1 + (1 - t)*x)**(1/(1 - t)) - 1), True))",
    params=(Param("alpha", 1.0, low=0.0, learnable=True, doc="negative saturation value is -alpha"),
            Param("t", 0.9, low=0.0, open_low=True,
                  doc="deformation; t -> 1 is the ELU, t < 1 reaches -alpha at x = -1/(1 - t)"),),
    properties=Properties(range=(-1.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    paper="Cheng, Li, Liu, Zhang, Tian & Chen, Parametric Deformable Exponential Linear Units for "
          "Deep Neural Networks", year=2020,
    notes="The deformed exponential [1 + (1 - t) x]_+^(1/(1 - t)) replaces e^x; with the default "
          "t = 0.9 it is (1 + x/10)^10 for x > -10 and exactly -alpha below. f'(0) = alpha (the "
          "negative branch, as in the authors' Caffe layer). C1 at alpha = 1.",
))


def _isrlu(x, o, alpha):
    # clip so that alpha * x^2 cannot overflow even in float32; the error is below 1e-36
    lim = BIG / max(1.0, math.sqrt(alpha))
    xn = o.maximum(nonpos(x, o), -lim)
    return o.where(x >= 0, x, xn / o.sqrt(1.0 + alpha * xn * xn))


def _isrlu_grad(x, y, o, alpha):
    lim = BIG / max(1.0, math.sqrt(alpha))
    xn = o.maximum(nonpos(x, o), -lim)
    r = 1.0 / o.sqrt(1.0 + alpha * xn * xn)
    return o.where(x >= 0, 1.0, r * r * r)


register(ActivationSpec(
    name="isrlu", family=FAMILY,
    description="Inverse square root linear unit: x for x >= 0, x / sqrt(1 + alpha x^2) otherwise.",
    forward=_isrlu, derivative=_isrlu_grad,
    expression="Piecewise((x, x >= 0), (x/sqrt(1 + alpha*x**2), True))",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="negative saturation is -1/sqrt(alpha)"),),
    properties=Properties(range=(-1.0, inf), monotonic=True, smoothness=C2, zero_centred=False),
    paper="Carlile, Delamarter, Kinney, Marti & Whitney, Improving Deep Learning by Inverse "
          "Square Root Linear Units (ISRLUs)", year=2017,
    notes="An ELU-like curve without an exponential; C2 at 0 (the third derivative jumps).",
))


# --- softplus and its relatives -----------------------------------------------

register(ActivationSpec(
    name="softplus", family=FAMILY,
    description="Softplus: log(1 + e^(beta x)) / beta, a smooth ReLU.",
    forward=lambda x, o, beta: softplus(beta * x, o) / beta,
    # sigmoid(beta x) = 1 - e^(-beta y), exactly
    derivative=lambda x, y, o, beta: -o.expm1(-beta * y), grad_from="output",
    expression="log(1 + exp(beta*x))/beta",
    params=(Param("beta", 1.0, low=0.0, open_low=True, doc="sharpness: larger is closer to relu"),),
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    aliases=("smooth_relu",),
    paper="Dugas, Bengio, Belisle, Nadeau & Garcia, Incorporating Second-Order Functional "
          "Knowledge for Better Option Pricing", year=2001,
    notes="Exact everywhere: max(bx, 0) + log1p(e^-|bx|), over beta. torch.nn.functional.softplus "
          "switches to x where beta x > threshold (20 by default), a relative error of up to 1e-10 "
          "there; its peer here is called with threshold=40, where the switch is exact in float64. "
          "jax.nn.softplus has no beta.",
    peers={"torch": lambda t, x, beta: t.nn.functional.softplus(x, beta, threshold=40.0),
           "jax": lambda j, x, beta: j.nn.softplus(beta * x) / beta},
))


def _squareplus_s(x, o, b):
    # sqrt(x^2 + b), without overflow: |x| itself beyond BIG (relative error < 1e-36 * b)
    a = o.abs(x)
    ac = o.minimum(a, BIG)
    return o.maximum(o.sqrt(ac * ac + b), a)


def _squareplus(x, o, b):
    s = _squareplus_s(x, o, b)
    # x + s cancels for x < 0: there use (x + s) / 2 = b / (2 (s - x)); halves first, so that
    # nothing overflows near the largest float
    return o.where(x >= 0, 0.5 * nonneg(x, o) + 0.5 * s, (0.25 * b) / (0.5 * s - 0.5 * nonpos(x, o)))


def _squareplus_grad(x, y, o, b):
    # f' = (1 + x/s)/2 = y/s, and s = y + b/(4y), so f' = y^2 / (y^2 + b/4), exactly
    q = 0.25 * b
    lo = o.minimum(y, 1.0)
    hi = o.clip(y, 1.0, BIG)
    return o.where(y > 1.0, 1.0 / (1.0 + q / (hi * hi)), lo * lo / (lo * lo + q))


register(ActivationSpec(
    name="squareplus", family=FAMILY,
    description="Squareplus: (x + sqrt(x^2 + b)) / 2, a softplus made of square roots.",
    forward=_squareplus, derivative=_squareplus_grad, grad_from="output",
    expression="(x + sqrt(x**2 + b))/2",
    params=(Param("b", 4.0, low=0.0, open_low=True, doc="smoothness; b -> 0 is relu"),),
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    paper="Barron, Squareplus: A Softplus-Like Algebraic Rectifier", year=2021,
    notes="For x < 0 it is computed as b / (2 (sqrt(x^2 + b) - x)), which keeps full relative "
          "accuracy where jax.nn.squareplus's x + sqrt(x^2 + b) cancels.",
    peers={"jax": lambda j, x, b: j.nn.squareplus(x, b)},
))


def _sparse_plus(x, o):
    mid = o.clip(x, -1.0, 1.0) + 1.0
    return o.where(x <= -1.0, 0.0, o.where(x >= 1.0, x, 0.25 * mid * mid))


register(ActivationSpec(
    name="sparse_plus", family=FAMILY,
    description="Sparse plus: 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1.",
    forward=_sparse_plus,
    # f' = (x + 1)/2 = sqrt(y) on (-1, 1), 0 below, 1 above
    derivative=lambda x, y, o: o.clip(0.5 * x + 0.5, 0.0, 1.0),
    expression="Piecewise((0, x <= -1), (x, x >= 1), ((x + 1)**2/4, True))",
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    paper="Blondel, Martins & Niculae, Learning with Fenchel-Young Losses", year=2020,
    notes="The convex conjugate pair of sparse_sigmoid (its derivative); C1, with f'' jumping at "
          "+-1.",
    peers={"jax": lambda j, x: j.nn.sparse_plus(x)},
))


def _edge_or_outside(d, o):
    """For a log-like function of d, the distance into its domain, where d <= 0: -inf at d = 0
    and nan below, each carrying its slope for autograd too (-inf + sqrt(d): +inf; nan * d: nan).
    The inner wheres keep those slopes out of every other element's gradient."""
    at_edge = -inf + o.sqrt(o.where(d == 0, d, 0.0) + 0.0)  # + 0.0 turns -0 into +0
    outside = nan * o.where(d < 0, d, 0.0)
    return o.where(d == 0, at_edge, outside)


def _log1mexp(x, o):
    # log(1 - e^-x) for x >= 0 (Maechler 2012): log(-expm1(-x)) below log 2, log1p(-e^-x) above.
    # x < 0 is outside the domain (nan); x = 0 gives -inf. No branch sees an invalid argument.
    c = math.log(2.0)
    lo = x < c
    near = o.log(-o.expm1(-o.where(lo & (x > 0), x, c)))
    far = o.log1p(-o.exp(-o.where(lo, c, x)))
    return o.where(x > 0, o.where(lo, near, far), _edge_or_outside(x, o))


def _log1mexp_grad(x, y, o):
    # f' = 1 / expm1(x) = e^-y - 1, exactly; +inf at x = 0
    return expm1_safe(-y, o)


register(ActivationSpec(
    name="log1mexp", family=FAMILY,
    description="log(1 - e^-x), for x >= 0: the log-probability of the complement of e^-x.",
    forward=_log1mexp, derivative=_log1mexp_grad, grad_from="output",
    # x < 0 is outside the domain: the stand-in sqrt(x) is complex there, value and derivative
    # alike, so a real-valued reference reads nan for both (as ours gives); `latex` shows f.
    expression="Piecewise((log(1 - exp(-x)), x >= 0), (sqrt(x), True))",
    latex=r"f(x) = \log\left(1 - e^{-x}\right), \quad x \ge 0",
    properties=Properties(range=(-inf, 0.0), monotonic=True, smoothness=SMOOTH, zero_centred=False,
                          kinks=(Kink(0.0, inf),)),
    paper="Maechler, Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package", year=2012,
    notes="Defined for x >= 0 (f(0) = -inf, f(+inf) = 0), as jax.nn.log1mexp; x < 0 gives nan, "
          "quietly, like log of a negative number (TensorFlow Probability's log1mexp uses |x| "
          "instead). Properties are over the domain x > 0; the edge x = 0 is listed as a kink with "
          "f'(0) = +inf, the right-hand slope.",
    peers={"jax": lambda j, x: j.nn.log1mexp(x)},
))


# --- exponentials -------------------------------------------------------------

register(ActivationSpec(
    name="exponential", family=FAMILY,
    description="Exponential: e^x.",
    forward=lambda x, o: exp_safe(x, o),
    derivative=lambda x, y, o: y, grad_from="output",
    expression="exp(x)",
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    aliases=("exp",),
    paper="Keras 3 keras.activations.exponential",
    notes="Overflows to +inf, with no warning, above 709.78 (float64) or 88.72 (float32).",
    peers={"torch": lambda t, x: t.exp(x), "jax": lambda j, x: j.numpy.exp(x)},
))


def _gaussian(x, o):
    xc = o.clip(x, -BIG, BIG)
    return o.exp(-xc * xc)


register(ActivationSpec(
    name="gaussian", family=FAMILY,
    description="Gaussian: e^(-x^2).",
    forward=_gaussian,
    derivative=lambda x, y, o: -2.0 * o.clip(x, -BIG, BIG) * _gaussian(x, o),
    expression="exp(-x**2)",
    properties=Properties(range=(0.0, 1.0), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    aliases=("gauss",),
    paper="Broomhead & Lowe, Multivariable functional interpolation and adaptive networks "
          "(radial basis functions)", year=1988,
))


def _soft_exponential(x, o, alpha):
    if alpha > 0:
        # (e^(alpha x) - 1)/alpha + alpha; for alpha x > 1 as e^(alpha x - log alpha) + alpha - 1/alpha,
        # which cannot overflow before the true value does and cancels by at most e/(e - 1).
        u = alpha * x
        small = o.expm1(o.where(u > 1.0, 1.0, u)) / alpha + alpha
        big = exp_safe(o.where(u > 1.0, u, 1.0) - math.log(alpha), o) + (alpha - 1.0 / alpha)
        return o.where(u > 1.0, big, small)
    if alpha < 0:
        # log(1 + beta (x - beta)) / beta with beta = -alpha, defined for x > x0 = beta - 1/beta:
        # log1p well inside the domain, log(beta (x - x0)) near its edge (exact at alpha = -1: log x)
        beta = -alpha
        arg = beta * (x - beta)
        d = x - (beta - 1.0 / beta)
        inner = arg > -0.5
        near = o.log1p(o.where(inner, arg, 0.0))
        far = o.log(beta * o.where(inner | (d <= 0), 1.0 / beta, d))
        return o.where(d > 0, o.where(inner, near, far) / beta, _edge_or_outside(d, o))
    # alpha == 0: the identity. Written as x + alpha (1 + x^2/2) so that a traced alpha (the
    # torch issue) gets its true gradient 1 + x^2/2 at 0; the added term is exactly 0 here.
    xc = o.clip(x, -BIG, BIG)
    return x + alpha * (1.0 + 0.5 * xc * xc)


def _soft_exponential_grad(x, y, o, alpha):
    if alpha > 0:
        return exp_safe(alpha * x, o)
    if alpha < 0:
        beta = -alpha
        arg = beta * (x - beta)
        d = x - (beta - 1.0 / beta)
        inner = arg > -0.5
        g = o.where(inner, 1.0 / (1.0 + o.where(inner, arg, 0.0)),
                    1.0 / (beta * o.where(inner | (d <= 0), 1.0, d)))
        return o.where(d > 0, g, o.where(d == 0, inf, o.where(d < 0, nan, d)))
    return o.where(o.isnan(x), x, o.ones_like(x))


register(ActivationSpec(
    name="soft_exponential", family=FAMILY,
    description="Soft exponential: -log(1 - alpha (x + alpha))/alpha for alpha < 0, x for alpha = 0, "
                "(e^(alpha x) - 1)/alpha + alpha for alpha > 0.",
    forward=_soft_exponential, derivative=_soft_exponential_grad,
    expression="Piecewise((-log(1 - alpha*(x + alpha))/alpha, alpha < 0), (x, Eq(alpha, 0)), "
               "((exp(alpha*x) - 1)/alpha + alpha, True))",
    params=(Param("alpha", 0.0, low=-1.0, high=1.0, learnable=True,
                  doc="-1 is log(x), 0 the identity, 1 is e^x; for alpha < 0 the domain is "
                      "x > 1/alpha - alpha"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    paper="Godfrey & Gashler, A continuum among logarithmic, linear, and exponential functions, "
          "and its potential to improve generalization in neural networks", year=2015,
    notes="Interpolates log (alpha = -1), identity (0) and exp (1); smooth in alpha too, with "
          "df/dalpha = 1 + x^2/2 at alpha = 0. For alpha < 0 it is a logarithm, defined only for "
          "x > 1/alpha - alpha: it gives -inf at that edge and nan below it. alpha is kept in "
          "[-1, 1], the paper's continuum; the default (0) is defined everywhere.",
))
