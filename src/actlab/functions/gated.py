"""Gated linear units: the input's ``axis`` (size 2n) is split into halves a and b.

Convention, the same for every entry here: the FIRST half ``a`` is the linear
half and the SECOND half ``b`` is the gate, which goes through the activation:

    f(x) = a * act(b),    a = x[..., :n],  b = x[..., n:]   (along ``axis``)

This is torch.nn.functional.glu's and jax.nn.glu's convention for the sigmoid
GLU, and timm's GluMlp convention for its variants. Shazeer's "GLU Variants
Improve Transformer" writes SwiGLU(x) = Swish(xW) * (xV): with one fused
projection x [V | W] our swiglu computes exactly that. Code that instead
applies the activation to the first chunk (e.g. ``silu(x1) * x2``) equals our
entry on the swapped halves, x [W | V].

The output has n units along ``axis``; an odd axis size raises ``AxisError``.
Products use IEEE semantics without warnings: inf * 0 (e.g. a = inf with a
closed gate) gives nan, as in torch and jax.
"""

import math

import array_api_compat

from ..core.errors import AxisError
from ._common import (
    BIG,
    C0,
    SMOOTH,
    SQRT2,
    SQRT_2_OVER_PI,
    ActivationSpec,
    Properties,
    inf,
    register,
    step01,
)

FAMILY = "gated"
nan = math.nan

# SELU's constants (Klambauer et al. 2017), as in torch.nn.SELU and jax.nn.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_TANH_C = 0.044715
_LIM = 1e4  # |b| beyond which the tanh-GELU gate is exactly 0 or 1 in every float format


def _halves(x, axis, name):
    n = x.shape[axis]
    if n % 2:
        raise AxisError(
            f"{name}: the gated axis {axis} must have an even size (it is split into a linear "
            f"half and a gate half), got size {n}"
        )
    h = n // 2
    head = (slice(None),) * axis
    return x[(*head, slice(0, h))], x[(*head, slice(h, n))]


def _mul(a, c, o):
    """a * c, with inf * 0 giving nan without a floating-point warning."""
    bad = (o.isinf(a) & (c == 0)) | (o.isinf(c) & (a == 0))
    return o.where(bad, nan, o.where(bad, 0.0, a) * o.where(bad, 0.0, c))


def _diag(v, o):
    """(..., n) -> (..., n, n) with v on the diagonal (no multiplication, so inf stays inf)."""
    i = o.arange(v.shape[-1], device=array_api_compat.device(v))
    return o.where(i[:, None] == i[None, :], v[..., :, None], 0.0)


# --- gates: (act(b), act'(b)), both stable for every float b ---------------------------------

def _sigmoid(b, o):
    return o.sigmoid(b)


def _sigmoid_grad(b, o):
    return o.sigmoid(b) * o.sigmoid(-b)


def _silu(b, o):
    bm = o.maximum(b, -BIG)  # silu(-inf) = 0, without -inf * 0
    return bm * o.sigmoid(bm)


def _silu_grad(b, o):
    bc = o.clip(b, -BIG, BIG)
    return o.sigmoid(bc) * (1.0 + bc * o.sigmoid(-bc))


def _gelu(b, o):
    bm = o.maximum(b, -BIG)
    return bm * (0.5 * o.erfc(-bm / SQRT2))


def _gelu_grad(b, o):
    bc = o.clip(b, -BIG, BIG)
    return 0.5 * o.erfc(-bc / SQRT2) + bc * (o.exp(-0.5 * bc * bc) * (0.5 * SQRT_2_OVER_PI))


def _gelu_tanh_arg(b, o):
    """2u with u = sqrt(2/pi) (b + 0.044715 b^3), from b clipped where the gate saturates."""
    bc = o.clip(b, -_LIM, _LIM)
    return (2.0 * SQRT_2_OVER_PI) * bc * (1.0 + GELU_TANH_C * bc * bc), bc


def _gelu_tanh(b, o):
    # 0.5 b (1 + tanh(u)) = b sigmoid(2u), without the cancellation of 1 + tanh(u) for b < 0
    u2, _ = _gelu_tanh_arg(b, o)
    return o.maximum(b, -_LIM) * o.sigmoid(u2)


def _gelu_tanh_grad(b, o):
    u2, bc = _gelu_tanh_arg(b, o)
    du2 = (2.0 * SQRT_2_OVER_PI) * (1.0 + (3.0 * GELU_TANH_C) * bc * bc)
    return o.sigmoid(u2) + bc * du2 * (o.sigmoid(u2) * o.sigmoid(-u2))


def _relu(b, o):
    return o.maximum(b, 0.0)


def _relu_grad(b, o):
    return step01(b > 0, b, o)


def _selu(b, o):
    return SELU_SCALE * o.where(b > 0, b, SELU_ALPHA * o.expm1(o.minimum(b, 0.0)))


def _selu_grad(b, o):
    return o.where(b > 0, SELU_SCALE, (SELU_SCALE * SELU_ALPHA) * o.exp(o.minimum(b, 0.0)))


# --- the entry factory ------------------------------------------------------------------------

