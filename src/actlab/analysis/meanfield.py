"""Mean-field signal propagation through deep random networks.

For a wide MLP ``h_l = W_l f(h_{l-1}) + b_l`` with weights ~ N(0, sigma_w^2 / n) and
biases ~ N(0, sigma_b^2) (Poole et al. 2016, "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz et al. 2017, "Deep
Information Propagation"):

- **variance map** ``q_{l+1} = V(q_l) = sigma_w^2 E[f(sqrt(q_l) z)^2] + sigma_b^2``,
  z ~ N(0, 1), with an attracting fixed point q*;
- **chi1** ``= sigma_w^2 E[f'(sqrt(q*) z)^2]``: the factor by which a small
  perturbation (or a gradient) grows per layer at q*. chi1 < 1 is the ordered
  phase (inputs become correlated, gradients vanish), chi1 > 1 the chaotic phase
  (gradients explode); chi1 = 1 is the edge of chaos;
- **depth scales**: ``xi_q = -1/log(chi_q)`` with ``chi_q = V'(q*)`` (how fast the
  variance settles; computed as ``sigma_w^2 E[z f f'] / sqrt(q*)``, Stein's lemma,
  so no f'' is needed), ``xi_c = -1/log(chi_c)`` with ``chi_c =
  sigma_w^2 E[f'(u1) f'(u2)]`` at the correlation fixed point c* (= chi1 when
  c* = 1), and the gradient scale ``1/|log chi1|``.

:func:`propagate` checks all this by Monte Carlo through a finite random network.
Expectations use the panel quadrature of :mod:`actlab.analysis.quadrature`,
split at the activation's kinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._common import df_np, elementwise, f_np

__all__ = [
    "MeanField",
    "Propagation",
    "chi1",
    "correlation_map",
    "depth_scales",
    "edge_of_chaos",
    "fixed_point",
    "mean_field",
    "plot_propagation",
    "propagate",
    "variance_map",
]


class _Act:
    """f, f' on numpy and the breakpoints, for repeated expectations."""

    def __init__(self, act: Any, what: str) -> None:
        from .derived import breakpoints

        self.act = elementwise(act, what)
        self.f, self.df = f_np(self.act), df_np(self.act)
        self.bps = breakpoints(self.act)

    def e(self, g: Any, q: float) -> float:
        from .quadrature import gaussian_expectation

        return gaussian_expectation(g, 0.0, math.sqrt(max(q, 0.0)), breakpoints=self.bps)


def _as(act: Any, what: str) -> _Act:
    return act if isinstance(act, _Act) else _Act(act, what)


def variance_map(act: Any, q: float, sigma_w: float, sigma_b: float = 0.0) -> float:
    """V(q) = sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2.

    >>> round(variance_map("relu", 3.0, 2 ** 0.5), 12)   # He init keeps q
    3.0
    """
    a = _as(act, "variance_map")
    f = a.f
    return sigma_w**2 * a.e(lambda u: f(u) ** 2, q) + sigma_b**2


def fixed_point(act: Any, sigma_w: float, sigma_b: float = 0.0, q0: float = 1.0) -> float:
    """The attracting fixed point q* of the variance map (0: the signal dies out, inf: it blows up).

    Where every q is a fixed point (ReLU at sigma_w^2 = 2, sigma_b = 0) returns q0.

    >>> round(fixed_point("tanh", 1.5, 0.1), 6)
    0.813322
    """
    from scipy.optimize import brentq

    a = _as(act, "fixed_point")

    def g(q: float) -> float:
        return variance_map(a, q, sigma_w, sigma_b) - q

    # iterate the map from q0 (what a network does), polishing the root it approaches
    q = q_prev = float(q0)
    for i in range(1, 61):
        qn = variance_map(a, q, sigma_w, sigma_b)
        if not math.isfinite(qn) or qn > 1e12:
            return math.inf
        if qn < 1e-12 and sigma_b == 0.0:
            return 0.0
        if abs(qn - q) <= 1e-15 * q:
            return qn
        q_prev, q = q, qn
        if i % 10 == 0:  # slow convergence (near the edge of chaos): bracket the root and solve
            lo_q, hi_q = q / 2.0, q * 2.0
            if g(lo_q) > 0 >= g(hi_q):
                return float(brentq(g, lo_q, hi_q, xtol=1e-300, rtol=1e-15, maxiter=200))
    # still creeping: look for the attracting root (V - q from + to -) the way it is heading
    down = q < q_prev
    qs = np.geomspace(1e-12, q, 25) if down else np.geomspace(q, 1e12, 25)
    gs = np.array([g(float(t)) for t in qs])
    roots = [
        brentq(g, qs[i], qs[i + 1], xtol=1e-300, rtol=1e-15, maxiter=200)
        for i in range(len(qs) - 1)
        if gs[i] > 0 >= gs[i + 1]
    ]
    if roots:
        return float(max(roots) if down else min(roots))
    return 0.0 if down else math.inf


