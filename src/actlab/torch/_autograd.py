"""The autograd functions behind every actlab activation on torch.

``run(act, x, ...)`` is the one entry point; it picks:

1. a fused kernel from :mod:`actlab.torch.kernels` (eager mode, not in place);
2. torch's own kernel, where the plan names one (:data:`actlab.torch.NATIVE`);
3. :class:`_Elementwise`: the catalog forward, and a backward from the analytic
   derivative that keeps one tensor: input, output, or a 1-byte slope code for
   piecewise-linear entries (nothing at all for a constant derivative);
4. :class:`_Vector`: softmax-like entries, backward through the spec's VJP
   (keeping the output where ``grad_from="output"``, else the input, from which
   the output is recomputed in the backward pass);
5. :class:`_Parametric`: parameters given as tensors (learnable activations):
   the input gradient from the analytic derivative, parameter gradients by
   autograd through the catalog forward, recomputed in the backward pass.

Double backward works on every generic path: the backward is written with
differentiable torch ops (the saved output stays linked to the graph), so
``create_graph=True`` just records it. A fused kernel's backward is opaque; under
``create_graph`` it is replaced by the generic derivative where the saved
tensor allows, and otherwise raises a clear error.

fp16 / bf16 inputs are computed in fp32 and cast back; what is saved stays in
the input's dtype.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from ..core import Activation
from ..core.errors import InputTypeError, ParameterError
from ._ops import OPS
from ._plan import Plan, cached_plan, fallback_plan, plan_for

NO_MATCH = 255  # slope code of an element whose derivative matched none of the plan's slopes

_KERNELS: dict[str, Any] = {"enabled": True, "fused": None, "looked": False}


def set_kernels(enabled: bool) -> None:
    """Turn the fused kernels of :mod:`actlab.torch.kernels` on or off (on by default)."""
    _KERNELS["enabled"] = bool(enabled)


def kernels_enabled() -> bool:
    return bool(_KERNELS["enabled"])


def _fused_lookup() -> Any:
    if not _KERNELS["looked"]:
        _KERNELS["looked"] = True
        try:
            from .kernels import fused as found
        except ImportError:  # no kernels package, or no fused() in it: the generic path
            found = None  # type: ignore[assignment]
        _KERNELS["fused"] = found
    return _KERNELS["fused"]


def fused_kernel(name: str, x: torch.Tensor) -> Any:
    """The fused kernel for ``name`` on ``x``, or None (kernels off, absent, or none for it)."""
    if not _KERNELS["enabled"]:
        return None
    fused = _fused_lookup()
    return None if fused is None else fused(name, x)


def _compiling() -> bool:
    return torch.compiler.is_compiling()


def _up(t: torch.Tensor) -> torch.Tensor:
    """fp16 / bf16 (and 8-bit floats) are computed in fp32."""
    return t.float() if t.dtype.itemsize < 4 else t


def as_float_tensor(x: Any, owner: str) -> torch.Tensor:
    """The dtype policy: floating stays, integer and bool are promoted, complex raises."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    dt = x.dtype
    if dt.is_complex:
        raise InputTypeError(f"{owner}: expected a real floating, integer or bool tensor, got dtype {dt}")
    if not dt.is_floating_point:
        x = x.to(torch.get_default_dtype())
    return x


# --- slope codes (piecewise-linear entries) --------------------------------------------------

def encode(d: torch.Tensor, table: tuple[float, ...]) -> torch.Tensor:
    """uint8 index of each element's slope in ``table`` (NO_MATCH where none matches)."""
    code = torch.full_like(d, NO_MATCH, dtype=torch.uint8)
    for k, t in enumerate(table):
        code = torch.where(d == t, k, code)
    return code


