"""Self-normalizing activations (Klambauer, Unterthiner, Mayr & Hochreiter 2017).

A layer maps the mean and variance (mu, nu) of its inputs to those of its outputs
(Klambauer et al.'s g): with weight sum omega = sum_i w_i and squared sum
tau = sum_i w_i^2, the pre-activation is z ~ N(mu omega, nu tau) and

    mu~ = E[lambda f(z)],   nu~ = E[(lambda f(z))^2] - mu~^2.

:func:`self_normalizing` finds the parameter alpha of a family f(x; alpha) and
the scale lambda for which (0, 1) is a fixed point at normalized weights
(omega = 0, tau = 1): E[f(z; alpha)] = 0 for z ~ N(0, 1) fixes alpha (lambda does
not enter), then lambda = 1 / sqrt(E f^2). For the ELU this gives SELU's
alpha = 1.6732632423543772, lambda = 1.0507009873554805. The Jacobian of (mu~, nu~)
with respect to (mu, nu) at the fixed point comes from Stein's lemma
(d/d(sigma^2) E h(z) = E[h'(z) eps] / (2 sigma), z = m + sigma eps), so only f and
f' are needed; its spectral norm below 1 means the fixed point attracts.
Expectations use the panel quadrature, split at the family's kinks, accurate to
about 1e-15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import df_np, elementwise, f_np, resolve

__all__ = ["SelfNormalizing", "moment_map", "moment_map_jacobian", "self_normalizing", "selu_constants"]

#: SELU's published constants (Klambauer et al. 2017; PyTorch's torch.nn.SELU).
SELU_ALPHA = 1.6732632423543772
SELU_LAMBDA = 1.0507009873554805


def selu_constants(dps: int = 40) -> tuple[Any, Any]:
    """(alpha, lambda) of SELU in closed form, as mpmath numbers at ``dps`` digits.

    E[elu(z; a)] = 1/sqrt(2 pi) + a (e^(1/2) Phi(-1) - 1/2) = 0 and
    E[elu(z; a)^2] = 1/2 + a^2 (e^2 Phi(-2) - 2 e^(1/2) Phi(-1) + 1/2) = 1/lambda^2,
    with E[e^(kz); z < 0] = e^(k^2/2) Phi(-k).

    >>> a, l = selu_constants()
    >>> float(a), float(l)
    (1.6732632423543772, 1.0507009873554805)
    """
    import mpmath

    with mpmath.workdps(dps + 10):
        phi = lambda t: mpmath.erfc(-t / mpmath.sqrt(2)) / 2  # noqa: E731 - the normal CDF
        e = mpmath.e
        alpha = (1 / mpmath.sqrt(2 * mpmath.pi)) / (mpmath.mpf(1) / 2 - mpmath.sqrt(e) * phi(-1))
        m2 = mpmath.mpf(1) / 2 + alpha**2 * (
            e**2 * phi(-2) - 2 * mpmath.sqrt(e) * phi(-1) + mpmath.mpf(1) / 2
        )
        lam = 1 / mpmath.sqrt(m2)
        return +alpha, +lam


class _Family:
    def __init__(self, act: Any, scale: float = 1.0, breakpoints: Any = None) -> None:
        from .derived import breakpoints as _bps

        self.act = elementwise(act, "self_normalizing")
        self.scale = float(scale)
        self.f, self.df = f_np(self.act), df_np(self.act)
        self.bps = tuple(breakpoints) if breakpoints is not None else _bps(self.act)

    def e(self, g: Any, m: float, s: float) -> float:
        from .quadrature import gaussian_expectation

        return gaussian_expectation(g, m, s, breakpoints=self.bps)


def moment_map(
    act: Any, mu: float, nu: float, omega: float = 0.0, tau: float = 1.0, scale: float = 1.0, **params: Any
) -> tuple[float, float]:
    """(mu~, nu~): mean and variance of ``scale * f(z)`` for z ~ N(mu omega, nu tau).

    >>> m, v = moment_map("selu", 0.0, 1.0)
    >>> abs(m) < 1e-12, abs(v - 1) < 1e-12
    (True, True)
    """
    fam = act if isinstance(act, _Family) else _Family(resolve(act, **params), scale)
    lam = fam.scale
    m, s = mu * omega, math.sqrt(nu * tau)
    f = fam.f
    m1 = lam * fam.e(f, m, s)
    m2 = lam * lam * fam.e(lambda z: f(z) ** 2, m, s)
    return m1, m2 - m1 * m1


def moment_map_jacobian(
    act: Any, mu: float, nu: float, omega: float = 0.0, tau: float = 1.0, scale: float = 1.0, **params: Any
) -> np.ndarray:
    """The 2x2 Jacobian d(mu~, nu~)/d(mu, nu) of :func:`moment_map` (Stein's lemma, no f'' needed)."""
    fam = act if isinstance(act, _Family) else _Family(resolve(act, **params), scale)
    lam = fam.scale
    m, s = mu * omega, math.sqrt(nu * tau)
    f, df = fam.f, fam.df
    e_f = lam * fam.e(f, m, s)
    e_df = lam * fam.e(df, m, s)
    e_ffd = lam * lam * fam.e(lambda z: 2.0 * f(z) * df(z), m, s)
    if s > 0:
        e_df_eps = lam * fam.e(lambda z: df(z) * (z - m) / s, m, s)
        e_ffd_eps = lam * lam * fam.e(lambda z: 2.0 * f(z) * df(z) * (z - m) / s, m, s)
        dvar = tau / (2.0 * s)  # d sigma^2 / d nu = tau; d/d sigma^2 E h = E[h' eps] / (2 sigma)
    else:
        e_df_eps = e_ffd_eps = dvar = 0.0
    dmu_dmu = omega * e_df
    dmu_dnu = dvar * e_df_eps
    dxi_dmu = omega * e_ffd
    dxi_dnu = dvar * e_ffd_eps
    return np.array([[dmu_dmu, dmu_dnu], [dxi_dmu - 2.0 * e_f * dmu_dmu, dxi_dnu - 2.0 * e_f * dmu_dnu]])


@dataclass(frozen=True)
class SelfNormalizing:
    """The solution of :func:`self_normalizing`."""

    family: str
    param: str
    alpha: float  # the solved parameter value
    scale: float  # lambda
    mean: float  # mu~ at (0, 1): 0 up to quadrature error
    variance: float  # nu~ at (0, 1): 1
    jacobian: np.ndarray  # d(mu~, nu~)/d(mu, nu) at (0, 1)
    spectral_norm: float
    omega: float
    tau: float

    @property
    def attracting(self) -> bool:
        return self.spectral_norm < 1.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["jacobian"] = self.jacobian.tolist()
        d["attracting"] = self.attracting
        return d

    def __str__(self) -> str:
        return (
            f"{self.family}: {self.param} = {self.alpha!r}, lambda = {self.scale!r}; Jacobian at (0, 1) "
            f"{np.array2string(self.jacobian, precision=6)}, spectral norm {self.spectral_norm:.6f} "
            f"({'attracting' if self.attracting else 'not attracting'})"
        )


def self_normalizing(
    family: Any = "elu",
    param: str | None = None,
    *,
    bracket: tuple[float, float] | None = None,
    omega: float = 0.0,
    tau: float = 1.0,
    **fixed: Any,
) -> SelfNormalizing:
    """Find (alpha, lambda) for which lambda * f(x; alpha) has the fixed point (mean 0, variance 1).

    ``family``: an activation name (or Activation) with a parameter ``param``
    (default: its first). Other parameters stay at their defaults or ``fixed``.
    ``bracket``: where to look for alpha (default: scanned over the parameter's
    valid range, 1e-3 ... 1e3). ``tau`` is the weights' squared sum (1 normalized).

    >>> s = self_normalizing("elu")
    >>> abs(s.alpha - 1.6732632423543772) < 1e-9, abs(s.scale - 1.0507009873554805) < 1e-9
    (True, True)
    >>> round(s.spectral_norm, 4)   # Klambauer et al.: 0.7877 < 1, the fixed point attracts
    0.7877
    """
    from scipy.optimize import brentq

    base = resolve(family, **fixed)
    spec = base.spec
    if param is None:
        if not spec.params:
            raise ValueError(f"self_normalizing: {spec.name} has no parameter to solve for")
        param = spec.params[0].name
    if param not in spec.param_names:
        raise ValueError(
            f"self_normalizing: {spec.name} has no parameter {param!r}; "
            f"its parameters: {', '.join(spec.param_names) or 'none'}"
        )
    p = next(q for q in spec.params if q.name == param)
    bps = _Family(base).bps  # the kinks at the starting parameters (for ELU: 0, whatever alpha)
    s = math.sqrt(tau)

    def mean_at(a: float) -> float:
        fam = _Family(base.with_params(**{param: a}), 1.0, bps)
        return fam.e(fam.f, 0.0, s)

    if bracket is None:
        lo = max(p.low, 1e-3) if math.isfinite(p.low) else -1e3
        hi = min(p.high, 1e3) if math.isfinite(p.high) else 1e3
        raw = np.geomspace(lo, hi, 61) if lo > 0 else np.linspace(lo, hi, 201)
        grid = [float(a) for a in raw if p.contains(float(a))]
        vals = [mean_at(float(a)) for a in grid]
        found = next(
            ((grid[i], grid[i + 1]) for i in range(len(grid) - 1) if vals[i] * vals[i + 1] <= 0), None
        )
        if found is None:
            raise ValueError(
                f"self_normalizing: E[{spec.name}(z; {param})] does not change sign for "
                f"{param} in [{lo:g}, {hi:g}]; no value centres it"
            )
        bracket = (float(found[0]), float(found[1]))
    alpha = brentq(mean_at, bracket[0], bracket[1], xtol=1e-15, rtol=1e-15, maxiter=200)
    fam = _Family(base.with_params(**{param: alpha}), 1.0, bps)
    m2 = fam.e(lambda z: fam.f(z) ** 2, 0.0, s)
    lam = 1.0 / math.sqrt(m2)
    fam.scale = lam
    mu_t, nu_t = moment_map(fam, 0.0, 1.0, omega, tau)
    jac = moment_map_jacobian(fam, 0.0, 1.0, omega, tau)
    norm = float(np.linalg.norm(jac, 2))
    return SelfNormalizing(spec.name, param, float(alpha), float(lam), mu_t, nu_t, jac, norm, omega, tau)
