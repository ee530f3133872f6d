"""Linear activations: the identity, a scaled identity, and the bent identity.

A network of linear activations collapses to one linear map; they belong on a
regression output, or as the baseline a nonlinearity must beat.
"""

from ._common import (
    BIG,
    SMOOTH,
    ActivationSpec,
    Param,
    Properties,
    inf,
    register,
    times,
)

FAMILY = "linear"

register(ActivationSpec(
    name="identity", family=FAMILY,
    description="Identity: f(x) = x.",
    forward=lambda x, o: x,
    derivative=lambda x, y, o: o.ones_like(x),
    expression="x",
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    piecewise_linear=True,
    paper="(classical)",
    notes="Keras 3 calls it 'linear'; here 'linear' is the scaled form c*x, equal to it at c = 1.",
    peers={"torch": lambda t, x: t.nn.Identity()(x), "jax": lambda j, x: j.nn.identity(x)},
))

register(ActivationSpec(
    name="linear", family=FAMILY,
    description="Linear: A = c * x.",
    forward=lambda x, o, c: times(c, x, o),
    derivative=lambda x, y, o, c: c * o.ones_like(x),
    expression="c*x",
    params=(Param("c", 1.0, doc="slope (any real)"),),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=True),
    piecewise_linear=True,
    paper="Widrow & Hoff, Adaptive switching circuits (ADALINE)", year=1960,
    notes="Its derivative is the constant c, unrelated to the input.",
))


def _bent_identity(x, o):
    # f = x + (sqrt(x^2 + 1) - 1) / 2, in three pieces that neither cancel nor overflow:
    #   |x| < 1:  x + x^2 / (2 (sqrt(x^2 + 1) + 1))
    #   x >= 1:   x + (s - 1) / 2
    #   x <= -1:  (x - 1 + 1 / (s + |x|)) / 2      (since s + x = 1 / (s - x))
    # with s = sqrt(x^2 + 1), taken as |x| beyond BIG (where they agree to 1e-36).
    xs = o.clip(x, -1.0, 1.0)
    xs2 = xs * xs
    small = xs + xs2 / (2.0 * (o.sqrt(xs2 + 1.0) + 1.0))
    a = o.abs(x)
    ac = o.minimum(a, BIG)
    s = o.maximum(o.sqrt(ac * ac + 1.0), a)
    # f ~ 1.5 x overflows for x > max/1.5: +inf there (as x * inf, so autograd sees the slope)
    over = x > o.finfo(x.dtype).max / 1.5
    pos = o.where(over, o.where(over, x, 1.0) * inf, o.where((x > 0) & ~over, x, 0.0) + 0.5 * (s - 1.0))
    neg = 0.5 * (x - 1.0) + 0.25 / (0.5 * s + 0.5 * a)  # halves: s + a may exceed the largest float
    return o.where(a < 1.0, small, o.where(x > 0, pos, neg))


def _bent_identity_grad(x, y, o):
    xc = o.clip(x, -BIG, BIG)
    return 1.0 + xc / (2.0 * o.sqrt(xc * xc + 1.0))


register(ActivationSpec(
    name="bent_identity", family=FAMILY,
    description="Bent identity: (sqrt(x^2 + 1) - 1) / 2 + x.",
    forward=_bent_identity, derivative=_bent_identity_grad,
    expression="(sqrt(x**2 + 1) - 1)/2 + x",
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=SMOOTH, zero_centred=False),
    aliases=("bentid",),
    paper="(classical; slope 1/2 for x -> -inf, 3/2 for x -> +inf)",
))
