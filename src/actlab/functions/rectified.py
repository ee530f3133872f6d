"""Rectified (piecewise-linear and ReLU-like) activations.

Gradient convention at a kink follows PyTorch: relu'(0) = 0, and a clamp's
derivative is 0 at its boundaries.
"""

from ._common import (
    C0,
    C1,
    DISCONTINUOUS,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    inf,
    pick,
    register,
    step01,
)

FAMILY = "rectified"


register(ActivationSpec(
    name="relu", family=FAMILY,
    description="Rectified linear unit: max(x, 0).",
    forward=lambda x, o: o.maximum(x, 0.0),
    derivative=lambda x, y, o: step01(y > 0, y, o), grad_from="output",
    expression="Max(x, 0)",
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.0),)),
    piecewise_linear=True,
    paper="Nair & Hinton, Rectified Linear Units Improve Restricted Boltzmann Machines", year=2010,
    peers={"torch": lambda t, x: t.nn.functional.relu(x), "jax": lambda j, x: j.nn.relu(x)},
))


def _leaky(x, o, negative_slope):
    return o.where(x > 0, x, x * negative_slope)


def _leaky_grad(x, y, o, negative_slope):
    return pick(x > 0, 1.0, negative_slope, x, o)


register(ActivationSpec(
    name="leaky_relu", family=FAMILY,
    description="Leaky ReLU: x for x > 0, negative_slope * x otherwise.",
    forward=_leaky, derivative=_leaky_grad,
    expression="Piecewise((x, x > 0), (negative_slope*x, True))",
    params=(Param("negative_slope", 0.01, doc="slope for x <= 0 (any real)"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.01),)),
    piecewise_linear=True, aliases=("lrelu", "leakyrelu"),
    paper="Maas et al., Rectifier Nonlinearities Improve Neural Network Acoustic Models", year=2013,
    notes="f'(0) = negative_slope, as in PyTorch.",
    peers={"torch": lambda t, x, negative_slope: t.nn.functional.leaky_relu(x, negative_slope),
           "jax": lambda j, x, negative_slope: j.nn.leaky_relu(x, negative_slope)},
))

register(ActivationSpec(
    name="prelu", family=FAMILY,
    description="Parametric ReLU: a leaky ReLU whose slope a is learned.",
    forward=lambda x, o, a: _leaky(x, o, a), derivative=lambda x, y, o, a: _leaky_grad(x, y, o, a),
    expression="Piecewise((x, x > 0), (a*x, True))",
    params=(Param("a", 0.25, learnable=True, doc="learned slope for x <= 0"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.25),)),
    piecewise_linear=True,
    paper="He et al., Delving Deep into Rectifiers", year=2015,
    peers={"torch": lambda t, x, a: t.nn.functional.prelu(x, t.tensor([a], dtype=x.dtype))},
))

register(ActivationSpec(
    name="rrelu", family=FAMILY,
    description="Randomized leaky ReLU, evaluation form: slope (lower + upper) / 2 for x <= 0.",
    forward=lambda x, o, lower, upper: _leaky(x, o, (lower + upper) / 2),
    derivative=lambda x, y, o, lower, upper: _leaky_grad(x, y, o, (lower + upper) / 2),
    expression="Piecewise((x, x > 0), ((lower + upper)/2*x, True))",
    params=(Param("lower", 1 / 8, low=0.0, doc="lower bound of the random slope"),
            Param("upper", 1 / 3, low=0.0, doc="upper bound of the random slope")),
    check=lambda lower, upper: None if lower <= upper else f"needs lower <= upper, got {lower} > {upper}",
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, (1 / 8 + 1 / 3) / 2),)),
    piecewise_linear=True,
    paper="Xu et al., Empirical Evaluation of Rectified Activations in Convolutional Network", year=2015,
    notes="Training-time sampling of the slope is not an elementwise function; this is the "
          "deterministic form PyTorch uses in eval mode.",
    peers={"torch": lambda t, x, lower, upper: t.nn.functional.rrelu(x, lower, upper, training=False)},
))


def _clamp_grad(x, lo, hi, o):
    return step01((x > lo) & (x < hi), x, o)


register(ActivationSpec(
    name="relu6", family=FAMILY,
    description="ReLU capped at 6: min(max(x, 0), 6).",
    forward=lambda x, o: o.clip(x, 0.0, 6.0),
    derivative=lambda x, y, o: _clamp_grad(x, 0.0, 6.0, o),
    expression="Min(Max(x, 0), 6)",
    properties=Properties(range=(0.0, 6.0), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.0), Kink(6.0, 0.0))),
    piecewise_linear=True,
    paper="Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10", year=2010,
    peers={"torch": lambda t, x: t.nn.functional.relu6(x), "jax": lambda j, x: j.nn.relu6(x)},
    notes="jax.nn.relu6 splits the gradient at the kinks; ours is 0 there, as in PyTorch.",
))

register(ActivationSpec(
    name="relu_n", family=FAMILY,
    description="ReLU capped at n: min(max(x, 0), n).",
    forward=lambda x, o, n: o.clip(x, 0.0, n),
    derivative=lambda x, y, o, n: _clamp_grad(x, 0.0, n, o),
    expression="Min(Max(x, 0), n)",
    params=(Param("n", 1.0, low=0.0, open_low=True, doc="the cap"),),
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.0), Kink(1.0, 0.0))),
    piecewise_linear=True, aliases=("bounded_relu", "brelu"),
    paper="Liew et al., Bounded activation functions for enhanced training stability of deep "
          "neural networks on visual pattern recognition problems", year=2016,
))