def decode(code: torch.Tensor, table: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    """The slope of each element, in ``like``'s dtype (nan for NO_MATCH)."""
    d = torch.full_like(like, math.nan)
    for k, t in enumerate(table):
        d = torch.where(code == k, t, d)
    return d


def _derivative(plan: Plan, x: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor:
    s = plan.act.spec
    assert s.derivative is not None, s.name
    xin = x if s.grad_from != "output" else None
    yin = y if s.grad_from != "input" else None
    return s.derivative(xin, yin, OPS, **plan.params)


class _Elementwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, plan: Plan, inplace: bool, kernel: Any) -> torch.Tensor:  # type: ignore[override]
        ctx.plan, ctx.kernel = plan, kernel
        if kernel is not None:
            both = getattr(kernel, "forward_and_save", None)
            if both is not None:
                y, saved = both(x, **plan.params)
            else:
                y = kernel.forward(x, **plan.params)
                saved = kernel.save(x, y, **plan.params)
            ctx.save_for_backward(saved)
            return y
        spec = plan.act.spec
        xc = _up(x)
        yc = spec.forward(xc, OPS, **plan.params)
        code = encode(_derivative(plan, xc, yc), plan.table) if plan.saves == "mask" else None
        if inplace:
            x.copy_(yc)
            ctx.mark_dirty(x)
            y = x
        else:
            y = yc.to(x.dtype) if yc.dtype != x.dtype else yc
        if plan.saves == "input":
            ctx.save_for_backward(x)
        elif plan.saves == "output":
            ctx.save_for_backward(y)
        elif plan.saves == "both":
            ctx.save_for_backward(x, y)
        elif plan.saves == "mask":
            ctx.save_for_backward(code)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        plan: Plan = ctx.plan
        saved = ctx.saved_tensors
        if ctx.kernel is not None:
            if not torch.is_grad_enabled():
                return ctx.kernel.backward(saved[0], g, **plan.params), None, None, None
            return _kernel_double_backward(ctx.kernel, plan, saved[0], g), None, None, None
        gc = _up(g)
        if plan.saves == "mask":
            grad = gc * decode(saved[0], plan.table, gc)
        elif plan.saves == "none":
            grad = gc * plan.table[0]
        else:
            x = _up(saved[0]) if plan.saves in ("input", "both") else None
            y = _up(saved[-1]) if plan.saves in ("output", "both") else None
            grad = gc * _derivative(plan, x, y)
        return grad.to(g.dtype), None, None, None


def _kernel_double_backward(kernel: Any, plan: Plan, saved: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """g * f'(x) with a graph, for create_graph=True after a fused forward."""
    gc = _up(g)
    if kernel.saves == "mask":  # piecewise linear: f'' = 0, only the dependence on g matters
        with torch.no_grad():
            d = _up(kernel.backward(saved, torch.ones_like(g), **plan.params))
        return (gc * d).to(g.dtype)
    have = kernel.saves  # "input" or "output"
    need = plan.act.spec.grad_from
    if need == have:
        t = _up(saved)
        d = _derivative(plan, t if have == "input" else None, t if have == "output" else None)
        return (gc * d).to(g.dtype)
    if have == "input":  # the derivative wants the output: recompute it, with its graph
        x = _up(saved)
        y = plan.act.spec.forward(x, OPS, **plan.params)
        return (gc * _derivative(plan, x, y)).to(g.dtype)
    raise RuntimeError(
        f"actlab: double backward through {plan.name!r} is not supported with its fused kernel "
        f"(the kernel saved the output; the derivative needs the input). Turn the fused kernels "
        f"off with actlab.torch.set_kernels(False) for higher-order gradients."
    )


class _Vector(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, plan: Plan, axis: int) -> torch.Tensor:  # type: ignore[override]
        ctx.plan, ctx.axis = plan, axis
        xc = _up(x)
        y = plan.act.spec.forward(xc, OPS, axis, **plan.params)
        y = y.to(x.dtype) if y.dtype != x.dtype else y
        if plan.saves == "output":
            ctx.save_for_backward(y)
        elif plan.saves == "input":
            ctx.save_for_backward(x)
        else:
            ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        plan: Plan = ctx.plan
        saved = ctx.saved_tensors
        x = _up(saved[0]) if plan.saves in ("input", "both") else None
        y = _up(saved[-1]) if plan.saves in ("output", "both") else None
        spec = plan.act.spec
        assert spec.vjp is not None, spec.name
        if y is None:  # a VJP may read the output too: recompute it rather than keep a second tensor
            y = spec.forward(x, OPS, ctx.axis, **plan.params)
        grad = spec.vjp(x, y, _up(g), OPS, ctx.axis, **plan.params)
        dt = saved[0].dtype
        return grad.to(dt), None, None


class _Parametric(torch.autograd.Function):
    """Parameters as tensors: d/dx analytic, d/dparams by autograd of the forward (recomputed)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, plan: Plan, names: tuple[str, ...],  # type: ignore[override]
                *ps: torch.Tensor) -> torch.Tensor:
        ctx.plan, ctx.names = plan, names
        xc = _up(x)
        y = plan.act.spec.forward(xc, OPS, **_kwargs(plan, names, [p.detach().to(xc.dtype) for p in ps]))
        ctx.save_for_backward(x, *ps)
        return y.to(x.dtype) if y.dtype != x.dtype else y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        plan: Plan = ctx.plan
        spec = plan.act.spec
        x, *ps = ctx.saved_tensors
        need_x, need_p = ctx.needs_input_grad[0], ctx.needs_input_grad[3:]
        create = torch.is_grad_enabled()  # create_graph=True: the backward is recorded too
        xc, gc = _up(x), _up(g)
        if not create:
            xc = xc.detach()
        with contextlib.nullcontext() if _compiling() else _quiet():
            with torch.enable_grad():
                pcs = [p.to(xc.dtype) if create else p.detach().to(xc.dtype).requires_grad_(bool(n))
                       for p, n in zip(ps, need_p)]
                wanted = [p for p, n in zip(pcs, need_p) if n]
                kw = _kwargs(plan, ctx.names, pcs)
                y = spec.forward(xc, OPS, **kw) if (wanted or spec.grad_from != "input") else None
                grads = list(torch.autograd.grad(y, wanted, gc, create_graph=create, allow_unused=True)
                             if y is not None and wanted else ())
            gx = None
            if need_x:
                with torch.set_grad_enabled(create):
                    if not create:
                        kw = _kwargs(plan, ctx.names, [p.detach() for p in pcs])
                        y = None if y is None else y.detach()
                    deriv = spec.derivative
                    assert deriv is not None, spec.name
                    d = deriv(xc if spec.grad_from != "output" else None,
                              y if spec.grad_from != "input" else None, OPS, **kw)
                    gx = (gc * d).to(g.dtype)
        gps = []
        for p, n in zip(ps, need_p):
            gp = grads.pop(0) if n else None
            if n and gp is None:  # the forward does not depend on it
                gp = torch.zeros_like(p)
            gps.append(None if gp is None else gp.to(p.dtype))
        return (gx, None, None, *gps)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence what catalog code says when handed parameters that require grad: ``float(a)`` of a
    0-d parameter (read for a limit at +-inf) and ``asarray(a)`` (in ``pick``) both warn."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
        warnings.filterwarnings("ignore", message="torch.asarray: unspecified requires_grad")
        yield


def _kwargs(plan: Plan, names: tuple[str, ...], values: list[torch.Tensor]) -> dict[str, Any]:
    return {**plan.params, **dict(zip(names, values))}


# --- entry point -----------------------------------------------------------------------------

def run(act: Activation, x: Any, *, dim: int = -1, inplace: bool = False,
        plan: Plan | None = None, tensors: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Evaluate a bound activation on a tensor with actlab's autograd.

    ``tensors`` maps parameter names to tensors (learnable values, broadcast
    against ``x``); they override ``act``'s float values of the same names.
    """
    x = as_float_tensor(x, act.name)
    if plan is None:
        plan = (cached_plan(act) or fallback_plan(act)) if _compiling() else plan_for(act)
    if tensors:
        return _run_parametric(plan, x, tensors, inplace)
    if not act.is_elementwise:
        if inplace:
            raise ParameterError(f"{act.name}: inplace=True is not supported for a vector-valued "
                                 "activation")
        axis = act._check_axis(x, dim)
        return _Vector.apply(x, plan, axis)
    if inplace:
        return _run_inplace(plan, x)
    grad = torch.is_grad_enabled() and x.requires_grad
    if not _compiling():
        kernel = fused_kernel(act.name, x)
        if kernel is not None:
            return _Elementwise.apply(x, plan, False, kernel) if grad else kernel.forward(x, **plan.params)
    if plan.native is not None:
        return plan.native(x, plan.params)
    if not grad:  # inference: nothing to save
        y = plan.act.spec.forward(_up(x), OPS, **plan.params)
        return y.to(x.dtype) if y.dtype != x.dtype else y
    return _Elementwise.apply(x, plan, False, None)


def _run_inplace(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    if not plan.inplace_safe:
        raise ParameterError(
            f"{plan.name}: inplace=True is not safe: its backward reads the input "
            f"(it saves {plan.saves!r}); use inplace=False"
        )
    if not (torch.is_grad_enabled() and x.requires_grad):
        with torch.no_grad():
            return x.copy_(plan.act.spec.forward(_up(x), OPS, **plan.params))
    return _Elementwise.apply(x, plan, True, None)


def _run_parametric(plan: Plan, x: torch.Tensor, tensors: dict[str, torch.Tensor],
                    inplace: bool) -> torch.Tensor:
    if inplace:
        raise ParameterError(f"{plan.name}: inplace=True is not supported with tensor (learnable) parameters")
    if not plan.act.is_elementwise:
        raise ParameterError(f"{plan.name}: tensor parameters are supported for elementwise activations only")
    names = tuple(tensors)
    ps = [tensors[n] for n in names]
    if any(p.numel() > 1 for p in ps) and not tensor_params_ok(plan):
        return _per_channel(plan, x, names, ps)
    if not _compiling():
        return _Parametric.apply(x, plan, names, *ps)
    # While compiling: the same analytic input gradient, plus a zero-valued term that carries the
    # parameter gradients through autograd (inductor fuses both; no autograd.grad in a graph).
    y = _Parametric.apply(x, plan, names, *[p.detach() for p in ps])
    if any(p.requires_grad for p in ps):
        xd = _up(x.detach())
        z = plan.act.spec.forward(xd, OPS, **_kwargs(plan, names, [p.to(xd.dtype) for p in ps]))
        y = y + (z - z.detach()).to(y.dtype)
    return y


_TENSOR_OK: dict[str, bool] = {}


def tensor_params_ok(plan: Plan) -> bool:
    """Whether the catalog forward takes multi-element parameter tensors (broadcast against x).

    A forward that converts a parameter with ``float()`` or branches on it in Python
    only takes one value at a time; such entries are then run channel by channel.
    Probed once per entry on a 2 x 3 input with one parameter value per row.
    """
    spec = plan.act.spec
    ok = _TENSOR_OK.get(spec.name)
    if ok is None and _compiling():
        return True  # no probing inside a graph (modules probe when built)
    if ok is None:
        x = torch.linspace(-3.0, 3.0, 6, dtype=torch.float64).reshape(2, 3)
        learn = [p.name for p in spec.params if p.learnable]
        try:
            with torch.no_grad():
                rows = {n: torch.full((2, 1), float(plan.params[n]), dtype=torch.float64) for n in learn}
                y = spec.forward(x, OPS, **{**plan.params, **rows})
                ref = spec.forward(x, OPS, **plan.params)
            ok = bool(isinstance(y, torch.Tensor) and y.shape == x.shape
                      and torch.allclose(y, ref, rtol=1e-12, atol=0.0, equal_nan=True))
        except Exception:  # float() of a tensor, a Python branch on it, ...
            ok = False
        _TENSOR_OK[spec.name] = ok
    return ok


def _per_channel(plan: Plan, x: torch.Tensor, names: tuple[str, ...], ps: list[torch.Tensor]) -> torch.Tensor:
    """Evaluate channel by channel, with 0-d parameters (for forwards that need scalars)."""
    axes = set()
    for p in ps:
        for i, size in enumerate(p.shape):
            if size > 1:
                axes.add(x.ndim - p.ndim + i)
    if len(axes) != 1:
        raise ValueError(f"{plan.name}: parameter tensors must vary along one axis of the input, "
                         f"got shapes {[tuple(p.shape) for p in ps]} for input {tuple(x.shape)}")
    axis = axes.pop()
    outs = []
    for c in range(x.shape[axis]):
        pc = [p.reshape(-1)[c] if p.numel() > 1 else p.reshape(()) for p in ps]
        outs.append(_Parametric.apply(x.narrow(axis, c, 1), plan, names, *pc))
    return torch.cat(outs, axis)