def chi1(act: Any, sigma_w: float, sigma_b: float = 0.0, q: float | None = None) -> float:
    """chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2] (q given, or the fixed point).

    >>> round(chi1("relu", 2 ** 0.5), 12)
    1.0
    """
    a = _as(act, "chi1")
    if q is None:
        q = fixed_point(a, sigma_w, sigma_b)
    if not math.isfinite(q):
        q = 1e8  # past the scale of any kink: the asymptotic slope decides
    q = max(q, 1e-200)  # q* = 0: the limit q -> 0+ (at a kink at 0, both sides count)
    df = a.df
    return sigma_w**2 * a.e(lambda u: df(u) ** 2, q)


def _chi_q(a: _Act, sigma_w: float, q: float) -> float:
    if not math.isfinite(q):
        return math.nan
    q = max(q, 1e-200)
    s = math.sqrt(q)
    f, df = a.f, a.df
    return sigma_w**2 * a.e(lambda u: (u / s) * f(u) * df(u), q) / s


def correlation_map(
    act: Any, c: float, sigma_w: float, sigma_b: float = 0.0, q: float | None = None
) -> float:
    """C(c) = (sigma_w^2 E[f(u1) f(u2)] + sigma_b^2) / q*, (u1, u2) centred Gaussian, variances q*,
    correlation c."""
    from .quadrature import gaussian_expectation_2d

    a = _as(act, "correlation_map")
    if q is None:
        q = fixed_point(a, sigma_w, sigma_b)
    if not (q > 0 and math.isfinite(q)):
        return 1.0
    f = a.f
    e = gaussian_expectation_2d(lambda u1, u2: f(u1) * f(u2), q, q, c, breakpoints=a.bps)
    return (sigma_w**2 * e + sigma_b**2) / q


@dataclass(frozen=True)
class MeanField:
    """The mean-field quantities of one (activation, sigma_w, sigma_b)."""

    name: str
    sigma_w: float
    sigma_b: float
    q_star: float
    chi1: float
    chi_q: float
    c_star: float
    chi_c: float
    xi_q: float  # -1/log chi_q
    xi_c: float  # -1/log chi_c (inf at the edge of chaos)
    xi_grad: float  # 1/|log chi1|: layers over which gradients change by e

    @property
    def phase(self) -> str:
        if abs(self.chi1 - 1.0) <= 1e-6:
            return "critical"
        return "ordered" if self.chi1 < 1.0 else "chaotic"

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["phase"] = self.phase
        return d


def _depth(chi: float) -> float:
    if not (chi > 0) or not math.isfinite(chi):
        return math.nan
    lg = math.log(chi)
    return math.inf if lg == 0 else -1.0 / lg


