"""Vector-valued activations: softmax, softmin, log_softmax, sparsemax, maxout.

Each maps a whole axis of its input (``axis``, default -1) to an output along
the same axis, so it has no elementwise derivative: each entry gives a
vector-Jacobian product ``vjp`` and the ``jacobian`` (shape ``(..., n_out, n_in)``
with the axis moved last), and its exact form as sympy expressions
(``vector_expression``) or, for sparsemax, an mpmath reference.

Non-finite entries follow PyTorch and jax.nn: a ``-inf`` entry gets probability
0 (log-probability ``-inf``) as long as the row has a finite maximum; a row
that contains ``+inf`` or ``nan``, or holds only ``-inf``, gives ``nan`` in
every output of that row.
"""

import math

import array_api_compat

from ..core.errors import AxisError
from ._common import C0, SMOOTH, ActivationSpec, Param, Properties, inf, register

FAMILY = "vector"
nan = math.nan

_NONFINITE_NOTE = (
    "A -inf entry gets probability 0 when the row has a finite maximum; a row that contains "
    "+inf or nan, or only -inf entries, gives nan throughout, exactly as torch and jax.nn do "
    "(the +inf limit would be a one-hot, but it is not defined when several entries are +inf)."
)


# --- shared helpers ---------------------------------------------------------------------------

def _device(x):
    return array_api_compat.device(x)


def _diag_mask(n, like, o):
    """Boolean (n, n) identity on ``like``'s device."""
    i = o.arange(n, device=_device(like))
    return i[:, None] == i[None, :]


def _shifted(x, o, axis):
    """``(z, ok)``: z = x - max(x) along ``axis`` (so z <= 0, with 0 at the maxima) where the
    maximum is finite, and 0 elsewhere; ``ok`` flags the rows with a finite maximum."""
    m = o.max(x, axis=axis, keepdims=True)
    ok = o.isfinite(m)
    m = o.where(ok, m, 0.0)
    # x - m overflows (to -inf, its correct rounding) only when it is below -finfo.max:
    # spot that at half scale and give -inf directly, without an overflow warning.
    far = x * 0.5 - m * 0.5 < -0.5 * float(o.finfo(x.dtype).max)
    z = o.where(far, -inf, o.where(far, m, x) - m)
    return o.where(ok, z, 0.0), ok


def _normaliser(z, o, axis):
    """sum(exp(z)) along ``axis`` split as k + t: k counts the maxima (z == 0, at least 1) and
    t sums exp over the rest, so that log(sum) = log(k) + log1p(t / k) keeps full relative
    accuracy when the maxima dominate."""
    top = z == 0
    k = o.sum(o.astype(top, z.dtype), axis=axis, keepdims=True)
    t = o.sum(o.where(top, 0.0, o.exp(z)), axis=axis, keepdims=True)
    return k, t


def _empty_along(x, axis):
    return x.shape[axis] == 0


def _softmax(x, o, axis):
    if _empty_along(x, axis):
        return x + 0.0
    z, ok = _shifted(x, o, axis)
    k, t = _normaliser(z, o, axis)
    return o.where(ok, o.exp(z) / (k + t), nan)


def _softmax_vjp(y, g, o, axis):
    return y * (g - o.sum(g * y, axis=axis, keepdims=True))


def _softmax_jacobian(y, o, axis):
    yl = o.moveaxis(y, axis, -1)
    n = yl.shape[-1]
    return o.where(_diag_mask(n, yl, o), yl[..., :, None], 0.0) - yl[..., :, None] * yl[..., None, :]


def _sympy_softmax(sp, xs, sign=1):
    e = [sp.exp(sign * x) for x in xs]
    s = sp.Add(*e)
    return [ei / s for ei in e]


# --- softmax / softmin / log_softmax ------------------------------------------------------------

