"""Algebraic rewrites: faster forms of catalog entries, kept only where measured faster.

Each rewrite is written against ``ops`` exactly like a catalog entry, so the same
tracer turns it into the C and Triton kernels, and tests/test_kernels.py checks it
against the catalog's own forward and derivative on the extreme grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rewrite:
    """Replacement ``forward`` and/or ``derivative`` (None: the catalog's own)."""

    forward: Callable | None = None
    derivative: Callable | None = None
    grad_from: str | None = None
    why: str = ""


def _mish_derivative(x, y, o):
    # mish'(x) = e^x w / d^2 with w = 4(x + 1) + 4e^2x + e^3x + e^x (4x + 6), d = 2e^x + e^2x + 2:
    # one exp and one division (the catalog's form, exact in both tails, takes three and five).
    # For x > 20, mish'(x) = 1 - O(x e^-2x) rounds to 1; below -1000 e^x is 0.
    xc = o.clip(x, -1000.0, 20.0)
    e = o.exp(xc)
    w = 4.0 * (xc + 1.0) + e * (4.0 * xc + 6.0 + e * (4.0 + e))
    d = 2.0 + e * (2.0 + e)
    return o.where(x > 20.0, 1.0, e * w / (d * d))


REWRITES: dict[str, Rewrite] = {
    "mish": Rewrite(derivative=_mish_derivative, why="backward: 1 exp + 1 div instead of 3 exp + 5 div"),
}