def mean_field(act: Any, sigma_w: float, sigma_b: float = 0.0) -> MeanField:
    """q*, chi1, chi_q, c*, chi_c and the depth scales at (sigma_w, sigma_b)."""
    a = _as(act, "mean_field")
    q = fixed_point(a, sigma_w, sigma_b)
    c1 = chi1(a, sigma_w, sigma_b, q)
    cq = _chi_q(a, sigma_w, q) if math.isfinite(q) else math.nan
    # correlation fixed point: iterate from c = 0 (c* = 1 in the ordered phase)
    c_star = 1.0
    if math.isfinite(q) and q > 0 and c1 > 1.0 + 1e-9:
        # chaotic: C(c) - c is >= 0 at c = 0 and < 0 just below 1 (C'(1) = chi1 > 1)
        from scipy.optimize import brentq

        def gc(c: float) -> float:
            return correlation_map(a, c, sigma_w, sigma_b, q) - c

        top = next((1.0 - d for d in (1e-3, 1e-4, 1e-5) if gc(1.0 - d) < 0), None)
        g0 = gc(0.0)
        if top is not None and g0 >= 0:
            c_star = 0.0 if g0 == 0 else brentq(gc, 0.0, top, xtol=1e-12, maxiter=100)
        elif top is not None:  # C(0) < 0 (an odd f with a negative sigma_b^2 term cannot; be safe)
            c_star = brentq(gc, -1.0 + 1e-9, top, xtol=1e-12, maxiter=100) if gc(-1.0 + 1e-9) > 0 else 1.0
    if c_star >= 1.0 - 1e-9 or not (q > 0 and math.isfinite(q)):
        chi_c = c1
    else:
        from .quadrature import gaussian_expectation_2d

        df = a.df
        chi_c = sigma_w**2 * gaussian_expectation_2d(
            lambda u1, u2: df(u1) * df(u2), q, q, c_star, breakpoints=a.bps
        )
    lg = math.log(c1) if c1 > 0 and math.isfinite(c1) else math.nan
    xi_grad = math.inf if lg == 0 else (1.0 / abs(lg) if math.isfinite(lg) else math.nan)
    return MeanField(
        a.act.name,
        float(sigma_w),
        float(sigma_b),
        q,
        c1,
        cq,
        c_star,
        chi_c,
        _depth(cq),
        _depth(chi_c),
        xi_grad,
    )


def depth_scales(act: Any, sigma_w: float, sigma_b: float = 0.0) -> dict[str, float]:
    """``{"xi_q", "xi_c", "xi_grad"}``: see :class:`MeanField`."""
    m = mean_field(act, sigma_w, sigma_b)
    return {"xi_q": m.xi_q, "xi_c": m.xi_c, "xi_grad": m.xi_grad}


def edge_of_chaos(
    act: Any, sigma_b: float = 0.0, bracket: tuple[float, float] = (0.05, 20.0), **params: Any
) -> float:
    """sigma_w at which chi1 = 1 (at the variance fixed point) for the given sigma_b.

    >>> round(edge_of_chaos("relu"), 10), round(edge_of_chaos("tanh"), 6)
    (1.4142135624, 1.0)
    """
    from scipy.optimize import brentq

    a = _Act(elementwise(act, "edge_of_chaos", **params), "edge_of_chaos")

    def h(log_sw: float) -> float:
        sw = math.exp(log_sw)
        return math.log(chi1(a, sw, sigma_b))

    lo, hi = math.log(bracket[0]), math.log(bracket[1])
    hl, hh = h(lo), h(hi)
    if not (hl < 0 < hh):
        raise ValueError(
            f"edge_of_chaos: chi1 - 1 does not change sign for sigma_w in {bracket} "
            f"({a.act.name}, sigma_b={sigma_b}: chi1 = {math.exp(hl):.4g} ... {math.exp(hh):.4g})"
        )
    root = brentq(h, lo, hi, xtol=1e-7, maxiter=100)
    # a root, or a jump of chi1 where the attracting fixed point changes (0 <-> inf)?
    below, above = h(root - 1e-6), h(root + 1e-6)
    if max(abs(below), abs(above)) > 1e-3:
        raise ValueError(
            f"edge_of_chaos: {a.act.name} at sigma_b={sigma_b} has no sigma_w with chi1 = 1 at an "
            f"attracting fixed point: chi1 jumps from {math.exp(below):.4g} to {math.exp(above):.4g} at "
            f"sigma_w = {math.exp(root):.6g}, where the variance map's attractor switches (q* = "
            f"{fixed_point(a, math.exp(root - 1e-6), sigma_b):.3g} -> "
            f"{fixed_point(a, math.exp(root + 1e-6), sigma_b):.3g}); try sigma_b > 0"
        )
    if h(root - 1e-6) < 0 < h(root + 1e-6):
        root = brentq(h, root - 1e-6, root + 1e-6, xtol=1e-14, rtol=1e-15, maxiter=100)
    return math.exp(root)


