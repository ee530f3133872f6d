"""Fused activation kernels for PyTorch: CPU (fused / rewritten), GPU (Triton).

The interface the autograd wrappers in :mod:`actlab.torch` code against:

``fused(name, x) -> FusedKernel | None``
    The fastest known kernel for activation ``name`` on ``x``'s device and
    dtype, or ``None`` where no kernel beats the generic path (then use the
    catalog's forward and derivative). ``x`` is only inspected for its device
    and dtype.

``FusedKernel``
    - ``saves``: ``"input"`` or ``"output"`` (or ``"mask"`` for piecewise-linear
      entries: a 1-byte bool tensor);
    - ``save(x, y, **params) -> Tensor``: the one tensor to keep for backward
      (``x``, ``y`` or a bool mask, according to ``saves``);
    - ``forward(x, **params) -> Tensor``: ``f(x)``, same dtype as ``x``;
    - ``backward(saved, grad, **params) -> Tensor``: ``grad * f'(x)``.

    Parameters are python floats (the catalog's validated values).

``apply(name, x, **params) -> Tensor``
    A ready autograd function built from ``fused`` (falls back to the catalog).

``rational(x, numerator, denominator) -> Tensor``
    The safe Padé activation unit, autograd-aware and fused:
    ``f(x) = P(x) / (1 + sum_k |b_k x^k|)`` with ``numerator = (a0..am)`` and
    ``denominator = (b1..bn)`` as 1-d tensors (gradients flow to all three).

This package imports without ``actlab.torch``'s other modules and without
Triton or a C++ compiler; each missing piece only turns its kernels off.
"""

from __future__ import annotations

from ._api import FusedKernel, apply, available, fused, rational

__all__ = ["FusedKernel", "apply", "available", "fused", "rational"]
