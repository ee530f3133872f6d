"""The ``ops`` namespace actlab.torch hands to catalog code: lean torch versions of a few array-API calls.

``actlab.core.namespace("torch")`` wraps torch through array-api-compat. Its
``maximum``, ``minimum``, ``where``, ``clip``, ``logaddexp`` and ``asarray`` do
type promotion in Python (``torch.result_type`` on Python scalars, dtype tables,
shape broadcasting), which costs time per call in eager mode and stops
``torch.compile(fullgraph=True)`` (dynamo cannot put a dtype-returning call in a
graph). Here they are direct torch calls with the array API's semantics for
what catalog code passes: a tensor and Python scalars, or tensors of one dtype
(a Python scalar takes the tensor's dtype, as a weak scalar does in both).
Everything else is the core namespace unchanged.
"""

from __future__ import annotations

import types
from typing import Any

import torch

from ..core import namespace

_SCALARS = (bool, int, float)


def _tensor(v: Any, like: torch.Tensor) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.full((), v, dtype=like.dtype, device=like.device)


def maximum(a: Any, b: Any) -> torch.Tensor:
    if isinstance(b, _SCALARS):
        return torch.clamp_min(a, b)
    if isinstance(a, _SCALARS):
        return torch.clamp_min(b, a)
    return torch.maximum(a, b)


def minimum(a: Any, b: Any) -> torch.Tensor:
    if isinstance(b, _SCALARS):
        return torch.clamp_max(a, b)
    if isinstance(a, _SCALARS):
        return torch.clamp_max(b, a)
    return torch.minimum(a, b)


def clip(x: torch.Tensor, min: Any = None, max: Any = None) -> torch.Tensor:  # noqa: A002 - array API names
    if isinstance(min, torch.Tensor) or isinstance(max, torch.Tensor):
        lo = None if min is None else _tensor(min, x)
        hi = None if max is None else _tensor(max, x)
        return torch.clamp(x, lo, hi)
    return torch.clamp(x, min, max)


def where(cond: torch.Tensor, a: Any, b: Any) -> torch.Tensor:
    if isinstance(a, _SCALARS) and isinstance(b, _SCALARS):
        return torch.where(cond, a, b)
    like = a if isinstance(a, torch.Tensor) else b
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype != b.dtype:
        dt = torch.promote_types(a.dtype, b.dtype)
        return torch.where(cond, a.to(dt), b.to(dt))
    return torch.where(cond, a if isinstance(a, torch.Tensor) else _tensor(a, like),
                       b if isinstance(b, torch.Tensor) else _tensor(b, like))


def logaddexp(a: Any, b: Any) -> torch.Tensor:
    like = a if isinstance(a, torch.Tensor) else b
    return torch.logaddexp(_tensor(a, like), _tensor(b, like))


def astype(x: torch.Tensor, dtype: torch.dtype, /, *, copy: bool = True, device: Any = None) -> torch.Tensor:
    return x.to(dtype=dtype, device=device)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> torch.Tensor:
    return torch.as_tensor(obj, dtype=dtype, device=device)


def _build() -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**vars(namespace("torch")))
    for fn in (maximum, minimum, clip, where, logaddexp, astype, asarray):
        setattr(ns, fn.__name__, fn)
    return ns


OPS = _build()
