"""Learnable activations beyond the catalog's own parameters.

- :class:`SwishBeta`: ``x * sigmoid(beta x)`` with ``beta`` learned (the catalog's
  ``silu`` with its ``beta`` trainable), per layer or per channel.
- :class:`LearnedCombination`: ``sum_i alpha_i g_i(x)`` over any catalog entries
  ``g_i`` (Manessi & Rozza 2018), in linear, affine (sum alpha = 1) or convex
  (alpha >= 0, sum alpha = 1) form.
- :class:`Rational`: the Padé activation unit (Molina et al. 2019) with
  configurable degrees and denominator, initialised by a least-squares fit to
  any catalog activation; the fit error is reported.

Every other learnable entry (PReLU, APL, SReLU, Snake, StarReLU, PELU, ACON-C,
soft exponential, ...) is its named class in :mod:`actlab.torch.modules`,
generated from the catalog: ``actlab.torch.Snake(num_parameters=64)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

import actlab

from ..core import Activation as _Bound
from ..core.errors import ParameterError
from . import _autograd
from .modules import Activation

__all__ = ["LearnedCombination", "Rational", "SwishBeta", "fit_rational"]


class SwishBeta(Activation):
    """Swish-β: ``x * sigmoid(beta * x)`` with ``beta`` learned (Ramachandran et al. 2017).

    ``beta=1`` starts at SiLU. ``num_parameters=C`` learns one beta per channel
    (axis ``channel_dim``).
    """

    def __init__(self, beta: float = 1.0, *, num_parameters: int = 1, channel_dim: int = 1,
                 constrain: bool = True) -> None:
        super().__init__("silu", beta=beta, learnable=True, num_parameters=num_parameters,
                         channel_dim=channel_dim, constrain=constrain)


def _channel_view(w: torch.Tensor, x: torch.Tensor, channel_dim: int, owner: str) -> torch.Tensor:
    """(C,) -> a view broadcasting along x's channel axis (C == 1: a 0-d tensor)."""
    c = w.shape[0]
    if c == 1:
        return w.reshape(())
    axis = channel_dim if x.ndim > 1 else 0
    if not -x.ndim <= axis < x.ndim or x.shape[axis] != c:
        raise ValueError(f"{owner}: {c} channels expected along channel_dim={channel_dim}, "
                         f"input shape {tuple(x.shape)}")
    shape = [1] * x.ndim
    shape[axis % x.ndim] = c
    return w.reshape(shape)


class LearnedCombination(nn.Module):
    """A learned combination of base activations (Manessi & Rozza, Learning Combinations of
    Activation Functions, 2018): ``f(x) = sum_i alpha_i g_i(x)``.

    Args:
        bases: catalog names (or bound :class:`actlab.Activation` / :class:`actlab.torch.Activation`
            objects) of the ``g_i``; learnable bases keep learning their own parameters.
        form: ``"affine"`` (sum alpha = 1; stored as free weights ``w`` with
            ``alpha = w - mean(w) + 1/n``), ``"convex"`` (``alpha = softmax(w)``,
            so alpha >= 0 and sums to 1) or ``"linear"`` (alpha free).
        num_parameters: 1 (one alpha vector per layer) or the number of channels.
        channel_dim: the input axis the channels run along.

    Starts at the mean of the bases (alpha_i = 1/n). ``alpha`` gives the current weights.
    """

    FORMS = ("affine", "convex", "linear")

    def __init__(self, bases: Sequence[str | _Bound | Activation] = ("relu", "tanh", "identity"), *,
                 form: str = "affine", num_parameters: int = 1, channel_dim: int = 1) -> None:
        super().__init__()
        if form not in self.FORMS:
            raise ParameterError(f"LearnedCombination: form must be one of {self.FORMS}, got {form!r}")
        if len(bases) < 1:
            raise ParameterError("LearnedCombination: needs at least one base activation")
        mods = [b if isinstance(b, Activation) else Activation(b) for b in bases]
        for m in mods:
            if not m.activation.is_elementwise:
                raise ParameterError(f"LearnedCombination: base {m.name!r} is vector-valued; "
                                     "bases must be elementwise")
        self.bases = nn.ModuleList(mods)
        self.form = form
        self.channel_dim = channel_dim
        n = len(mods)
        init = 0.0 if form == "convex" else 1.0 / n
        self.weight = nn.Parameter(torch.full((num_parameters, n), init, dtype=torch.get_default_dtype()))

    @property
    def alpha(self) -> torch.Tensor:
        """The combination weights, shape ``(num_parameters, n_bases)``."""
        w = self.weight
        if self.form == "convex":
            return torch.softmax(w, dim=-1)
        if self.form == "affine":
            return w - w.mean(dim=-1, keepdim=True) + 1.0 / w.shape[-1]
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha
        out = None
        for i, base in enumerate(self.bases):
            term = _channel_view(alpha[:, i], x, self.channel_dim, "LearnedCombination") * base(x)
            out = term if out is None else out + term
        assert out is not None
        return out

    def extra_repr(self) -> str:
        n = self.weight.shape[0]
        return f"form={self.form!r}" + (f", num_parameters={n}" if n != 1 else "")


