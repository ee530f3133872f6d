"""Smooth and self-gated activations: x times a gate, x * g(x).

Most entries here are ``x * g(x)`` for a gate ``g`` that tends to 0 as x -> -inf and to a
constant as x -> +inf. They are written as ``gated(x, g)``, which reads inf * 0 as 0, so the
limits at +-inf are exact and no inf * 0 is ever evaluated. Each gate is computed in a form
without overflow or cancellation; the comment by each entry says which.

Ranges quoted below (minima and where they are attained) were computed with mpmath while
writing, at the default parameters.

Three entries (tanh_exp, gish, colu) contain e^(e^x). Their sympy ``expression`` caps the inner
exponent, e^Min(x, 40): for x > 40 that changes f by a relative amount below e^(-e^40), far
under any working precision, but it lets mpmath evaluate the reference at x = 1e120 (where
e^(e^x) has no representable exponent and mpmath fails or runs without end). Their ``latex``
shows the uncapped formula.
"""

import math

from ._common import (
    BIG,
    C0,
    C1,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    gated,
    gelu_erf,
    gelu_erf_grad,
    gelu_tanh,
    gelu_tanh_grad,
    inf,
    pick,
    register,
    sech2,
)

FAMILY = "smooth"

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _clip(x, o):
    """x clipped to +-BIG: for a factor x that multiplies a term which is exactly 0 at +-inf."""
    return o.clip(x, -BIG, BIG)


def _scale(c, y, o):
    """c * y for a scalar c; where the product leaves the dtype's range it is +-inf, without the
    overflow warning that the plain product would raise."""
    if abs(c) <= 1.0:
        return c * y
    fi = o.finfo(y.dtype)
    lim = float(fi.max) / abs(c) * (1.0 - 4.0 * float(fi.eps))  # lim * |c| < max after rounding
    big = pick(y > 0, math.copysign(inf, c), -math.copysign(inf, c), y, o)
    return o.where(o.abs(y) > lim, big, o.clip(y, -lim, lim) * c)


# --- SiLU / swish ------------------------------------------------------------------------


def _swish(x, o, beta):
    return gated(x, o.sigmoid(beta * _clip(x, o)), o)


def _swish_grad(x, y, o, beta):
    # d/dx x s(bx) = s + (bx) s (1 - s), with 1 - s = s(-bx) (no cancellation for large bx).
    z = beta * _clip(x, o)
    s = o.sigmoid(z)
    return s + z * (s * o.sigmoid(-z))


