"""actlab on PyTorch: functions, modules, learnable activations, model surgery.

>>> import torch, actlab.torch as at
>>> x = torch.linspace(-2, 2, 5, requires_grad=True)
>>> at.functional.mish(x).sum().backward()        # analytic backward, one tensor saved
>>> at.Activation("leaky_relu", negative_slope=0.1)
LeakyRelu(negative_slope=0.1)
>>> model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.GELU())
>>> print(at.swap(model, to="mish"))
SwapReport: 1 replaced, 0 left
  replaced 1: gelu [torch.nn.GELU] -> Mish()

Every catalog entry is ``actlab.torch.functional.NAME`` and a module class
(``actlab.torch.Mish``, ``actlab.torch.LeakyRelu``, ``actlab.torch.PReLU`` ...).
The backward pass uses the catalog's analytic derivative and keeps one tensor:
the input or the output (whichever the derivative reads), a 1-byte slope code
for piecewise-linear entries, or nothing for a constant slope. Entries listed
in :data:`NATIVE` run on torch's own kernel instead (same accuracy, same
memory); fused kernels from :mod:`actlab.torch.kernels` are used when present.
``describe(name)`` says which path an entry takes.
"""

from __future__ import annotations

from typing import Any

from . import functional
from ._autograd import set_kernels
from ._plan import native_table, plan_for
from .learnable import LearnedCombination, Rational, SwishBeta, fit_rational
from .modules import Activation, class_name, class_names, module_class
from .surgery import ActivationSite, SwapReport, activations_in, swap

#: Catalog name -> the torch function that runs it (forward and backward), where torch's own kernel
#: is as accurate, saves as little for backward and follows the same gradient convention.
NATIVE: dict[str, str] = {name: n.call for name, n in native_table().items()}

__all__ = [
    "NATIVE", "Activation", "ActivationSite", "LearnedCombination", "Rational", "SwapReport", "SwishBeta",
    "activations_in", "apply", "class_name", "class_names", "describe", "fit_rational", "functional",
    "module_class", "set_kernels", "swap",
]


def apply(name: Any, x: Any, **kwargs: Any) -> Any:
    """``actlab.torch.functional.apply``: ``f(x)`` for a catalog name with parameters."""
    return functional.apply(name, x, **kwargs)


def describe(name: Any, **params: Any) -> dict[str, Any]:
    """``actlab.get(name, **params).describe()`` plus how it runs on torch (key ``"torch"``)."""
    import actlab

    act = actlab.get(name, **params)
    out = act.describe()
    plan = plan_for(act)
    import torch

    from ._autograd import fused_kernel

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    fused = {dev: act.is_elementwise and fused_kernel(act.name, torch.empty(0, device=dev)) is not None
             for dev in devices}
    out["torch"] = {
        "function": f"actlab.torch.functional.{act.name}",
        "module": f"actlab.torch.{class_name(act.name)}",
        "native": plan.native.call if plan.native is not None else None,
        "backward_saves": {"mask": "1-byte slope code", "none": "nothing (constant slope)"}.get(
            plan.saves, plan.saves),
        "slopes": list(plan.table) if plan.saves in ("mask", "none") else None,
        "inplace": plan.inplace_safe,
        "fused_kernel": fused,  # per device present: does actlab.torch.kernels have one (and are they on)
        "learnable": [p.name for p in act.spec.params if p.learnable],
    }
    return out


def __getattr__(name: str) -> Any:
    if name in ("init_", "diagnose"):
        import importlib

        try:
            return getattr(importlib.import_module("actlab.analysis"), name)
        except (ImportError, AttributeError) as e:
            raise AttributeError(
                f"module 'actlab.torch' has no attribute {name!r} (actlab.analysis.{name}: {e})") from None
    if not name.startswith("_"):
        from . import modules

        try:
            return getattr(modules, name)
        except AttributeError:
            pass
    raise AttributeError(f"module 'actlab.torch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *class_names()})
