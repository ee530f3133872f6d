"""Step activations: piecewise-constant threshold units.

Their derivative is 0 everywhere, the jump included (as autograd gives for a
comparison); they cannot be trained by backpropagation and are here for the
perceptron and for comparison.
"""

from ._common import (
    DISCONTINUOUS,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    register,
    step01,
)

FAMILY = "step"


def _binary_step(x, o, threshold):
    # 1 for x >= threshold, else 0; nan stays nan.
    return o.where(o.isnan(x), x, step01(x >= threshold, x, o))


def _binary_step_grad(x, y, o, threshold):
    return o.where(o.isnan(x), x, o.zeros_like(x))


register(ActivationSpec(
    name="binary_step", family=FAMILY,
    description="Binary step: 1 for x >= threshold, 0 for x < threshold.",
    forward=_binary_step, derivative=_binary_step_grad,
    expression="Piecewise((1, x >= threshold), (0, True))",
    params=(Param("threshold", 0.0, doc="inputs at or above it give 1"),),
    properties=Properties(range=(0.0, 1.0), monotonic=True, smoothness=DISCONTINUOUS, zero_centred=False,
                          kinks=(Kink(0.0, 0.0),)),
    piecewise_linear=True, aliases=("step", "heaviside", "perceptron"),
    paper="McCulloch & Pitts, A logical calculus of the ideas immanent in nervous activity; "
          "Rosenblatt, The perceptron (1958)", year=1943,
    notes="f(threshold) = 1 (numpy.heaviside(x - threshold, 1)). The derivative is 0 everywhere, "
          "at the jump too, so no gradient flows through it.",
    peers={"torch": lambda t, x, threshold: t.heaviside(x - threshold, t.ones((), dtype=x.dtype)),
           "jax": lambda j, x, threshold: j.numpy.heaviside(x - threshold, 1.0)},
))
