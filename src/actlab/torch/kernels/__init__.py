"""Fused activation kernels for PyTorch: CPU (fused / rewritten), GPU (Triton).

The interface the autograd wrappers in :mod:`actlab.torch` code against:

``fused(name, x) -> FusedKernel | None``
    The fastest known kernel for activation ``name`` on ``x``'s device and
    dtype, or ``None`` where no kernel beats the generic path (then use the
    catalog's forward and derivative). ``x`` is only inspected for its device
    and dtype.

``FusedKernel``
    - ``saves``: ``"input"``, ``"output"`` or ``"mask"``: a uint8 tensor, one byte per
      element, of the comparisons the derivative depends on (every entry whose
      derivative is piecewise constant: the piecewise-linear ones and a few more;
      0 elements where the derivative is a constant);
    - ``forward(x, **params) -> Tensor``: ``f(x)``, same dtype as ``x``;
    - ``forward_and_save(x, **params) -> (y, saved)``: both in one pass (use this
      under autograd: ``save`` after ``forward`` costs a second pass for a mask);
    - ``save(x, y, **params) -> Tensor``: the one tensor to keep for backward;
    - ``backward(saved, grad, **params) -> Tensor``: ``grad * f'(x)``;
    - ``backend``: ``"cpu"`` (compiled C) or ``"triton"``.

    Parameters are python floats (the catalog's validated values).

``apply(name, x, **params) -> Tensor``
    A ready autograd function built from ``fused`` (falls back to the catalog).

``combination(x, bases, weights) -> Tensor``
    A learned combination ``sum_i weights[i] * bases[i](x)`` (Manessi & Rozza), fused,
    with the weight gradients reduced in the same backward pass.

``rational(x, numerator, denominator) -> Tensor``
    The safe Padé activation unit, autograd-aware and fused:
    ``f(x) = P(x) / (1 + sum_k |b_k x^k|)`` with ``numerator = (a0..am)`` and
    ``denominator = (b1..bn)`` as 1-d tensors (gradients flow to all three).

This package imports without ``actlab.torch``'s other modules and without
Triton or a C compiler; each missing piece only turns its kernels off.

How the kernels are made: each catalog entry's ``forward`` and ``derivative`` are traced
(``_trace``) into one expression DAG, from which ``_cgen`` emits a vectorized C loop (built
once with gcc, cached on disk) and ``_triton`` emits Triton kernels. ``_rewrites`` holds the
few hand-written faster forms, each checked against the catalog by the same tests.
"""

from __future__ import annotations

from ._api import FusedKernel, apply, available, combination, fused, kernel, rational, status

__all__ = ["FusedKernel", "apply", "available", "combination", "fused", "kernel", "rational", "status"]