# --- Monte Carlo ---------------------------------------------------------------------------------


@dataclass
class Propagation:
    """Per-layer statistics of a Monte Carlo pass through a random MLP (index l = 0 ... depth).

    Pre-activations ``h_l`` (``h_0`` are the inputs, ~ N(0, q0)), activations
    ``x_l = f(h_l)``, and backward signals ``delta_l = dL/dh_l`` for a random
    Gaussian output gradient. ``q_mean_field`` iterates the variance map from q0,
    ``chi1_per_layer`` is sigma_w^2 E f'(sqrt(q_l) z)^2 at the mean-field q_l.
    """

    name: str
    depth: int
    width: int
    sigma_w: float
    sigma_b: float
    pre_mean: np.ndarray
    pre_var: np.ndarray
    pre_second_moment: np.ndarray
    act_mean: np.ndarray
    act_var: np.ndarray
    grad_second_moment: np.ndarray
    q_mean_field: np.ndarray
    chi1_per_layer: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def log2_ratio(self) -> np.ndarray:
        """log2(q_{l+1} / q_l) of the pre-activation second moments: 0 when a layer preserves it."""
        with np.errstate(all="ignore"):
            return np.diff(np.log2(self.pre_second_moment))

    @property
    def grad_log2_ratio(self) -> np.ndarray:
        """log2(E delta_l^2 / E delta_{l+1}^2): per layer, how much the gradient grows going back."""
        with np.errstate(all="ignore"):
            return -np.diff(np.log2(self.grad_second_moment))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    def plot(self, ax: Any = None) -> Any:
        return plot_propagation(self, ax=ax)


def _init_sigma(a: _Act, init: Any, sigma_b: float) -> tuple[float, float]:
    if isinstance(init, tuple):
        return float(init[0]), float(init[1])
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        return float(init), sigma_b
    key = str(init).lower()
    if key == "gain":
        from .init import init_gain

        return init_gain(a.act), sigma_b
    if key in ("critical", "edge", "edge_of_chaos"):
        return edge_of_chaos(a.act, sigma_b), sigma_b
    if key in ("he", "kaiming"):
        return math.sqrt(2.0), sigma_b
    if key in ("lecun", "xavier", "glorot"):  # square layers: Glorot's 2/(n_in + n_out) = 1/n
        return 1.0, sigma_b
    raise ValueError(
        f"propagate: init must be 'gain', 'critical', 'he', 'lecun', 'xavier', a sigma_w or a "
        f"(sigma_w, sigma_b) pair, got {init!r}"
    )