def _gated(name, act, act_grad, sympy_gate, *, description, latex, smoothness, paper, year,
           notes, aliases=(), peers=None):
    def forward(x, o, axis):
        a, b = _halves(x, axis, name)
        return _mul(a, act(b, o), o)

    def vjp(x, y, g, o, axis):
        a, b = _halves(x, axis, name)
        da = _mul(g, act(b, o), o)
        db = _mul(_mul(g, a, o), act_grad(b, o), o)
        return o.concat([da, db], axis=axis)

    def jacobian(x, o, axis):
        a, b = _halves(x, axis, name)
        al, bl = o.moveaxis(a, axis, -1), o.moveaxis(b, axis, -1)
        return o.concat([_diag(act(bl, o), o), _diag(_mul(al, act_grad(bl, o), o), o)], axis=-1)

    def vector_expression(sp, xs):
        if len(xs) % 2:
            raise AxisError(f"{name}: needs an even number of inputs, got {len(xs)}")
        h = len(xs) // 2
        return [xs[i] * sympy_gate(sp, xs[h + i]) for i in range(h)]

    register(ActivationSpec(
        name=name, family=FAMILY, kind="vector", description=description,
        forward=forward, vjp=vjp, jacobian=jacobian, vector_expression=vector_expression,
        latex=latex,
        properties=Properties(range=(-inf, inf), monotonic=False, smoothness=smoothness,
                              zero_centred=True),
        aliases=aliases, paper=paper, year=year,
        notes=notes + " Halves: a = first half (linear), b = second half (gate), as in "
                      "torch.nn.functional.glu. Output size n along the axis; odd sizes raise "
                      "AxisError. zero_centred: E[a act(b)] = E[a] E[act(b)] = 0 for "
                      "independent standard-normal halves.",
        peers=peers or {},
    ))


_SHAZEER = "Shazeer, GLU Variants Improve Transformer"

_gated(
    "glu", _sigmoid, _sigmoid_grad, lambda sp, b: 1 / (1 + sp.exp(-b)),
    description="Gated linear unit: a * sigmoid(b), for x = [a, b] split in halves along an axis.",
    latex=r"f(a, b) = a \odot \sigma(b)",
    smoothness=SMOOTH,
    paper="Dauphin, Fan, Auli & Grangier, Language Modeling with Gated Convolutional Networks",
    year=2017,
    notes="Same halves as torch.nn.functional.glu(x, dim) and jax.nn.glu(x, axis).",
    peers={"torch": lambda t, x, axis=-1: t.nn.functional.glu(x, dim=axis),
           "jax": lambda j, x, axis=-1: j.nn.glu(x, axis=axis)},
)

_gated(
    "swiglu", _silu, _silu_grad, lambda sp, b: b / (1 + sp.exp(-b)),
    description="SwiGLU: a * silu(b) = a * b * sigmoid(b), for x = [a, b] split in halves.",
    latex=r"f(a, b) = a \odot b\,\sigma(b)",
    smoothness=SMOOTH, paper=_SHAZEER, year=2020, aliases=("swish_glu", "silu_glu"),
    notes="Shazeer's SwiGLU = Swish_1(xW) * (xV) with beta = 1 (silu). With a fused projection "
          "x [V | W] this entry gives exactly that; LLaMA-style silu(x1) * x2 is this entry on "
          "the swapped halves.",
)

_gated(
    "geglu", _gelu, _gelu_grad, lambda sp, b: b * sp.erfc(-b / sp.sqrt(2)) / 2,
    description="GEGLU: a * gelu(b) with the exact (erf) GELU, for x = [a, b] split in halves.",
    latex=r"f(a, b) = a \odot b\,\Phi(b)",
    smoothness=SMOOTH, paper=_SHAZEER, year=2020, aliases=("gelu_glu",),
    notes="Exact GELU, b Phi(b) = b erfc(-b / sqrt 2) / 2 (erfc keeps the negative tail "
          "accurate); geglu_tanh is the tanh-approximate form.",
)

_gated(
    "geglu_tanh", _gelu_tanh, _gelu_tanh_grad,
    # b (1 + tanh u) / 2 written as b / (1 + e^(-2u)): the same function, but a 50-digit
    # evaluation of it does not cancel for b << 0.
    lambda sp, b: b / (1 + sp.exp(-2 * sp.sqrt(2 / sp.pi) * (b + sp.Rational(44715, 1000000) * b**3))),
    description="GEGLU with the tanh GELU: a * 0.5 b (1 + tanh(sqrt(2/pi) (b + 0.044715 b^3))).",
    latex=r"f(a, b) = a \odot \tfrac{b}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(b + 0.044715\,b^3)\right)\right)",
    smoothness=SMOOTH, paper=_SHAZEER, year=2020, aliases=("geglu_approx", "gelu_tanh_glu"),
    notes="The tanh approximation of GELU (Hendrycks & Gimpel 2016; torch's "
          "gelu(approximate='tanh'), jax.nn.gelu's default), computed as b sigmoid(2u) to avoid "
          "the cancellation in 1 + tanh(u) for b < 0.",
)

_gated(
    "reglu", _relu, _relu_grad, lambda sp, b: sp.Piecewise((b, b > 0), (0, True)),
    description="ReGLU: a * relu(b), for x = [a, b] split in halves.",
    latex=r"f(a, b) = a \odot \max(b, 0)",
    smoothness=C0, paper=_SHAZEER, year=2020, aliases=("relu_glu",),
    notes="The gate's derivative at b = 0 is 0 (relu'(0) = 0, as in PyTorch).",
)

_gated(
    "seglu", _selu, _selu_grad,
    lambda sp, b: sp.Float(SELU_SCALE, 40) * sp.Piecewise(
        (b, b > 0), (sp.Float(SELU_ALPHA, 40) * (sp.exp(b) - 1), True)),
    description="SeGLU: a * selu(b), for x = [a, b] split in halves.",
    latex=r"f(a, b) = a \odot \mathrm{selu}(b)",
    smoothness=C0, paper=_SHAZEER + " (the same construction with Klambauer et al.'s SELU)",
    year=2020, aliases=("selu_glu",),
    notes="SELU with torch's / jax.nn's constants (alpha = 1.6732632423543772, scale = "
          "1.0507009873554805). The gate's derivative at b = 0 is scale * alpha, the left-hand "
          "value, as torch's SELU backward gives.",
)