# --- rational / PAU --------------------------------------------------------------------------

DENOMINATORS = ("safe", "abs")


def rational_reference(x: np.ndarray, a: np.ndarray, b: np.ndarray, denominator: str = "safe") -> np.ndarray:
    """P(x)/Q(x) in numpy (for fitting): safe Q = 1 + sum |b_k||x|^k; abs Q = 1 + |sum b_k x^k|."""
    p = np.polyval(a[::-1], x)
    k = np.arange(1, len(b) + 1)
    if denominator == "safe":
        q = 1.0 + (np.abs(b)[None, :] * np.abs(x)[:, None] ** k).sum(1)
    else:
        q = 1.0 + np.abs((b[None, :] * x[:, None] ** k).sum(1))
    return p / q


_FITS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, dict[str, Any]]] = {}


def fit_rational(target: str | _Bound, degrees: tuple[int, int] = (5, 4), *, denominator: str = "safe",
                 fit_range: tuple[float, float] = (-3.0, 3.0), points: int = 2001, starts: int = 6,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Least-squares fit of a rational P/Q of ``degrees=(m, n)`` to a catalog activation.

    Starts from the linearised problem ``P(x) - t(x) Q(x) ~ 0`` (lstsq), a
    polynomial fit, and ``starts`` random points, refines each with
    ``scipy.optimize.least_squares`` on the true (non-vanishing) denominator, and
    keeps the best. Returns ``(a, b, report)``: ``a = (a0..am)``, ``b = (b1..bn)``
    and ``report = {"target", "range", "rms", "max_abs", "points"}``. Cached.
    """
    from scipy.optimize import least_squares

    act = actlab.get(target) if isinstance(target, str) else target
    if not act.is_elementwise:
        raise ParameterError(f"Rational: cannot fit the vector-valued activation {act.name!r}")
    m, n = _check_degrees(degrees)
    if denominator not in DENOMINATORS:
        raise ParameterError(f"Rational: denominator must be one of {DENOMINATORS}, got {denominator!r}")
    lo, hi = float(fit_range[0]), float(fit_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(
            f"Rational: fit_range must be a finite (low, high) with low < high, got {fit_range!r}")
    key = (act.name, tuple(act.params.items()), m, n, denominator, lo, hi, points, starts, seed)
    if key in _FITS:
        a, b, rep = _FITS[key]
        return a.copy(), b.copy(), dict(rep)
    x = np.linspace(lo, hi, points)
    t = np.asarray(act(x), dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise ParameterError(f"Rational: {act!r} is not finite on {fit_range}; choose another fit_range")

    k = np.arange(1, n + 1)
    xi = x[:, None] ** np.arange(m + 1)  # x^i
    xk = x[:, None] ** k  # x^k
    axk = np.abs(xk)

    def parts(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = xi @ theta[: m + 1]
        s = xk @ theta[m + 1:]
        q = 1.0 + (axk @ np.abs(theta[m + 1:]) if denominator == "safe" else np.abs(s))
        return p, q, s

    def resid(theta: np.ndarray) -> np.ndarray:
        p, q, _ = parts(theta)
        return p / q - t

    def jac(theta: np.ndarray) -> np.ndarray:
        p, q, s = parts(theta)
        da = xi / q[:, None]
        if denominator == "safe":
            db = -(p / q**2)[:, None] * axk * np.sign(theta[m + 1:])[None, :]
        else:
            db = -(p / q**2 * np.sign(s))[:, None] * xk
        return np.concatenate([da, db], axis=1)

    inits = []
    # linearised Padé: P(x) - t(x) (1 + sum c_k x^k) = 0, least squares in (a, c)
    cols = [x**i for i in range(m + 1)] + [-t * x**k for k in range(1, n + 1)]
    sol, *_ = np.linalg.lstsq(np.stack(cols, 1), t, rcond=None)
    inits.append(sol)
    inits.append(np.concatenate([np.polyfit(x, t, m)[::-1], np.zeros(n)]))
    rng = np.random.default_rng(seed)
    inits += [rng.normal(size=m + 1 + n) for _ in range(starts)]
    best = None
    for theta0 in inits:
        try:
            res = least_squares(resid, theta0, jac=jac, method="lm", xtol=1e-12, ftol=1e-12, max_nfev=400)
        except (ValueError, np.linalg.LinAlgError):
            continue
        cost = float(np.mean(res.fun**2))
        if np.isfinite(cost) and (best is None or cost < best[0]):
            best = (cost, res.x)
    assert best is not None
    theta = best[1]
    a, b = theta[: m + 1], theta[m + 1:]
    if denominator == "safe":
        b = np.abs(b)
    err = resid(np.concatenate([a, b]))
    rep = {"target": repr(act), "range": (lo, hi), "points": points,
           "rms": float(np.sqrt(np.mean(err**2))), "max_abs": float(np.max(np.abs(err)))}
    _FITS[key] = (a, b, rep)
    return a.copy(), b.copy(), dict(rep)


def _check_degrees(degrees: Any) -> tuple[int, int]:
    try:
        m, n = (int(d) for d in degrees)
    except (TypeError, ValueError):
        raise ParameterError(f"Rational: degrees must be (m, n) integers, got {degrees!r}") from None
    if m < 0 or n < 0 or (m, n) != tuple(degrees):
        raise ParameterError(f"Rational: degrees must be non-negative integers (m, n), got {degrees!r}")
    return m, n


def _powers(u: torch.Tensor, k: int) -> list[Any]:
    out: list[Any] = [1.0]
    for _ in range(k):
        out.append(u if len(out) == 1 else out[-1] * u)
    return out


def rational_torch(x: torch.Tensor, a: Sequence[torch.Tensor], b: Sequence[torch.Tensor],
                   denominator: str = "safe") -> torch.Tensor:
    """Composite torch P/Q, overflow-free: for |x| > 1 numerator and denominator are divided by
    |x|^N (N = max(m, n)) and evaluated in t = 1/x. ``a``, ``b``: coefficient tensors that
    broadcast against x (scalars per layer, or channel views)."""
    m, n = len(a) - 1, len(b)
    big = max(m, n)
    small = x.abs() <= 1.0
    u = torch.where(small, x, torch.zeros_like(x))
    pu = _powers(u, max(m, n))
    p1 = sum(a[i] * pu[i] for i in range(m + 1))
    if denominator == "safe":
        au = _powers(u.abs(), n)
        q1 = 1.0 + sum(b[k - 1].abs() * au[k] for k in range(1, n + 1))
    else:
        q1 = 1.0 + sum(b[k - 1] * pu[k] for k in range(1, n + 1)).abs()
    t = 1.0 / torch.where(small, torch.ones_like(x), x)  # |t| < 1; 0 at +-inf
    pt = _powers(t, big)
    at = _powers(t.abs(), big)
    sgn = torch.where(small, torch.ones_like(x), torch.sign(x)) ** big
    p2 = sgn * sum(a[i] * pt[big - i] for i in range(m + 1))
    if denominator == "safe":
        q2 = at[big] + sum(b[k - 1].abs() * at[big - k] for k in range(1, n + 1))
    else:
        q2 = at[big] + sum(b[k - 1] * pt[big - k] for k in range(1, n + 1)).abs()
    return torch.where(small, p1 / q1, p2 / q2)


class Rational(nn.Module):
    """Padé activation unit (Molina, Schramowski & Kersting 2019): ``P(x) / Q(x)``.

    ``P(x) = a0 + a1 x + ... + am x^m``; the denominator never vanishes:
    ``"safe"`` (default, the catalog's): ``Q = 1 + |b1 x| + ... + |bn x^n|``;
    ``"abs"``: ``Q = 1 + |b1 x + ... + bn x^n|``.

    Args:
        init: the catalog activation to start from, fitted by least squares on
            ``fit_range`` (a name, or a bound ``actlab.get(name, **params)``).
            None: the catalog entry ``rational``'s coefficients (a fit to
            ``leaky_relu(0.01)`` on [-3, 3]) when the degrees and denominator are
            the catalog's (5, 4), "safe"; a fresh fit to ``leaky_relu`` otherwise.
        degrees: ``(m, n)``.
        num_parameters: 1 (per layer, as in the paper) or the number of channels.
        channel_dim: the input axis the channels run along.

    Parameters: ``numerator`` (a0..am) and ``denominator`` (b1..bn), each with a
    leading channel axis when ``num_parameters > 1``.

    ``fit_error`` reports the initial fit: ``{"target", "range", "rms", "max_abs", "points"}``.
    The forward uses the fused ``actlab.torch.kernels.rational`` when present
    (per layer, safe denominator, eager mode), else composite torch ops.
    """

    def __init__(self, init: str | _Bound | None = None, *, degrees: tuple[int, int] = (5, 4),
                 denominator: str = "safe", fit_range: tuple[float, float] = (-3.0, 3.0),
                 num_parameters: int = 1, channel_dim: int = 1) -> None:
        super().__init__()
        m, n = _check_degrees(degrees)
        if denominator not in DENOMINATORS:
            raise ParameterError(f"Rational: denominator must be one of {DENOMINATORS}, got {denominator!r}")
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ParameterError(f"Rational: num_parameters must be a positive int, got {num_parameters!r}")
        self.degrees = (m, n)
        self.form = denominator
        self.channel_dim = channel_dim
        self.num_parameters = num_parameters
        catalog_form = (m, n) == (5, 4) and denominator == "safe" and tuple(fit_range) == (-3.0, 3.0)
        if init is None and catalog_form and "rational" in actlab.names():
            d = actlab.spec("rational").defaults
            a = np.array([d[f"a{i}"] for i in range(6)])
            b = np.array([abs(d[f"b{k}"]) for k in range(1, 5)])
            target = actlab.get("leaky_relu", negative_slope=0.01)
            x = np.linspace(fit_range[0], fit_range[1], 2001)
            err = rational_reference(x, a, b) - np.asarray(target(x))
            self.fit_error = {"target": repr(target), "range": tuple(fit_range), "points": 2001,
                              "rms": float(np.sqrt(np.mean(err**2))), "max_abs": float(np.max(np.abs(err)))}
        else:
            fit_to = actlab.get("leaky_relu", negative_slope=0.01) if init is None else init
            a, b, self.fit_error = fit_rational(fit_to, (m, n), denominator=denominator, fit_range=fit_range)
        dt = torch.get_default_dtype()
        num = torch.tensor(np.tile(a, (num_parameters, 1)), dtype=dt)
        den = torch.tensor(np.tile(b, (num_parameters, 1)), dtype=dt).reshape(num_parameters, n)
        if num_parameters == 1:
            num, den = num[0], den[0]
        self.numerator = nn.Parameter(num.contiguous())
        self.denominator = nn.Parameter(den.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _autograd.as_float_tensor(x, "rational")
        a, b = self.numerator, self.denominator
        if (self.num_parameters == 1 and self.form == "safe" and not torch.compiler.is_compiling()
                and _autograd.kernels_enabled()):
            kernel = _rational_kernel()
            if kernel is not None:
                return kernel(x, a, b)
        xc = _autograd._up(x)
        if self.num_parameters == 1:
            ac = [a[i].to(xc.dtype) for i in range(a.shape[0])]
            bc = [b[k].to(xc.dtype) for k in range(b.shape[0])]
        else:
            ac = [_channel_view(c, x, self.channel_dim, "Rational").to(xc.dtype) for c in a.unbind(1)]
            bc = [_channel_view(c, x, self.channel_dim, "Rational").to(xc.dtype) for c in b.unbind(1)]
        y = rational_torch(xc, ac, bc, self.form)
        return y.to(x.dtype) if y.dtype != x.dtype else y

    def extra_repr(self) -> str:
        parts = [f"degrees={self.degrees}", f"denominator={self.form!r}"]
        if self.num_parameters != 1:
            parts.append(f"num_parameters={self.num_parameters}")
        parts.append(f"fit={self.fit_error['target']} rms={self.fit_error['rms']:.2g}")
        return ", ".join(parts)


def _rational_kernel() -> Any:
    try:
        from .kernels import rational
    except ImportError:
        return None
    return rational