def propagate(
    act: Any,
    depth: int = 50,
    width: int = 256,
    init: Any = "gain",
    *,
    sigma_b: float = 0.0,
    batch: int = 256,
    q0: float = 1.0,
    weights: str = "normal",
    seed: int | None = 0,
    with_mean_field: bool = True,
    **params: Any,
) -> Propagation:
    """Monte Carlo of a signal (and its gradient) through a random ``depth``-layer MLP of ``width``.

    ``init``: ``"gain"`` (sigma_w = :func:`init_gain`), ``"critical"`` (the edge of
    chaos for ``sigma_b``), ``"he"`` (sqrt 2), ``"lecun"`` / ``"xavier"`` (1), a
    number (sigma_w) or a ``(sigma_w, sigma_b)`` pair. Weights are ``"normal"`` or
    ``"uniform"`` with variance sigma_w^2 / width. ``batch`` inputs, each ~ N(0, q0 I).
    Runs in float64 numpy.

    >>> p = propagate("relu", depth=30, width=256, init="lecun", seed=1)
    >>> bool(abs(p.log2_ratio.mean() + 1) < 0.1)   # 1/n variance halves the signal each layer
    True
    """
    a = _Act(elementwise(act, "propagate", **params), "propagate")
    sw, sb = _init_sigma(a, init, sigma_b)
    if weights not in ("normal", "uniform"):
        raise ValueError(f"propagate: weights must be 'normal' or 'uniform', got {weights!r}")
    rng = np.random.default_rng(seed)
    std = sw / math.sqrt(width)

    def draw(shape: tuple[int, ...], s: float) -> np.ndarray:
        if weights == "normal":
            return rng.normal(0.0, s, shape)
        b = math.sqrt(3.0) * s
        return rng.uniform(-b, b, shape)

    h = rng.normal(0.0, math.sqrt(q0), (batch, width))
    hs = [h]
    ws = []
    with np.errstate(all="ignore"):
        for _ in range(depth):
            w = draw((width, width), std)
            b = draw((width,), sb) if sb > 0 else np.zeros(width)
            h = a.f(h) @ w.T + b
            ws.append(w)
            hs.append(h)
        delta = rng.normal(0.0, 1.0, (batch, width)) * a.df(hs[-1])
        grads = [delta]
        for layer in range(depth - 1, -1, -1):
            delta = (delta @ ws[layer]) * a.df(hs[layer])
            grads.append(delta)
    grads = grads[::-1]
    stack = np.stack(hs)
    xs = a.f(stack)
    gstack = np.stack(grads)
    qmf = np.full(depth + 1, math.nan)
    chis = np.full(depth + 1, math.nan)
    if with_mean_field:
        qmf[0] = q0
        for i in range(depth):
            qmf[i + 1] = variance_map(a, qmf[i], sw, sb)
            if not math.isfinite(qmf[i + 1]) or qmf[i + 1] > 1e300:
                break
        for i in range(depth + 1):
            if math.isfinite(qmf[i]):
                chis[i] = chi1(a, sw, sb, float(qmf[i]))
    with np.errstate(all="ignore"):
        return Propagation(
            a.act.name,
            depth,
            width,
            sw,
            sb,
            pre_mean=stack.mean(axis=(1, 2)),
            pre_var=stack.var(axis=(1, 2)),
            pre_second_moment=np.mean(stack**2, axis=(1, 2)),
            act_mean=xs.mean(axis=(1, 2)),
            act_var=xs.var(axis=(1, 2)),
            grad_second_moment=np.mean(gstack**2, axis=(1, 2)),
            q_mean_field=qmf,
            chi1_per_layer=chis,
        )


def plot_propagation(result: Propagation | list[Propagation], ax: Any = None) -> Any:
    """Plot forward second moments (Monte Carlo and mean field) and backward gradient second moments
    per layer, log scale. Returns the matplotlib Figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    else:
        axes = ax
        fig = axes[0].figure
    results = result if isinstance(result, list) else [result]
    for r in results:
        layers = np.arange(r.depth + 1)
        label = f"{r.name} (σw={r.sigma_w:.3g}, σb={r.sigma_b:.3g})"
        (line,) = axes[0].semilogy(layers, r.pre_second_moment, label=label)
        if np.isfinite(r.q_mean_field).any():
            axes[0].semilogy(layers, r.q_mean_field, "--", color=line.get_color(), alpha=0.7)
        axes[1].plot(layers, r.act_mean, color=line.get_color(), label=f"{r.name} mean")
        axes[1].plot(layers, np.sqrt(r.act_var), ":", color=line.get_color(), label=f"{r.name} std")
        axes[2].semilogy(layers, r.grad_second_moment, color=line.get_color(), label=label)
    axes[0].set(title="pre-activation E[h²] (dashed: mean field)", xlabel="layer")
    axes[1].set(title="activation mean / std", xlabel="layer")
    axes[2].set(title="gradient E[(∂L/∂h)²]", xlabel="layer")
    axes[0].legend(fontsize=8)
    return fig
