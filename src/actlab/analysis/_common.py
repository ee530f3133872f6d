"""Shared helpers of the analysis layer: resolving activations, numpy evaluation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import Activation
from ..core.registry import get


def resolve(act: Any, **params: Any) -> Activation:
    """An ``Activation`` from an activation, a spec or a (catalog) name, with ``params`` bound."""
    if isinstance(act, Activation):
        return act.with_params(**params) if params else act
    return get(act, **params)


def elementwise(act: Any, what: str, **params: Any) -> Activation:
    a = resolve(act, **params)
    if not a.is_elementwise:
        raise TypeError(
            f"{what}: {a.name} is vector-valued; it needs an elementwise activation "
            f"(vector-valued entries have no scalar f(x))"
        )
    return a


def f_np(act: Activation):
    """f on float64 numpy arrays, quietly (no floating-point warnings)."""

    def f(x: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(act(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    return f


def df_np(act: Activation):
    """f' (the analytic derivative) on float64 numpy arrays, quietly."""

    def df(x: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(act.derivative(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    return df


def cache_key(act: Activation) -> tuple:
    return (id(act.spec), act.name, tuple(sorted(act.params.items())))


def fmt(v: float) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"
