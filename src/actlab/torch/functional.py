"""Every catalog activation as a torch function: ``actlab.torch.functional.NAME(x, **params)``.

>>> import torch
>>> from actlab.torch import functional as AF
>>> AF.leaky_relu(torch.tensor([-2.0, 3.0]), negative_slope=0.1)
tensor([-0.2000,  3.0000])
>>> AF.apply("softmax", torch.zeros(2, 3), dim=1).sum(1)
tensor([1., 1.])

The functions are generated from the registry (so an entry registered at run
time is here too); aliases work (``AF.swish`` is ``AF.silu``). Each call runs
through actlab's autograd: the backward uses the analytic derivative and keeps
one tensor (see :mod:`actlab.torch`).

Keyword arguments: the entry's parameters (floats, or tensors broadcast against
``x`` to make them trainable), ``dim`` for vector-valued entries (softmax,
GLU, ...), and ``inplace=True`` where the backward does not need the input.
"""

from __future__ import annotations

from typing import Any

import torch

import actlab

from ..core import Activation
from ..core.errors import ParameterError
from ..core.registry import _key
from . import _autograd

__all__ = ["apply"]


def apply(name: str | Activation, x: Any, *, dim: int = -1, inplace: bool = False,
          **params: Any) -> torch.Tensor:
    """``f(x)`` for the activation ``name`` with ``params``.

    Parameters given as tensors stay tensors (their gradients flow); the others
    are validated against the entry's ranges.
    """
    tensors = {k: v for k, v in params.items() if isinstance(v, torch.Tensor)}
    floats = {k: v for k, v in params.items() if k not in tensors}
    act = actlab.get(name, **floats)
    if tensors:
        unknown = sorted(set(tensors) - set(act.spec.param_names))
        if unknown:
            raise ParameterError(
                f"{act.name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid parameters: {', '.join(act.spec.param_names) or 'none'}"
            )
    return _autograd.run(act, x, dim=dim, inplace=inplace, tensors=tensors or None)


_FUNCTIONS: dict[str, Any] = {}


def _make(name: str) -> Any:
    spec = actlab.spec(name)
    canonical = spec.name

    if spec.kind == "elementwise":
        def fn(x: Any, *, inplace: bool = False, **params: Any) -> torch.Tensor:
            return apply(canonical, x, inplace=inplace, **params)
    else:
        def fn(x: Any, *, dim: int = -1, **params: Any) -> torch.Tensor:  # type: ignore[misc]
            return apply(canonical, x, dim=dim, **params)

    params = ", ".join(f"{p.name}={p.default:g}" for p in spec.params)
    extra = "dim=-1" if spec.kind != "elementwise" else "inplace=False"
    sig = ", ".join(s for s in ("x", params, extra) if s)
    fn.__name__ = fn.__qualname__ = canonical
    fn.__module__ = __name__
    fn.__doc__ = (
        f"{canonical}({sig})\n\n{spec.description}\n\n"
        + "".join(f"    {p.name}: {p.doc or 'parameter'} (default {p.default:g}, range {p.interval}"
                  f"{', learnable' if p.learnable else ''})\n" for p in spec.params)
        + f"\nSee ``actlab.get({canonical!r})`` for its formula and properties."
    )
    return fn


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    key = _key(name)
    fn = _FUNCTIONS.get(key)
    if fn is None:
        try:
            spec = actlab.spec(key)
        except KeyError:
            raise AttributeError(f"module 'actlab.torch.functional' has no attribute {name!r}") from None
        fn = _FUNCTIONS.get(spec.name) or _make(spec.name)
        _FUNCTIONS[spec.name] = _FUNCTIONS[key] = fn
    return fn


def __dir__() -> list[str]:
    return sorted({*globals(), *actlab.names()})
