"""Backend namespaces and the dtype policy.

Catalog code is written once against an ``ops`` namespace: the array-API
namespace of the input (through array-api-compat) plus the special functions
the standard lacks (``erf``, ``erfc``, ``sigmoid``, ``log_sigmoid``,
``softplus``), each bound to the backend's own accurate implementation.
Nothing here imports torch or jax unless the input already is one of theirs.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import array_api_compat
import numpy as np

from .errors import InputTypeError

_CACHE: dict[str, types.SimpleNamespace] = {}
_MODULES = {"numpy": "array_api_compat.numpy", "torch": "array_api_compat.torch", "jax": "jax.numpy"}


def _build(name: str, xp: Any) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**{k: getattr(xp, k) for k in dir(xp) if not k.startswith("_")})
    ns.name = name
    ns.xp = xp
    if name == "numpy":
        import scipy.special as sc

        ns.erf, ns.erfc = sc.erf, sc.erfc
        ns.sigmoid, ns.log_sigmoid = sc.expit, sc.log_expit
        ns.softplus = _numpy_softplus
    elif name == "torch":
        import torch

        ns.erf, ns.erfc = torch.special.erf, torch.special.erfc
        ns.sigmoid = torch.sigmoid
        ns.log_sigmoid = torch.nn.functional.logsigmoid
        # torch's own softplus switches to x above a threshold (an approximation).
        ns.softplus = lambda x: torch.logaddexp(x, torch.zeros((), dtype=x.dtype, device=x.device))
    else:
        import jax

        ns.erf, ns.erfc = jax.scipy.special.erf, jax.scipy.special.erfc
        ns.sigmoid, ns.log_sigmoid = jax.nn.sigmoid, jax.nn.log_sigmoid
        ns.softplus = lambda x: xp.logaddexp(x, 0.0)
    return ns


def _numpy_softplus(x: Any) -> Any:
    with np.errstate(invalid="ignore"):  # nan in, nan out, without a warning
        return np.logaddexp(0.0, x)


def backend_name(x: Any) -> str:
    if array_api_compat.is_torch_array(x):
        return "torch"
    if array_api_compat.is_jax_array(x):
        return "jax"
    return "numpy"


def namespace(x_or_name: Any) -> types.SimpleNamespace:
    """The ``ops`` namespace for an array (or a backend name)."""
    name = x_or_name if isinstance(x_or_name, str) else backend_name(x_or_name)
    ns = _CACHE.get(name)
    if ns is None:
        if name not in _MODULES:
            raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(_MODULES)}")
        ns = _CACHE[name] = _build(name, importlib.import_module(_MODULES[name]))
    return ns


def prepare(x: Any, owner: str) -> tuple[Any, types.SimpleNamespace, Any]:
    """Apply the dtype policy.

    Returns ``(x_compute, ops, out_dtype)``: floating input keeps its dtype
    (fp16/bf16 are computed in fp32 and ``out_dtype`` says what to cast back
    to); integer or bool input is promoted to the backend's default float;
    complex, object or string input raises ``TypeError`` naming ``owner``.
    """
    name = backend_name(x)
    if name == "numpy" and not isinstance(x, np.ndarray):
        x = np.asarray(x)
    ops = namespace(name)
    dt = x.dtype
    if name == "numpy":
        kind = dt.kind
        if kind == "V" and dt.name == "bfloat16" or kind == "f" and dt.itemsize < 4:
            kind = "h"
        if kind in "biu":
            return x.astype(np.float64), ops, None
        if kind == "f":
            return x, ops, None
        if kind == "h":
            return x.astype(np.float32), ops, dt
    elif name == "torch":
        import torch

        if dt.is_complex:
            kind = "c"
        elif dt.is_floating_point:
            if dt.itemsize < 4:
                return x.to(torch.float32), ops, dt
            return x, ops, None
        else:
            return x.to(torch.get_default_dtype()), ops, None
    else:
        import jax.numpy as jnp

        if jnp.issubdtype(dt, jnp.complexfloating):
            kind = "c"
        elif jnp.issubdtype(dt, jnp.floating):
            if dt.itemsize < 4:
                return x.astype(jnp.float32), ops, dt
            return x, ops, None
        else:
            return x.astype(jnp.result_type(float)), ops, None
    raise InputTypeError(
        f"{owner}: expected a real floating, integer or bool array, got dtype {dt}"
    )


def restore(y: Any, out_dtype: Any) -> Any:
    """Cast a result computed in fp32 back to the caller's half dtype."""
    if out_dtype is None:
        return y
    if backend_name(y) == "torch":
        return y.to(out_dtype)
    return y.astype(out_dtype)
