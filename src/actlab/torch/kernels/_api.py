"""Dispatch: pick the kernel for a name, device and dtype."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

Saves = Literal["input", "output", "mask"]


@dataclass(frozen=True)
class FusedKernel:
    """A fused forward/backward pair for one activation on one kind of device."""

    name: str
    saves: Saves
    forward: Callable[..., torch.Tensor]
    backward: Callable[..., torch.Tensor]
    mask: Callable[..., torch.Tensor] | None = None  # x -> bool tensor, when saves == "mask"
    backend: str = "torch"

    def save(self, x: torch.Tensor, y: torch.Tensor, **params: Any) -> torch.Tensor:
        if self.saves == "input":
            return x
        if self.saves == "output":
            return y
        assert self.mask is not None
        return self.mask(x, **params)


def fused(name: str, x: torch.Tensor) -> FusedKernel | None:
    """The fastest kernel for ``name`` on ``x``'s device/dtype, or None for the generic path."""
    return None


def available(device: str = "cpu") -> list[str]:
    """Names that have a fused kernel on ``device``."""
    return []


class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, params):  # type: ignore[override]
        y = kernel.forward(x, **params)
        ctx.kernel, ctx.params = kernel, params
        ctx.save_for_backward(kernel.save(x, y, **params))
        return y

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (saved,) = ctx.saved_tensors
        return ctx.kernel.backward(saved, g, **ctx.params), None, None


def apply(name: str, x: torch.Tensor, **params: Any) -> torch.Tensor:
    """``f(x)`` with the fused kernel and its fused backward; catalog fallback."""
    import actlab

    act = actlab.get(name, **params)
    k = fused(act.name, x)
    if k is None:
        return act(x)
    return _Apply.apply(x, k, dict(act.params))


def rational(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Safe PAU: P(x) / (1 + sum_k |b_k x^k|), autograd-aware."""
    from ._rational import rational as _r

    return _r(x, numerator, denominator)
