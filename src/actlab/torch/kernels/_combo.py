"""Learned combinations of activations (Manessi & Rozza 2018), fused: ``f(x) = sum_i w_i g_i(x)``.

One forward pass evaluates every base at once; one backward pass gives
``g * sum_i w_i g_i'(x)`` and the weight gradients ``sum_x g * g_i(x)``, reduced per thread
(CPU) or per program (Triton) in float64. Only ``x`` is saved, whatever the number of bases;
the composite form keeps every ``g_i(x)``.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import torch

from . import _cgen
from ._trace import TraceError, trace_combination

_HALF = (torch.float16, torch.bfloat16)
_BUILT: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _key(bases) -> tuple:
    return tuple((id(s), s.name, tuple(sorted(p.items()))) for s, p in bases)


def _programs(bases):
    return {dt: trace_combination(bases, dt) for dt in ("f32", "f64")}


def _cpu(bases) -> Any:
    key = ("cpu", _key(bases))
    with _LOCK:
        if key not in _BUILT:
            lib = None
            try:
                progs = _programs(bases)
                lib = _cgen.build(_cgen.source(progs), "combo_" + "_".join(s.name for s, _ in bases)[:80])
                if lib is not None:
                    for dt in ("f32", "f64"):
                        for p in ("fwd", "bwd"):
                            _cgen.bind(lib, f"{p}_{dt}")
            except TraceError:
                lib = None
            _BUILT[key] = lib
        return _BUILT[key]


def _triton(bases) -> Any:
    key = ("triton", _key(bases))
    with _LOCK:
        if key not in _BUILT:
            from ._triton import load_module, source

            try:
                src, consts = source(_programs(bases), len(bases))
                _BUILT[key] = (load_module(src, "combo"), consts)
            except TraceError:
                _BUILT[key] = None
        return _BUILT[key]


def _use_triton(x: torch.Tensor) -> bool:
    from ._triton import interpreting, triton_available

    return triton_available() and (x.is_cuda or (interpreting() and _FORCE_TRITON))


_FORCE_TRITON = False


def _run(bases, prog: str, x: torch.Tensor, g: torch.Tensor | None, w: list[float]):
    """Returns (out, sums) or None where no kernel is available."""
    n = x.numel()
    K = len(bases)
    if _use_triton(x):
        built = _triton(bases)
        if built is None:
            return None
        mod, consts = built
        from ._triton import BLOCK, NUM_WARPS, params_tensor, quiet, triton_cdiv

        dt = "f64" if x.dtype == torch.float64 else "f32"
        out = torch.empty_like(x)
        grid = max(1, triton_cdiv(n, BLOCK))
        sums = torch.zeros(grid, K, dtype=torch.float64, device=x.device) if prog == "bwd" else None
        p = params_tensor(tuple(w) + tuple(consts[f"{prog}_{dt}"]), x.device)
        if n:
            with quiet():
                getattr(mod, f"{prog}_{dt}")[(grid,)](x, g, out, sums, p, n, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out, (sums.sum(0).cpu() if sums is not None else None)
    if x.device.type != "cpu":
        return None
    lib = _cpu(bases)
    if lib is None:
        return None
    dt = "f64" if x.dtype == torch.float64 else "f32"
    out = torch.empty_like(x)
    sums = torch.zeros(64, K, dtype=torch.float64) if prog == "bwd" else None
    pw = (ctypes.c_double * K)(*w)
    if n:
        getattr(lib, f"{prog}_{dt}")(x.data_ptr(), None if g is None else g.data_ptr(), out.data_ptr(),
                                     None if sums is None else sums.data_ptr(),
                                     ctypes.cast(pw, ctypes.c_void_p), n, torch.get_num_threads())
    return out, (sums.sum(0) if sums is not None else None)


def _composite(x, bases, w):
    import actlab

    out = None
    for (spec, p), wi in zip(bases, w):
        t = wi * actlab.Activation(spec, p)(x)
        out = t if out is None else out + t
    return out


class _Combination(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weights, bases):  # type: ignore[override]
        ctx.bases = bases
        ctx.save_for_backward(x, weights)
        w = weights.detach().double().cpu().tolist()
        xc = x.float() if x.dtype in _HALF else x
        xc = xc.contiguous()
        try:
            r = _run(bases, "fwd", xc, None, w)
        except Exception as e:  # noqa: BLE001 - no kernel: composite
            _cgen.log.warning("actlab: combination kernel unavailable (%s); composite used", e)
            r = None
        y = r[0] if r is not None else _composite(xc, bases, w)
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        import actlab

        x, weights = ctx.saved_tensors
        bases = ctx.bases
        w = weights.detach().double().cpu().tolist()
        xc = (x.float() if x.dtype in _HALF else x).contiguous()
        gc = g.to(xc.dtype).contiguous()
        try:
            r = _run(bases, "bwd", xc, gc, w)
        except Exception as e:  # noqa: BLE001
            _cgen.log.warning("actlab: combination kernel unavailable (%s); composite used", e)
            r = None
        if r is not None:
            gx, sums = r
        else:
            acts = [actlab.Activation(s, p) for s, p in bases]
            gx = sum(wi * a.derivative(xc) for wi, a in zip(w, acts)) * gc
            sums = torch.tensor([float((gc * a(xc)).double().sum()) for a in acts], dtype=torch.float64)
        gw = sums.to(device=weights.device, dtype=weights.dtype) if ctx.needs_input_grad[1] else None
        return gx.to(x.dtype), gw, None


def combination(x: torch.Tensor, bases: list, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i weights[i] * bases[i](x)``, fused; gradients flow to ``x`` and ``weights``.

    ``bases``: catalog names or bound ``actlab.Activation`` objects (fixed parameters), all
    elementwise. ``weights``: a 1-d tensor, one weight per base (already transformed, e.g. by a
    softmax for the convex form: autograd carries the gradient through that transform).
    """
    import actlab

    specs = []
    for b in bases:
        act = b if isinstance(b, actlab.Activation) else actlab.get(getattr(b, "name", b))
        if not act.is_elementwise:
            raise ValueError(f"combination: base {act.name!r} is vector-valued; bases must be elementwise")
        specs.append((act.spec, dict(act.params)))
    if not isinstance(weights, torch.Tensor):
        weights = torch.as_tensor(weights, dtype=torch.float64)
    if weights.ndim != 1 or weights.numel() != len(specs):
        raise ValueError(f"combination: weights must be 1-d with one entry per base ({len(specs)}), "
                         f"got shape {tuple(weights.shape)}")
    return _Combination.apply(x, weights, tuple(specs))
