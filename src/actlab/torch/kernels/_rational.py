"""The safe Padé activation unit (PAU), fused forward and backward.

    f(x) = P(x) / Q(x),  P(x) = sum_{i=0..m} a_i x^i,  Q(x) = 1 + sum_{k=1..n} |b_k| |x|^k

Evaluated in two regimes so that no power overflows:

- ``|x| <= 1``: Horner in ``x`` directly;
- ``|x| > 1``: with ``t = 1/x``, ``P = x^m Pt(t)`` and ``Q = |x|^n Qt(t)``, where
  ``Pt(t) = sum_i a_i t^(m-i)`` and ``Qt(t) = |t|^n + sum_k |b_k| |t|^(n-k)``, so
  ``f = s Pt/Qt`` with ``s = x^m / |x|^n``.

Backward (one pass over ``x`` and the incoming gradient ``g``):

- ``f'(x) = (P' - f Q') / Q``  (regime 2: ``t (s Pt' - f Qt') / Qt``);
- ``dL/da_i = sum g x^i / Q``  (regime 2: ``sum g s t^(m-i) / Qt``);
- ``dL/db_k = -sign(b_k) sum g f |x|^k / Q``  (regime 2: ``|t|^(n-k)`` / ``Qt``).

Only ``x`` is saved (4 bytes per element in fp32). The reductions over
elements are accumulated in float64 for float64 input and float32 otherwise,
by ``torch.sum`` (pairwise, so the rounding error grows like log N).
"""

from __future__ import annotations

import torch

BIG = 1e18


def _pow_list(u: torch.Tensor, n: int) -> list[torch.Tensor]:
    """[u^0, u^1, ..., u^n] (u^0 as a python float)."""
    out: list = [1.0]
    for _ in range(n):
        out.append(u if len(out) == 1 else out[-1] * u)
    return out


def _terms(x: torch.Tensor, a: list[float] | torch.Tensor, b: list[float] | torch.Tensor):
    """Per-element f, f' and the per-element parameter sensitivities (pure torch)."""
    m, n = len(a) - 1, len(b)
    ab = [abs(float(v)) for v in b]
    sb = [1.0 if float(v) > 0 else (-1.0 if float(v) < 0 else 0.0) for v in b]
    af = [float(v) for v in a]
    xc = torch.clamp(x, -BIG, BIG)
    small = xc.abs() <= 1.0
    # regime 1: u = x (|x| <= 1)
    u = torch.where(small, xc, torch.zeros_like(xc))
    au = u.abs()
    pu = _pow_list(u, max(m, 1))
    pau = _pow_list(au, n)
    P = sum(af[i] * pu[i] for i in range(m + 1)) + 0 * u
    Q = 1.0 + sum(ab[k - 1] * pau[k] for k in range(1, n + 1)) + 0 * u
    dP = sum(i * af[i] * pu[i - 1] for i in range(1, m + 1)) + 0 * u
    dQ = torch.sign(u) * sum(k * ab[k - 1] * pau[k - 1] for k in range(1, n + 1))
    f1 = P / Q
    d1 = (dP - f1 * dQ) / Q
    da1 = [pu[i] / Q for i in range(m + 1)]
    db1 = [-sb[k - 1] * f1 * pau[k] / Q for k in range(1, n + 1)]
    # regime 2: t = 1/x (|x| > 1)
    t = torch.where(small, torch.ones_like(xc), 1.0 / xc)
    at = t.abs()
    pt = _pow_list(t, m)
    pat = _pow_list(at, n)
    Pt = sum(af[i] * pt[m - i] for i in range(m + 1)) + 0 * t
    Qt = pat[n] + sum(ab[k - 1] * pat[n - k] for k in range(1, n + 1)) + 0 * t
    dPt = sum(i * af[i] * pt[m - i] for i in range(m + 1)) + 0 * t
    dQt = sum(k * ab[k - 1] * pat[n - k] for k in range(1, n + 1)) + 0 * t
    sx = torch.where(small, torch.ones_like(xc), xc)
    s = (sx.sign() ** m) * sx.abs() ** (m - n)
    # the forward takes the limit at +-inf (unclamped x); the derivatives use the clamp
    sinf = torch.where(small, torch.ones_like(x), x)
    f2 = (sinf.sign() ** m) * sinf.abs() ** (m - n) * Pt / Qt
    f2c = s * Pt / Qt
    d2 = t * (s * dPt - f2c * dQt) / Qt
    da2 = [s * pt[m - i] / Qt for i in range(m + 1)]
    db2 = [-sb[k - 1] * f2c * pat[n - k] / Qt for k in range(1, n + 1)]
    f = torch.where(small, f1, f2)
    d = torch.where(small, d1, d2)
    da = [torch.where(small, p, q) for p, q in zip(da1, da2)]
    db = [torch.where(small, p, q) for p, q in zip(db1, db2)]
    return f, d, da, db


def forward_reference(x: torch.Tensor, a, b) -> torch.Tensor:
    """Plain torch forward (two-regime), used by tests and as the fallback."""
    return _terms(x, a, b)[0]


class _Rational(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, b):  # type: ignore[override]
        ctx.save_for_backward(x, a, b)
        al, bl = a.detach().cpu().tolist(), b.detach().cpu().tolist()
        return forward_reference(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x, al, bl).to(
            x.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, a, b = ctx.saved_tensors
        al, bl = a.detach().cpu().tolist(), b.detach().cpu().tolist()
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        gc = g.to(xc.dtype)
        _, d, da, db = _terms(xc, al, bl)
        gx = (gc * d).to(x.dtype) if ctx.needs_input_grad[0] else None
        ga = torch.stack([(gc * t).sum() for t in da]).to(a.dtype) if ctx.needs_input_grad[1] else None
        gb = torch.stack([(gc * t).sum() for t in db]).to(b.dtype) if ctx.needs_input_grad[2] else None
        return gx, ga, gb


def rational(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    if not isinstance(numerator, torch.Tensor):
        numerator = torch.as_tensor(numerator, dtype=torch.float64)
    if not isinstance(denominator, torch.Tensor):
        denominator = torch.as_tensor(denominator, dtype=torch.float64)
    return _Rational.apply(x, numerator, denominator)