register(ActivationSpec(
    name="silu", family=FAMILY,
    description="Sigmoid-weighted linear unit / swish: x * sigmoid(beta x).",
    forward=_swish, derivative=_swish_grad,
    expression="x*sigmoid(beta*x)",
    params=(Param("beta", 1.0, learnable=True,
                  doc="gate sharpness; 1 gives SiLU, learned in swish-beta; 0 gives x/2, "
                      "+inf tends to ReLU"),),
    properties=Properties(range=(-0.2784645427610738, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("swish", "swish1", "swish_beta"),
    paper="Ramachandran, Zoph & Le, Searching for Activation Functions (2017: swish, learnable "
          "beta); Elfwing, Uchibe & Doya, Sigmoid-Weighted Linear Units for Neural Network Function "
          "Approximation in Reinforcement Learning (2018); Hendrycks & Gimpel, Gaussian Error Linear "
          "Units (2016: SiLU)", year=2017,
    notes="Minimum -0.278465 at x = -1.278465 (beta = 1). f(-inf) = 0 exactly (torch.nn.functional.silu "
          "and jax.nn.silu return nan there).",
    peers={"torch": lambda t, x, beta: t.nn.functional.silu(x) if beta == 1.0 else x * t.sigmoid(beta * x),
           "jax": lambda j, x, beta: j.nn.silu(x) if beta == 1.0 else x * j.nn.sigmoid(beta * x)},
))

register(ActivationSpec(
    name="e_swish", family=FAMILY,
    description="E-swish: beta * x * sigmoid(x).",
    forward=lambda x, o, beta: _scale(beta, _swish(x, o, 1.0), o),
    derivative=lambda x, y, o, beta: beta * _swish_grad(x, y, o, 1.0),
    expression="beta*x*sigmoid(x)",
    params=(Param("beta", 1.375, low=0.0, open_low=True,
                  doc="output scale; the paper recommends 1 <= beta <= 2"),),
    properties=Properties(range=(-0.38288874629647647, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("eswish",),
    paper="Alcaide, E-swish: Adjusting Activations to Different Network Depths", year=2018,
    notes="Minimum -0.382889 at x = -1.278465 (beta = 1.375).",
))

register(ActivationSpec(
    name="quick_gelu", family=FAMILY,
    description="Quick GELU: x * sigmoid(1.702 x), the sigmoid approximation of GELU.",
    forward=lambda x, o: _swish(x, o, 1.702),
    derivative=lambda x, y, o: _swish_grad(x, y, o, 1.702),
    expression="x*sigmoid(1702*x/1000)",
    properties=Properties(range=(-0.16361018963635358, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("quickgelu", "gelu_quick", "gelu_sigmoid"),
    paper="Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs)", year=2016,
    notes="The approximation x sigmoid(1.702 x) of GELU given in the GELU paper; used by OpenAI CLIP "
          "(Radford et al. 2021), where it is called QuickGELU. Neither torch.nn.functional nor "
          "jax.nn has it.",
))

# --- GELU --------------------------------------------------------------------------------

register(ActivationSpec(
    name="gelu", family=FAMILY,
    description="Gaussian error linear unit (exact): x * Phi(x) = x/2 * erfc(-x / sqrt(2)).",
    forward=lambda x, o: gelu_erf(x, o),
    derivative=lambda x, y, o: gelu_erf_grad(x, o),
    expression="x*erfc(-x/sqrt(2))/2",
    properties=Properties(range=(-0.16997120747990366, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("gelu_exact", "gelu_erf"),
    paper="Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs)", year=2016,
    notes="The exact, erf form, as torch.nn.functional.gelu(x) (approximate='none'). jax.nn.gelu "
          "defaults to the tanh approximation (approximate=True): the exact form there is "
          "jax.nn.gelu(x, approximate=False), and jax's default is our 'gelu_tanh'. Written with "
          "erfc(-x/sqrt2) rather than 1 + erf(x/sqrt2) so that it keeps full relative accuracy for "
          "x < 0. Minimum -0.169971 at x = -0.751792.",
    peers={"torch": lambda t, x: t.nn.functional.gelu(x, approximate="none"),
           "jax": lambda j, x: j.nn.gelu(x, approximate=False)},
))

register(ActivationSpec(
    name="gelu_tanh", family=FAMILY,
    description="GELU, tanh approximation: x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).",
    forward=lambda x, o: gelu_tanh(x, o),
    derivative=lambda x, y, o: gelu_tanh_grad(x, o),
    expression="x*(1 + tanh(sqrt(2/pi)*(x + 44715*x**3/1000000)))/2",
    properties=Properties(range=(-0.17004075057125405, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("gelu_new", "approximate_gelu", "gelu_approximate", "gelu_pytorch_tanh"),
    paper="Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs)", year=2016,
    notes="As torch.nn.functional.gelu(x, approximate='tanh') and jax.nn.gelu(x) (jax's default, "
          "approximate=True); 'gelu_new' in Hugging Face transformers (GPT-2, BERT). Computed as "
          "x * sigmoid(2u), which equals x/2 (1 + tanh u) without its cancellation for x < 0.",
    peers={"torch": lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
           "jax": lambda j, x: j.nn.gelu(x, approximate=True)},
))

# --- Mish and its relatives ---------------------------------------------------------------


def _mish_gate(x, o):
    # tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2); for x >= 20 it rounds to 1.
    e = o.exp(o.minimum(x, 20.0))
    n = e * (e + 2.0)
    return n / (n + 2.0)


def _mish_grad(x, y, o):
    # mish' = g + x sigmoid(x) sech^2(softplus(x)), g = tanh(softplus(x)).
    # x <= 0, e = e^x:  g = n/(n+2), sech^2 = 4 (n+1)/(n+2)^2, n = e(e+2).
    # x > 0,  t = e^-x: g = (1+2t)/d, sech^2 = (2t(1+t)/d)^2, d = 1 + 2t + 2t^2.
    e = o.exp(o.minimum(x, 0.0))
    n = e * (e + 2.0)
    t = o.exp(-o.maximum(x, 0.0))
    d = 1.0 + 2.0 * t * (1.0 + t)
    pos = x > 0
    g = o.where(pos, (1.0 + 2.0 * t) / d, n / (n + 2.0))
    s2 = o.where(pos, o.square(2.0 * t * (1.0 + t) / d), 4.0 * (n + 1.0) / o.square(n + 2.0))
    return g + gated(x, o.sigmoid(x) * s2, o)


register(ActivationSpec(
    name="mish", family=FAMILY,
    description="Mish: x * tanh(softplus(x)).",
    forward=lambda x, o: gated(x, _mish_gate(x, o), o),
    derivative=_mish_grad,
    expression="x*tanh(softplus(x))",
    properties=Properties(range=(-0.30884341301725041, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Misra, Mish: A Self Regularized Non-Monotonic Activation Function", year=2019,
    notes="tanh(softplus(x)) is computed as n/(n+2), n = e^x (e^x + 2): no log, no overflow. "
          "Minimum -0.308843 at x = -1.192431. f(-inf) = 0 exactly (torch.nn.functional.mish "
          "returns nan there).",
    peers={"torch": lambda t, x: t.nn.functional.mish(x), "jax": lambda j, x: j.nn.mish(x)},
))


def _smish_parts(x, o, beta):
    # tanh(log(1 + s)) = m / (m + 2) with m = s (s + 2), s = sigmoid(beta x).
    z = beta * _clip(x, o)
    s = o.sigmoid(z)
    m = s * (s + 2.0)
    return z, s, m


def _smish(x, o, alpha, beta):
    _, _, m = _smish_parts(x, o, beta)
    return _scale(alpha, gated(x, m / (m + 2.0), o), o)


def _smish_grad(x, y, o, alpha, beta):
    # d/dx [x g(s(bx))] = g + x * dg/ds * b s (1 - s), dg/ds = 4 (s + 1) / (m + 2)^2.
    z, s, m = _smish_parts(x, o, beta)
    return alpha * (m / (m + 2.0) + z * (s * o.sigmoid(-z)) * (4.0 * (s + 1.0) / o.square(m + 2.0)))


register(ActivationSpec(
    name="smish", family=FAMILY,
    description="Smish: alpha * x * tanh(log(1 + sigmoid(beta x))).",
    forward=_smish, derivative=_smish_grad,
    expression="alpha*x*tanh(log(1 + sigmoid(beta*x)))",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="output scale (the paper's best: 1)"),
            Param("beta", 1.0, low=0.0, open_low=True, doc="input scale (the paper's best: 1)")),
    properties=Properties(range=(-0.2499936636601295, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Wang, Ren & Wang, Smish: A Novel Activation Function for Deep Learning Methods", year=2022,
    notes="The gate tanh(log(1 + s)) is computed as m/(m+2), m = s(s+2), s = sigmoid(beta x). "
          "It rises to tanh(log 2) = 0.6, so f(x) ~ 0.6 alpha x for large x.",
))


def _logish(x, o, alpha, beta):
    return _scale(alpha, gated(x, o.log1p(o.sigmoid(beta * _clip(x, o))), o), o)


def _logish_grad(x, y, o, alpha, beta):
    # d/dx x log(1 + s(bx)) = log(1 + s) + (bx) s (1 - s) / (1 + s).
    z = beta * _clip(x, o)
    s = o.sigmoid(z)
    return alpha * (o.log1p(s) + z * (s * o.sigmoid(-z)) / (1.0 + s))


register(ActivationSpec(
    name="logish", family=FAMILY,
    description="Logish: alpha * x * log(1 + sigmoid(beta x)).",
    forward=_logish, derivative=_logish_grad,
    expression="alpha*x*log(1 + sigmoid(beta*x))",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="output scale"),
            Param("beta", 1.0, low=0.0, open_low=True,
                  doc="input scale (the paper's best variant uses beta = 10)")),
    properties=Properties(range=(-0.25276881678944035, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Zhu, Zeng, Liu & Zhang, Logish: A new nonlinear nonmonotonic activation function for "
          "convolutional neural network", year=2021,
    notes="The gate log(1 + sigmoid(beta x)) rises to log 2, so f(x) ~ 0.693 alpha x for large x.",
))


def _tanh_exp(x, o):
    # tanh(e^x) is exactly 1 in float64 for x > 3; capping x at 6 keeps e^x finite.
    return gated(x, o.tanh(o.exp(o.minimum(x, 6.0))), o)


def _tanh_exp_grad(x, y, o):
    # d/dx x tanh(e^x) = tanh(e^x) + x e^x sech^2(e^x); the second term is exactly 0 in float64
    # beyond x = 6 (sech^2(e^6) = 4 e^-807).
    xc = o.clip(x, -BIG, 6.0)
    ex = o.exp(xc)
    return o.tanh(ex) + xc * ex * sech2(ex, o)


register(ActivationSpec(
    name="tanh_exp", family=FAMILY,
    description="TanhExp / TeLU: x * tanh(e^x).",
    forward=_tanh_exp, derivative=_tanh_exp_grad,
    expression="x*tanh(exp(Min(x, 40)))", latex=r"f(x) = x \tanh\left(e^{x}\right)",
    properties=Properties(range=(-0.35328577784821127, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("tanhexp", "telu"),
    paper="Liu & Di, TanhExp: A Smooth Activation Function with High Convergence Speed for "
          "Lightweight Neural Networks", year=2020,
    notes="TeLU (Fernandez & Mali, Stable and Robust Deep Learning By Hyperbolic Tangent "
          "Exponential Linear Unit, 2024) is the same function, x tanh(e^x): it is registered as "
          "the alias 'telu'. Minimum -0.353286 at x = -1.078860.",
))


def _softplus(x, o):
    # max(x, 0) + log1p(e^-|x|); unlike numpy's logaddexp(0, x) it raises no warning for nan.
    return o.maximum(x, 0.0) + o.log1p(o.exp(-o.abs(x)))


def _serf(x, o):
    return gated(x, o.erf(_softplus(x, o)), o)


def _serf_grad(x, y, o):
    # d/dx x erf(sp(x)) = erf(sp) + x (2/sqrt(pi)) e^(-sp^2) sigmoid(x); x clipped so sp^2 is finite.
    xc = _clip(x, o)
    sp = _softplus(xc, o)
    return o.erf(_softplus(x, o)) + xc * (TWO_OVER_SQRT_PI * o.exp(-o.square(sp)) * o.sigmoid(xc))


register(ActivationSpec(
    name="serf", family=FAMILY,
    description="Serf: x * erf(softplus(x)) = x * erf(log(1 + e^x)).",
    forward=_serf, derivative=_serf_grad,
    expression="x*erf(softplus(x))",
    properties=Properties(range=(-0.34843745875960642, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Nag & Bhattacharyya, SERF: Towards better training of deep neural networks using "
          "log-Softplus ERror activation Function", year=2021,
))


def _gish_gate(x, o):
    # log(2 - e^(-e^x)) = log1p(1 - e^(-e^x)) = log1p(-expm1(-e^x)): accurate where e^x is tiny;
    # e^x capped at e^10 (the gate is log 2 to double precision long before).
    return o.log1p(-o.expm1(-o.exp(o.minimum(x, 10.0))))


def _gish_grad(x, y, o):
    # d/dx x log(2 - e^-u) = log(2 - e^-u) + x u e^-u / (2 - e^-u), u = e^x.
    xc = o.clip(x, -BIG, 10.0)
    u = o.exp(xc)
    eu = o.exp(-u)
    return _gish_gate(x, o) + xc * u * eu / (1.0 - o.expm1(-u))


register(ActivationSpec(
    name="gish", family=FAMILY,
    description="Gish: x * log(2 - e^(-e^x)).",
    forward=lambda x, o: gated(x, _gish_gate(x, o), o),
    derivative=_gish_grad,
    expression="x*log(2 - exp(-exp(Min(x, 40))))", latex=r"f(x) = x \log\left(2 - e^{-e^{x}}\right)",
    properties=Properties(range=(-0.27815946089638691, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Kaytan, Aydilek & Yeroglu, Gish: a novel activation function for image classification",
    year=2023,
    notes="The gate rises from 0 to log 2, so f(x) ~ 0.693 x for large x.",
))


def _phish_grad(x, y, o):
    # d/dx x tanh(g(x)) = tanh(g) + x sech^2(g) g'(x), g = gelu.
    g = gelu_erf(x, o)
    return o.tanh(g) + _clip(x, o) * sech2(g, o) * gelu_erf_grad(x, o)


register(ActivationSpec(
    name="phish", family=FAMILY,
    description="Phish: x * tanh(gelu(x)), with the exact GELU.",
    forward=lambda x, o: gated(x, o.tanh(gelu_erf(x, o)), o),
    derivative=_phish_grad,
    expression="x*tanh(x*erfc(-x/sqrt(2))/2)",
    properties=Properties(range=(0.0, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Naveen, Phish: A Novel Hyper-Optimizable Activation Function", year=2022,
    notes="Non-negative: for x < 0 both x and tanh(gelu(x)) are negative. f(0) = 0 = f(-inf), "
          "with a local maximum 0.164659 at x = -1.195431 in between.",
))


def _lisht_grad(x, y, o):
    return o.tanh(x) + _clip(x, o) * sech2(x, o)


register(ActivationSpec(
    name="lisht", family=FAMILY,
    description="LiSHT (linearly scaled hyperbolic tangent): x * tanh(x).",
    forward=lambda x, o: x * o.tanh(x),
    derivative=_lisht_grad,
    expression="x*tanh(x)",
    properties=Properties(range=(0.0, inf), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    paper="Roy, Manna, Dash, Dubey & Chaudhuri, LiSHT: Non-Parametric Linearly Scaled Hyperbolic "
          "Tangent Activation Function for Neural Networks", year=2019,
    notes="Even, non-negative, minimum 0 at x = 0; f(+-inf) = +inf.",
))

# --- CoLU --------------------------------------------------------------------------------

_COLU_LO = -800.0  # below it e^(x + e^x) is 0 in float64, and f(x) ~ -e^x is 0 too


def _split(x, o, lo, hi):
    """(x clipped to [0, hi], x clipped to [lo, 0]), each the identity at x = 0.

    Built with ``where`` rather than ``clip`` at 0: jax differentiates min/max at a tie as 1/2, which
    would halve autodiff's f'(0) in whichever branch ``where`` selects there.
    """
    xp = o.minimum(o.where(x > 0, x, 0.0), hi)
    xn = o.maximum(o.where(x > 0, 0.0, x), lo)
    return xp, xn


def _colu_parts(x, o):
    xp, xn = _split(x, o, _COLU_LO, 50.0)  # for x >= 50, e^-(x + e^x) is exactly 0
    u = o.exp(-(xp + o.exp(xp)))  # <= 1/e
    v = o.exp(xn + o.exp(xn))  # = 1/u for x <= 0, in (0, e]
    return xp, u, xn, v


def _colu(x, o):
    # x > 0:  x / (1 - x u), u = e^-(x + e^x) <= 1/e, so x u < 1/e^2.
    # x <= 0: multiply through by v = e^(x + e^x): x v / (v - x), no overflow, v - x > 0.
    xp, u, xn, v = _colu_parts(x, o)
    return o.where(x > 0, x / (1.0 - xp * u), xn * v / (v - xn))


def _colu_grad(x, y, o):
    # f' = (1 - x^2 u (1 + e^x)) / (1 - x u)^2 = v (v - x^2 (1 + e^x)) / (v - x)^2.
    xp, u, xn, v = _colu_parts(x, o)
    pos = (1.0 - xp * xp * u * (1.0 + o.exp(xp))) / o.square(1.0 - xp * u)
    neg = v * (v - xn * xn * (1.0 + o.exp(xn))) / o.square(v - xn)
    return o.where(x > 0, pos, neg)


register(ActivationSpec(
    name="colu", family=FAMILY,
    description="CoLU (collapsing linear unit): x / (1 - x e^-(x + e^x)).",
    forward=_colu, derivative=_colu_grad,
    expression="x/(1 - x*exp(-(x + exp(Min(x, 40)))))",
    latex=r"f(x) = \frac{x}{1 - x e^{-\left(x + e^{x}\right)}}",
    properties=Properties(range=(-0.37715856839612915, inf), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    paper="Vagerwal, Deeper Learning with CoLU Activation", year=2021,
    notes="Defined on all of R: the denominator 1 - x e^-(x + e^x) is > 1 for x < 0 and at least "
          "1 - e^-2 > 0 for x >= 0 (x e^-x <= 1/e and e^-e^x < 1), so there is no pole. For x < 0 "
          "it is evaluated as x v / (v - x), v = e^(x + e^x). f(x) ~ -e^x as x -> -inf, so "
          "f(-inf) = 0.",
))

# --- ELiSH family ------------------------------------------------------------------------


def _elish(x, o):
    lin = o.where(x >= 0, x, o.expm1(o.minimum(x, 0.0)))
    return lin * o.sigmoid(x)


def _elish_grad(x, y, o):
    # x >= 0: s (1 + x s(-x));  x < 0: s (e^x + (e^x - 1) s(-x)),  s = sigmoid(x).
    xp = o.clip(x, 0.0, BIG)
    xn = o.minimum(x, 0.0)
    pos = 1.0 + xp * o.sigmoid(-xp)
    neg = o.exp(xn) + o.expm1(xn) * o.sigmoid(-xn)
    return o.sigmoid(x) * o.where(x >= 0, pos, neg)


register(ActivationSpec(
    name="elish", family=FAMILY,
    description="ELiSH: x * sigmoid(x) for x >= 0, (e^x - 1) * sigmoid(x) for x < 0.",
    forward=_elish, derivative=_elish_grad,
    expression="Piecewise((x*sigmoid(x), x >= 0), ((exp(x) - 1)*sigmoid(x), True))",
    properties=Properties(range=(-0.1715728752538099, inf), monotonic=False, smoothness=C1,
                          zero_centred=False),
    paper="Basirat & Roth, The Quest for the Golden Activation Function", year=2018,
    notes="C1 but not C2: f'' jumps from 1 (left) to 1/2 (right) at 0. Minimum 3 - 2 sqrt(2) = -0.171573 at x = -asinh(1) = -0.881374.",
))


def _hard_elish(x, o):
    lin = o.where(x >= 0, x, o.expm1(o.minimum(x, 0.0)))
    return lin * o.clip(0.5 * x + 0.5, 0.0, 1.0)


def _hard_elish_grad(x, y, o):
    # x >= 1: 1;  0 <= x < 1: x + 1/2;  -1 <= x < 0: (e^x (x + 1) + e^x - 1) / 2;  x < -1: 0.
    xn = o.clip(x, -1.0, 0.0)
    neg = 0.5 * (o.exp(xn) * (xn + 1.0) + o.expm1(xn))
    return o.where(x < -1.0, 0.0, o.where(x >= 1.0, 1.0, o.where(x >= 0, x + 0.5, neg)))


register(ActivationSpec(
    name="hard_elish", family=FAMILY,
    description="HardELiSH: x * hard_sigmoid(x) for x >= 0, (e^x - 1) * hard_sigmoid(x) for x < 0, "
                "hard_sigmoid(x) = clip((x + 1)/2, 0, 1).",
    forward=_hard_elish, derivative=_hard_elish_grad,
    expression="Piecewise((x, x >= 1), (x*(x + 1)/2, x >= 0), ((exp(x) - 1)*(x + 1)/2, x >= -1), "
               "(0, True))",
    properties=Properties(range=(-0.099673151528742618, inf), monotonic=False, smoothness=C0,
                          zero_centred=False,
                          kinks=(Kink(-1.0, 0.5 * (math.exp(-1.0) - 1.0)), Kink(1.0, 1.0))),
    aliases=("hardelish",),
    paper="Basirat & Roth, The Quest for the Golden Activation Function", year=2018,
    notes="Kinks at x = -1 and x = 1, where the derivative takes its right-hand value "
          "((1/e - 1)/2 and 1); C1 at 0. The hard sigmoid here is (x + 1)/2 clipped to [0, 1], "
          "as in the paper (not PyTorch's relu6(x + 3)/6).",
))

# --- hard (piecewise-polynomial) self-gated ----------------------------------------------


def _hardswish_grad(x, y, o):
    # PyTorch's hardswish_backward: 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3.
    return o.where(x <= -3.0, 0.0, o.where(x >= 3.0, 1.0, x / 3.0 + 0.5))


register(ActivationSpec(
    name="hardswish", family=FAMILY,
    description="Hard swish: x * relu6(x + 3) / 6.",
    forward=lambda x, o: gated(x, o.clip(x + 3.0, 0.0, 6.0) / 6.0, o),
    derivative=_hardswish_grad,
    expression="Piecewise((0, x <= -3), (x*(x + 3)/6, x < 3), (x, True))",
    properties=Properties(range=(-0.375, inf), monotonic=False, smoothness=C0, zero_centred=False,
                          kinks=(Kink(-3.0, 0.0), Kink(3.0, 1.0))),
    aliases=("hard_swish", "hard_silu", "hardsilu"),
    paper="Howard et al., Searching for MobileNetV3", year=2019,
    notes="f'(-3) = 0 and f'(3) = 1, as PyTorch's hardswish backward (the outer pieces' slopes; "
          "the inner piece has slopes -1/2 and 3/2 there). Minimum -3/8 at x = -3/2.",
    peers={"torch": lambda t, x: t.nn.functional.hardswish(x), "jax": lambda j, x: j.nn.hard_silu(x)},
))


def _hard_mish_grad(x, y, o):
    # 0 for x < -2, x + 1 for -2 <= x < 0, 1 for x >= 0 (f' is continuous at 0).
    return o.where(x < -2.0, 0.0, o.where(x >= 0, 1.0, x + 1.0))


register(ActivationSpec(
    name="hard_mish", family=FAMILY,
    description="Hard Mish: x/2 * min(2, max(0, x + 2)).",
    forward=lambda x, o: gated(x, 0.5 * o.clip(x + 2.0, 0.0, 2.0), o),
    derivative=_hard_mish_grad,
    expression="Piecewise((0, x < -2), (x*(x + 2)/2, x < 0), (x, True))",
    properties=Properties(range=(-0.5, inf), monotonic=False, smoothness=C0, zero_centred=False,
                          kinks=(Kink(-2.0, -1.0),)),
    aliases=("hardmish", "h_mish"),
    paper="Misra, H-Mish (github.com/digantamisra98/H-Mish); as in timm's hard_mish", year=2020,
    notes="Kink at x = -2 only, where f' takes its right-hand value -1 (as torch autograd of "
          "0.5 x clamp(x + 2, 0, 2)); at 0 f is C1 (both slopes 1). Minimum -1/2 at x = -1.",
))

# --- bounded -----------------------------------------------------------------------------

_SRS_EXP = 800.0  # e^-800 is 0 in float32 and float64: beyond |x|/beta = 800 terms vanish


def _srs(x, o, alpha, beta):
    # x > 0:  x / (x/alpha + e^(-x/beta)), x clipped to BIG (f(+inf) = alpha).
    # x <= 0: h / (h/alpha + 1), h = x e^(x/beta) (multiplied through by e^(x/beta)).
    xp, xn = _split(x, o, -_SRS_EXP * beta, BIG)
    h = xn * o.exp(xn / beta)
    return o.where(x > 0, xp / (xp / alpha + o.exp(-xp / beta)), h / (h / alpha + 1.0))


def _srs_grad(x, y, o, alpha, beta):
    # f' = e^(-x/beta) (1 + x/beta) / (x/alpha + e^(-x/beta))^2
    #    = e^(x/beta) (1 + x/beta) / (h/alpha + 1)^2  for x < 0.
    xp, xn = _split(x, o, -_SRS_EXP * beta, _SRS_EXP * beta)
    ep = o.exp(-xp / beta)
    en = o.exp(xn / beta)
    h = xn * en
    pos = ep * (1.0 + xp / beta) / o.square(xp / alpha + ep)
    neg = en * (1.0 + xn / beta) / o.square(h / alpha + 1.0)
    return o.where(x > 0, pos, neg)


def _srs_check(alpha, beta):
    if beta < math.e * alpha:
        return None
    return (f"needs beta < e * alpha (else x/alpha + e^(-x/beta) has a zero and f a pole), "
            f"got alpha={alpha}, beta={beta}")


register(ActivationSpec(
    name="soft_root_sign", family=FAMILY,
    description="Soft root sign: x / (x/alpha + e^(-x/beta)).",
    forward=_srs, derivative=_srs_grad,
    expression="x/(x/alpha + exp(-x/beta))",
    params=(Param("alpha", 2.0, low=0.0, open_low=True, learnable=True, doc="upper limit: f(+inf) = alpha"),
            Param("beta", 3.0, low=0.0, open_low=True, learnable=True,
                  doc="decay scale; the minimum is at x = -beta")),
    check=_srs_check,
    properties=Properties(range=(-2.4624844021473891, 2.0), monotonic=False, smoothness=SMOOTH,
                          zero_centred=False),
    aliases=("srs", "softrootsign"),
    paper="Zhou, Li, Huo & Kung, Soft-Root-Sign Activation Function", year=2020,
    notes="Bounded: range [alpha beta / (beta - alpha e), alpha), the minimum at x = -beta "
          "(-2.462484 at the defaults). The denominator x/alpha + e^(-x/beta) has minimum "
          "(beta/alpha)(1 - log(beta/alpha)), positive iff beta < e alpha: that is enforced. "
          "f(x) ~ x e^(x/beta) -> 0 as x -> -inf.",
))

# --- scaled tanh -------------------------------------------------------------------------

_LECUN_A = 1.7159

register(ActivationSpec(
    name="lecun_tanh", family=FAMILY,
    description="LeCun's scaled tanh: 1.7159 * tanh(2x/3).",
    forward=lambda x, o: _LECUN_A * o.tanh(x * (2.0 / 3.0)),
    derivative=lambda x, y, o: (2.0 / 3.0) * (_LECUN_A - y * y / _LECUN_A), grad_from="output",
    expression="17159*tanh(2*x/3)/10000",
    properties=Properties(range=(-_LECUN_A, _LECUN_A), monotonic=True, smoothness=SMOOTH,
                          zero_centred=True),
    paper="LeCun, Bottou, Orr & Mueller, Efficient BackProp", year=1998,
    notes="Scaled so that f(+-1) = +-1 (approximately) and the effective gain near 0 is about 1 "
          "for unit-variance inputs.",
))