register(ActivationSpec(
    name="softmax", family=FAMILY, kind="vector",
    description="Softmax: exp(x_i) / sum_j exp(x_j) along an axis; a probability vector.",
    forward=lambda x, o, axis: _softmax(x, o, axis),
    vjp=lambda x, y, g, o, axis: _softmax_vjp(y, g, o, axis), grad_from="output",
    jacobian=lambda x, o, axis: _softmax_jacobian(_softmax(x, o, axis), o, axis),
    vector_expression=lambda sp, xs: _sympy_softmax(sp, xs),
    latex=r"f(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}",
    properties=Properties(range=(0.0, 1.0), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    aliases=("softargmax", "normalized_exponential"),
    paper="Bridle, Probabilistic Interpretation of Feedforward Classification Network Outputs, "
          "with Relationships to Statistical Pattern Recognition", year=1990,
    notes="The output layer of a multi-class classifier: outputs lie in (0, 1) and sum to 1, a "
          "categorical distribution. Computed as exp(x - max) / sum exp(x - max), so it never "
          "overflows. VJP: y * (g - sum(g * y)); Jacobian: diag(y) - y y^T. "
          "Range, monotonic (False: raising x_j lowers y_i) and smoothness describe the map. "
          + _NONFINITE_NOTE,
    peers={"torch": lambda t, x, axis=-1: t.softmax(x, dim=axis),
           "jax": lambda j, x, axis=-1: j.nn.softmax(x, axis=axis)},
))

register(ActivationSpec(
    name="softmin", family=FAMILY, kind="vector",
    description="Softmin: softmax(-x) = exp(-x_i) / sum_j exp(-x_j) along an axis.",
    forward=lambda x, o, axis: _softmax(-x, o, axis),
    vjp=lambda x, y, g, o, axis: -_softmax_vjp(y, g, o, axis), grad_from="output",
    jacobian=lambda x, o, axis: -_softmax_jacobian(_softmax(-x, o, axis), o, axis),
    vector_expression=lambda sp, xs: _sympy_softmax(sp, xs, sign=-1),
    latex=r"f(x)_i = \frac{e^{-x_i}}{\sum_j e^{-x_j}}",
    properties=Properties(range=(0.0, 1.0), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    paper="PyTorch torch.nn.Softmin",
    notes="VJP: -y * (g - sum(g * y)); Jacobian: -(diag(y) - y y^T). Non-finite entries as in "
          "softmax of -x (a +inf entry gets probability 0; a -inf entry makes the row nan), "
          "as torch.nn.functional.softmin does. jax.nn has no softmin.",
    peers={"torch": lambda t, x, axis=-1: t.nn.functional.softmin(x, dim=axis)},
))


def _log_softmax(x, o, axis):
    if _empty_along(x, axis):
        return x + 0.0
    z, ok = _shifted(x, o, axis)
    k, t = _normaliser(z, o, axis)
    return o.where(ok, z - (o.log(k) + o.log1p(t / k)), nan)


def _log_softmax_jacobian(x, o, axis):
    p = o.moveaxis(o.exp(_log_softmax(x, o, axis)), axis, -1)
    eye = o.astype(_diag_mask(p.shape[-1], p, o), p.dtype)
    return eye - p[..., None, :]


register(ActivationSpec(
    name="log_softmax", family=FAMILY, kind="vector",
    description="Log-softmax: x_i - log(sum_j exp(x_j)) along an axis.",
    forward=lambda x, o, axis: _log_softmax(x, o, axis),
    vjp=lambda x, y, g, o, axis: g - o.exp(y) * o.sum(g, axis=axis, keepdims=True), grad_from="output",
    jacobian=_log_softmax_jacobian,
    vector_expression=lambda sp, xs: [x - sp.log(sp.Add(*[sp.exp(v) for v in xs])) for x in xs],
    latex=r"f(x)_i = x_i - \log \sum_j e^{x_j}",
    properties=Properties(range=(-inf, 0.0), monotonic=False, smoothness=SMOOTH, zero_centred=False),
    aliases=("logsoftmax",),
    paper="(classical; the log-likelihood layer of a softmax classifier)",
    notes="Computed as (x - max) - [log(k) + log1p(t / k)], k the number of maxima and t the sum "
          "of exp(x - max) over the rest: no overflow, and full relative accuracy even where the "
          "output is tiny (log(1 + t) alone would round it to 0). VJP: g - exp(y) * sum(g); "
          "Jacobian: I - 1 softmax(x)^T. " + _NONFINITE_NOTE,
    peers={"torch": lambda t, x, axis=-1: t.log_softmax(x, dim=axis),
           "jax": lambda j, x, axis=-1: j.nn.log_softmax(x, axis=axis)},
))


# --- sparsemax --------------------------------------------------------------------------------

def _sparsemax(x, o, axis):
    if _empty_along(x, axis):
        return x + 0.0
    xl = o.moveaxis(x, axis, -1)
    z, ok = _shifted(xl, o, -1)
    # Entries below -1 are never in the support (tau >= -1): clamping them leaves tau unchanged
    # and keeps the cumulative sum finite.
    zs = o.sort(o.maximum(z, -2.0), axis=-1, descending=True)
    cs = o.cumulative_sum(zs, axis=-1)
    n = zs.shape[-1]
    k = o.arange(1, n + 1, dtype=z.dtype, device=_device(z))
    support = 1.0 + k * zs > cs  # holds exactly for k = 1 .. k(z)
    kz = o.max(o.where(support, k, 0.0), axis=-1, keepdims=True)
    tau = (o.sum(o.where(k <= kz, zs, 0.0), axis=-1, keepdims=True) - 1.0) / kz
    y = o.where(ok, o.maximum(z - tau, 0.0), nan)
    return o.moveaxis(y, -1, axis)


def _sparsemax_vjp(x, y, g, o, axis):
    s = o.astype(y > 0, y.dtype)
    size = o.maximum(o.sum(s, axis=axis, keepdims=True), 1.0)
    v = s * (g - o.sum(g * s, axis=axis, keepdims=True) / size)
    return o.where(o.isnan(y), nan, v)


def _sparsemax_jacobian(x, o, axis):
    yl = o.moveaxis(_sparsemax(x, o, axis), axis, -1)
    s = o.astype(yl > 0, yl.dtype)
    size = o.maximum(o.sum(s, axis=-1, keepdims=True), 1.0)[..., None]
    j = o.where(_diag_mask(yl.shape[-1], yl, o), s[..., :, None], 0.0) - s[..., :, None] * s[..., None, :] / size
    return o.where(o.isnan(yl)[..., :, None], nan, j)


def _sparsemax_reference(xs):
    """Sparsemax of a list of mpmath numbers, in the current mpmath precision."""
    import mpmath

    top = max(xs)
    zs = sorted((v - top for v in xs), reverse=True)  # shift-invariant; keeps 1 + k z exact
    total, kz, ksum = mpmath.mpf(0), 0, mpmath.mpf(0)
    for k, v in enumerate(zs, start=1):
        total += v
        if 1 + k * v > total:
            kz, ksum = k, total
    tau = (ksum - 1) / kz
    return [max(v - top - tau, mpmath.mpf(0)) for v in xs]


register(ActivationSpec(
    name="sparsemax", family=FAMILY, kind="vector",
    description="Sparsemax: the Euclidean projection of x onto the probability simplex, "
                "max(x_i - tau(x), 0).",
    forward=lambda x, o, axis: _sparsemax(x, o, axis),
    vjp=_sparsemax_vjp, grad_from="output",
    jacobian=_sparsemax_jacobian,
    reference=_sparsemax_reference,
    latex=r"f(x)_i = \max(x_i - \tau(x), 0),\quad \tau(x) = \frac{\sum_{j \le k(x)} x_{(j)} - 1}{k(x)},"
          r"\quad k(x) = \max\{k : 1 + k\,x_{(k)} > \textstyle\sum_{j \le k} x_{(j)}\}",
    properties=Properties(range=(0.0, 1.0), monotonic=False, smoothness=C0, zero_centred=False),
    piecewise_linear=True,
    paper="Martins & Astudillo, From Softmax to Sparsemax: A Sparse Model of Attention and "
          "Multi-Label Classification", year=2016,
    notes="Like softmax it returns a probability vector, but with exact zeros: the threshold tau "
          "comes from sorting (x_(1) >= x_(2) >= ...). The max is subtracted first (sparsemax is "
          "shift-invariant). VJP on the support S = {i : y_i > 0}: g_i - mean_S(g), and 0 off it; "
          "Jacobian: diag(s) - s s^T / |S|, s the indicator of S. An entry exactly at the "
          "threshold counts as outside S. No closed form: the reference sorts in mpmath. "
          "Non-finite rows as in softmax (nan where the row holds +inf or nan). Neither torch "
          "nor jax.nn has sparsemax (Keras 3 does).",
))


# --- maxout -----------------------------------------------------------------------------------

def _groups(x, o, axis, pieces, name="maxout"):
    """x with ``axis`` moved last and split into (n // pieces, pieces)."""
    n = x.shape[axis]
    if n % pieces:
        raise AxisError(
            f"{name}: axis {axis} has size {n}, which is not divisible by pieces={pieces}; "
            f"maxout needs the axis size to be a multiple of pieces"
        )
    xl = o.moveaxis(x, axis, -1)
    return o.reshape(xl, (*xl.shape[:-1], n // pieces, pieces))


def _maxout(x, o, axis, pieces):
    return o.moveaxis(o.max(_groups(x, o, axis, pieces), axis=-1), -1, axis)


def _maxout_mask(x, o, axis, pieces):
    """Boolean (..., groups, pieces): True at the first maximum of each group."""
    xg = _groups(x, o, axis, pieces)
    if xg.shape[-2] == 0 or math.prod(xg.shape) == 0:
        return xg != xg  # all False, right shape
    idx = o.argmax(xg, axis=-1, keepdims=True)
    return o.arange(pieces, device=_device(x)) == idx


def _maxout_vjp(x, y, g, o, axis, pieces):
    mask = _maxout_mask(x, o, axis, pieces)
    gl = o.moveaxis(g, axis, -1)[..., None]
    v = o.where(mask, gl, 0.0)
    return o.moveaxis(o.reshape(v, (*v.shape[:-2], v.shape[-2] * pieces)), -1, axis)


def _maxout_jacobian(x, o, axis, pieces):
    mask = o.astype(_maxout_mask(x, o, axis, pieces), x.dtype)  # (..., G, p)
    groups = mask.shape[-2]
    eye = o.astype(_diag_mask(groups, x, o), x.dtype)  # (G, G)
    j = eye[:, :, None] * mask[..., None, :, :]  # (..., G, G, p)
    return o.reshape(j, (*j.shape[:-2], groups * pieces))


def _maxout_expression(sp, xs, pieces):
    pieces = int(pieces)
    if len(xs) % pieces:
        raise AxisError(f"maxout: {len(xs)} inputs are not divisible by pieces={pieces}")
    return [sp.Max(*xs[i:i + pieces]) for i in range(0, len(xs), pieces)]


register(ActivationSpec(
    name="maxout", family=FAMILY, kind="vector",
    description="Maxout: the axis is cut into groups of `pieces` consecutive units, each replaced "
                "by its maximum (output size n / pieces).",
    forward=_maxout, vjp=_maxout_vjp, jacobian=_maxout_jacobian,
    vector_expression=_maxout_expression,
    latex=r"f(x)_i = \max_{0 \le j < k} x_{k i + j},\quad k = \text{pieces}",
    params=(Param("pieces", 2, low=1, doc="units per group (the paper's k); an integer >= 1 "
                                          "dividing the axis size"),),
    integer_params=("pieces",),
    properties=Properties(range=(-inf, inf), monotonic=True, smoothness=C0, zero_centred=False),
    piecewise_linear=True,
    paper="Goodfellow, Warde-Farley, Mirza, Courville & Bengio, Maxout Networks", year=2013,
    notes="The paper's unit is max_j (x W_j + b_j); this is its max-pooling part, applied to an "
          "affine layer of k times the width (a generalisation of ReLU, max(x, 0), and of leaky "
          "ReLU). The output has n / pieces units along the axis; an axis size not divisible by "
          "pieces raises AxisError. monotonic=True: every output is non-decreasing in every "
          "input. The VJP routes g to the first maximum of each group (argmax's tie rule; "
          "torch.max(dim) does the same, while autograd of torch.amax splits g among ties). "
          "nan entries propagate to their group's output.",
))
