"""Sigmoidal (S-shaped, bounded) activations and their hard and shrunk relatives."""

from ._common import (
    BIG,
    C0,
    C1,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    inf,
    pi,
    pick,
    register,
    step01,
)

FAMILY = "sigmoidal"

register(ActivationSpec(
    name="sigmoid", family=FAMILY,
    description="Logistic sigmoid: 1 / (1 + e^-x).",
    forward=lambda x, o: o.sigmoid(x),
    derivative=lambda x, y, o: y * (1.0 - y), grad_from="output",
    expression="1/(1 + exp(-x))",
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    aliases=("logistic", "expit"),
    paper="Rumelhart, Hinton & Williams, Learning representations by back-propagating errors", year=1986,
    notes="Its derivative peaks at 1/4, the vanishing-gradient signature; use it for a binary "
          "output layer rather than hidden layers.",
    peers={"torch": lambda t, x: t.sigmoid(x), "jax": lambda j, x: j.nn.sigmoid(x)},
))

register(ActivationSpec(
    name="tanh", family=FAMILY,
    description="Hyperbolic tangent: (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1.",
    forward=lambda x, o: o.tanh(x),
    derivative=lambda x, y, o: 1.0 - y * y, grad_from="output",
    expression="tanh(x)",
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    aliases=("hyperbolic_tangent",),
    paper="LeCun et al., Efficient BackProp", year=1998,
    peers={"torch": lambda t, x: t.tanh(x), "jax": lambda j, x: j.numpy.tanh(x)},
))

register(ActivationSpec(
    name="arctan", family=FAMILY,
    description="Inverse tangent: tan^-1(x).",
    forward=lambda x, o: o.atan(x),
    derivative=lambda x, y, o: 1.0 / (1.0 + o.square(o.clip(x, -BIG, BIG))),
    expression="atan(x)",
    properties=Properties(range=(-pi / 2, pi / 2), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    aliases=("atan", "inverse_tangent"),
    paper="(classical)",
))

register(ActivationSpec(
    name="hardsigmoid", family=FAMILY,
    description="Hard sigmoid: relu6(x + 3) / 6.",
    forward=lambda x, o: o.clip(x / 6.0 + 0.5, 0.0, 1.0),
    derivative=lambda x, y, o: pick((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0, x, o),
    expression="Min(Max(x/6 + 1/2, 0), 1)",
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(-3.0, 0.0), Kink(3.0, 0.0))),
    piecewise_linear=True, aliases=("hard_sigmoid",),
    paper="Howard et al., Searching for MobileNetV3", year=2019,
    notes="Slope 1/6 as in PyTorch, Keras 3 and jax.nn (older Keras used 0.2x + 0.5).",
    peers={"torch": lambda t, x: t.nn.functional.hardsigmoid(x), "jax": lambda j, x: j.nn.hard_sigmoid(x)},
))

register(ActivationSpec(
    name="hardtanh", family=FAMILY,
    description="Hard tanh: x clipped to [min_val, max_val].",
    forward=lambda x, o, min_val, max_val: o.clip(x, min_val, max_val),
    derivative=lambda x, y, o, min_val, max_val: step01((x > min_val) & (x < max_val), x, o),
    expression="Min(Max(x, min_val), max_val)",
    params=(Param("min_val", -1.0, doc="lower clip"), Param("max_val", 1.0, doc="upper clip")),
    check=lambda min_val, max_val: None if min_val < max_val
    else f"needs min_val < max_val, got {min_val} >= {max_val}",
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=C0, zero_centred=True,
                          kinks=(Kink(-1.0, 0.0), Kink(1.0, 0.0))),
    piecewise_linear=True, aliases=("hard_tanh",),
    paper="Collobert, Large Scale Machine Learning (PhD thesis)", year=2004,
    peers={"torch": lambda t, x, min_val, max_val: t.nn.functional.hardtanh(x, min_val, max_val),
           "jax": lambda j, x, min_val, max_val: j.nn.hard_tanh(x) if (min_val, max_val) == (-1.0, 1.0)
           else j.numpy.clip(x, min_val, max_val)},
))


def _softsign(x, o):
    # beyond BIG, x / (1 + |x|) rounds to sign(x) in float64 and float32
    return o.where(o.abs(x) > BIG, o.sign(x), x / (1.0 + o.abs(o.clip(x, -BIG, BIG))))


register(ActivationSpec(
    name="softsign", family=FAMILY,
    description="Softsign: x / (1 + |x|).",
    forward=_softsign,
    derivative=lambda x, y, o: 1.0 / o.square(1.0 + o.abs(o.clip(x, -BIG, BIG))),
    expression="x/(1 + Abs(x))",
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=C1, zero_centred=True),
    paper="Turian, Bergstra & Bengio, Quadratic features and deep architectures for chunking", year=2009,
    peers={"torch": lambda t, x: t.nn.functional.softsign(x), "jax": lambda j, x: j.nn.soft_sign(x)},
))

register(ActivationSpec(
    name="elliott", family=FAMILY,
    description="Elliott sigmoid: x / (2 (1 + |x|)) + 1/2, a cheap sigmoid with polynomial tails.",
    forward=lambda x, o: 0.5 * _softsign(x, o) + 0.5,
    derivative=lambda x, y, o: 0.5 / o.square(1.0 + o.abs(o.clip(x, -BIG, BIG))),
    expression="x/(2*(1 + Abs(x))) + 1/2",
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=C1, zero_centred=False),
    aliases=("elliot",),
    paper="Elliott, A better activation function for artificial neural networks", year=1993,
))