register(ActivationSpec(
    name="threshold", family=FAMILY,
    description="Threshold: x where x > threshold, else a constant value.",
    forward=lambda x, o, threshold, value: o.where(x <= threshold, value, x),
    derivative=lambda x, y, o, threshold, value: step01(x > threshold, x, o),
    expression="Piecewise((x, x > threshold), (value, True))",
    params=(Param("threshold", 1.0, doc="inputs at or below it are replaced"),
            Param("value", 0.0, doc="the replacement")),
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=DISCONTINUOUS, zero_centred=False,
                          kinks=(Kink(1.0, 0.0),)),
    piecewise_linear=True, aliases=("thresholded_relu",),
    paper="PyTorch torch.nn.Threshold; Konda et al., Zero-bias autoencoders and the benefits of "
          "co-adapting features", year=2015,
    peers={"torch": lambda t, x, threshold, value: t.nn.functional.threshold(x, threshold, value)},
))

register(ActivationSpec(
    name="squared_relu", family=FAMILY,
    description="Squared ReLU: max(x, 0)^2.",
    forward=lambda x, o: o.square(o.maximum(x, 0.0)),
    derivative=lambda x, y, o: 2.0 * o.maximum(x, 0.0),
    expression="Max(x, 0)**2",
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=C1, zero_centred=False),
    aliases=("relu2", "relu_squared"),
    paper="So et al., Primer: Searching for Efficient Transformers for Language Modeling", year=2021,
))

register(ActivationSpec(
    name="star_relu", family=FAMILY,
    description="StarReLU: s * max(x, 0)^2 + b, with learnable scale and bias.",
    forward=lambda x, o, s, b: s * o.square(o.maximum(x, 0.0)) + b,
    derivative=lambda x, y, o, s, b: (2.0 * s) * o.maximum(x, 0.0),
    expression="s*Max(x, 0)**2 + b",
    params=(Param("s", 0.8944, learnable=True, doc="scale, 1/sqrt(1.25) at init"),
            Param("b", -0.4472, learnable=True, doc="bias, -0.5/sqrt(1.25) at init")),
    properties=Properties(range=(-0.4472, inf), monotonic=True, smoothness=C1, zero_centred=True),
    aliases=("starrelu",),
    paper="Yu et al., MetaFormer Baselines for Vision", year=2022,
))

register(ActivationSpec(
    name="hardshrink", family=FAMILY,
    description="Hard shrinkage: x where |x| > lambd, else 0.",
    forward=lambda x, o, lambd: o.where(o.abs(x) <= lambd, 0.0, x),
    derivative=lambda x, y, o, lambd: step01(o.abs(x) > lambd, x, o),
    expression="Piecewise((x, Abs(x) > lambd), (0, True))",
    params=(Param("lambd", 0.5, low=0.0, doc="half-width of the zero band"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=DISCONTINUOUS, zero_centred=True,
                          kinks=(Kink(-0.5, 0.0), Kink(0.5, 0.0))),
    piecewise_linear=True, aliases=("hard_shrink",),
    paper="PyTorch torch.nn.Hardshrink (hard thresholding, Donoho & Johnstone 1994)", year=1994,
    peers={"torch": lambda t, x, lambd: t.nn.functional.hardshrink(x, lambd)},
))

register(ActivationSpec(
    name="softshrink", family=FAMILY,
    description="Soft shrinkage: sign(x) * max(|x| - lambd, 0).",
    forward=lambda x, o, lambd: o.where(o.abs(x) <= lambd, 0.0, x - o.sign(x) * lambd),
    derivative=lambda x, y, o, lambd: step01(o.abs(x) > lambd, x, o),
    expression="Piecewise((x - lambd, x > lambd), (x + lambd, x < -lambd), (0, True))",
    params=(Param("lambd", 0.5, low=0.0, doc="half-width of the zero band"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=True,
                          kinks=(Kink(-0.5, 0.0), Kink(0.5, 0.0))),
    piecewise_linear=True, aliases=("soft_shrink",),
    paper="Donoho, De-noising by soft-thresholding", year=1995,
    peers={"torch": lambda t, x, lambd: t.nn.functional.softshrink(x, lambd)},
))

register(ActivationSpec(
    name="absolute", family=FAMILY,
    description="Absolute-value rectification: |x|.",
    forward=lambda x, o: o.abs(x),
    derivative=lambda x, y, o: o.sign(x),
    expression="Abs(x)",
    properties=Properties(range=(0.0, inf), monotonic=False, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.0),)),
    piecewise_linear=True, aliases=("abs", "abs_rectification"),
    paper="Jarrett et al., What is the Best Multi-Stage Architecture for Object Recognition?", year=2009,
    notes="f'(0) = 0 (the sign function), as torch.abs's gradient.",
))

register(ActivationSpec(
    name="nlrelu", family=FAMILY,
    description="Natural-logarithm ReLU: log(beta max(x, 0) + 1).",
    forward=lambda x, o, beta: o.log1p(beta * o.maximum(x, 0.0)),
    derivative=lambda x, y, o, beta: o.where(x > 0, beta / (1.0 + beta * o.maximum(x, 0.0)), 0.0 * beta),
    expression="log(beta*Max(x, 0) + 1)",
    params=(Param("beta", 1.0, low=0.0, open_low=True, doc="scale inside the logarithm"),),
    properties=Properties(range=(0.0, inf), monotonic=True, smoothness=C0, zero_centred=False,
                          kinks=(Kink(0.0, 0.0),)),
    aliases=("natural_log_relu",),
    paper="Liu et al., Natural-Logarithm-Rectified Activation Function in Convolutional Neural Networks",
    year=2019,
))