register(ActivationSpec(
    name="log_sigmoid", family=FAMILY,
    description="Log-sigmoid: log(1 / (1 + e^-x)) = -softplus(-x).",
    forward=lambda x, o: o.log_sigmoid(x),
    derivative=lambda x, y, o: o.sigmoid(-x),
    expression="-log(1 + exp(-x))",
    properties=Properties(range=(-inf, 0.0), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    aliases=("logsigmoid",),
    paper="(classical)",
    peers={"torch": lambda t, x: t.nn.functional.logsigmoid(x), "jax": lambda j, x: j.nn.log_sigmoid(x)},
))


def _tanhshrink(x, o):
    # x - tanh(x) cancels for small |x|: use its odd Taylor series there (|x| < 0.1).
    small = o.clip(x, -0.1, 0.1)
    s2 = small * small
    series = small * s2 * (1 / 3 + s2 * (-2 / 15 + s2 * (17 / 315 + s2 * (-62 / 2835 + s2 * (1382 / 155925)))))
    return o.where(o.abs(x) < 0.1, series, x - o.tanh(x))


register(ActivationSpec(
    name="tanhshrink", family=FAMILY,
    description="Tanh shrinkage: x - tanh(x).",
    forward=_tanhshrink,
    derivative=lambda x, y, o: o.square(o.tanh(x)),
    expression="x - tanh(x)",
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    aliases=("tanh_shrink",),
    paper="PyTorch torch.nn.Tanhshrink",
    peers={"torch": lambda t, x: t.nn.functional.tanhshrink(x)},
))

register(ActivationSpec(
    name="sparse_sigmoid", family=FAMILY,
    description="Sparse sigmoid: (x + 1) / 2 clipped to [0, 1]; the derivative of sparse_plus.",
    forward=lambda x, o: o.clip(0.5 * x + 0.5, 0.0, 1.0),
    derivative=lambda x, y, o: pick((x > -1.0) & (x < 1.0), 0.5, 0.0, x, o),
    expression="Min(Max((x + 1)/2, 0), 1)",
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(-1.0, 0.0), Kink(1.0, 0.0))),
    piecewise_linear=True,
    paper="Martins & Astudillo, From Softmax to Sparsemax", year=2016,
    notes="jax.nn.sparse_sigmoid splits the gradient at the kinks; ours is 0 there.",
    peers={"jax": lambda j, x: j.nn.sparse_sigmoid(x)},
))


def _isru(x, o, alpha):
    xc = o.clip(x, -BIG, BIG)
    return xc / o.sqrt(1.0 + alpha * xc * xc)


register(ActivationSpec(
    name="isru", family=FAMILY,
    description="Inverse square root unit: x / sqrt(1 + alpha x^2).",
    forward=_isru,
    derivative=lambda x, y, o, alpha: (lambda r: r * r * r)(
        1.0 / o.sqrt(1.0 + alpha * o.square(o.clip(x, -BIG, BIG)))),
    expression="x/sqrt(1 + alpha*x**2)",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="range is +-1/sqrt(alpha)"),),
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    paper="Carlile et al., Improving Deep Learning by Inverse Square Root Linear Units (ISRLUs)", year=2017,
))


def _sqnl(x, o):
    xc = o.clip(x, -2.0, 2.0)
    return xc - xc * o.abs(xc) / 4.0


register(ActivationSpec(
    name="sqnl", family=FAMILY,
    description="Square nonlinearity: x - x|x|/4 on [-2, 2], saturating at +-1.",
    forward=_sqnl,
    derivative=lambda x, y, o: o.maximum(1.0 - o.abs(x) / 2.0, 0.0),
    expression="Piecewise((1, x > 2), (-1, x < -2), (x - x*Abs(x)/4, True))",
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=C1, zero_centred=True),
    aliases=("square_nonlinearity",),
    paper="Wuraola & Patel, SQNL: A New Computationally Efficient Activation Function", year=2018,
))


def _soft_clipping(x, o, alpha):
    # (softplus(a x) - softplus(a (x - 1))) / a, arranged so that neither branch cancels
    a = alpha * x
    # each branch sees a clamped to its own side; where-clamps keep autograd exact at the tie
    hi = o.where(a < alpha, alpha, a)  # a >= alpha: alpha + log1p(e^-a) - log1p(e^(alpha - a))
    lo = o.where(a >= alpha, alpha, a)
    upper = alpha + o.log1p(o.exp(-hi)) - o.log1p(o.exp(alpha - hi))
    lower = o.softplus(lo) - o.softplus(lo - alpha)
    return o.where(a >= alpha, upper, lower) / alpha


register(ActivationSpec(
    name="soft_clipping", family=FAMILY,
    description="Soft clipping: (1/alpha) log((1 + e^(alpha x)) / (1 + e^(alpha (x - 1)))), "
                "a smooth clip to [0, 1].",
    forward=_soft_clipping,
    derivative=lambda x, y, o, alpha: o.sigmoid(alpha * x) - o.sigmoid(alpha * (x - 1.0)),
    expression="log((1 + exp(alpha*x))/(1 + exp(alpha*(x - 1))))/alpha",
    params=(Param("alpha", 1.0, low=0.0, open_low=True, doc="sharpness: larger is closer to a hard clip"),),
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    paper="Klimek & Perelstein, Neural network-based approach to phase space integration", year=2020,
))

register(ActivationSpec(
    name="bipolar_sigmoid", family=FAMILY,
    description="Bipolar sigmoid: 2 sigmoid(x) - 1 = tanh(x / 2), a zero-centred logistic.",
    forward=lambda x, o: o.tanh(0.5 * x),
    derivative=lambda x, y, o: 0.5 * (1.0 - y * y), grad_from="output",
    expression="2/(1 + exp(-x)) - 1",
    properties=Properties(range=(-1.0, 1.0), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    aliases=("bipolar_logistic",),
    paper="Fausett, Fundamentals of Neural Networks", year=1994,
))
