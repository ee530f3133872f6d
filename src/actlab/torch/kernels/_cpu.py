"""CPU kernels: the traced catalog formula compiled to one fused C loop per pass."""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from . import _cgen
from ._trace import Traced, programs

_DT = {torch.float32: "f32", torch.float64: "f64"}
_HALF = (torch.float16, torch.bfloat16)


class CpuKernels:
    """Compiled forward / forward-and-save / backward of one traced activation."""

    def __init__(self, traced: dict[str, Traced], tag: str) -> None:
        self.traced = traced["f32"]
        self.saves = self.traced.saves
        self.param_names = self.traced.params
        progs = {dt: programs(t) for dt, t in traced.items()}
        lib = _cgen.build(_cgen.source(progs), tag)
        if lib is None:
            raise RuntimeError("build failed")
        self._lib = lib
        self._fn = {(p, dt): _cgen.bind(lib, f"{p}_{dt}") for dt in progs for p in progs[dt]}
        self._pcache: dict[tuple, Any] = {}

    # --- helpers --------------------------------------------------------
    def _params(self, params: dict[str, float]) -> Any:
        if self.traced.specialized is not None:
            vals: tuple = ()
        else:
            vals = tuple(float(params[k]) for k in self.param_names)
        arr = self._pcache.get(vals)
        if arr is None:
            arr = (ctypes.c_double * max(1, len(vals)))(*vals)
            if len(self._pcache) > 256:
                self._pcache.clear()
            self._pcache[vals] = arr
        return arr

    def _call(self, prog: str, dt: str, a, b, c, d, params: dict[str, float], n: int) -> None:
        nt = torch.get_num_threads()
        self._fn[(prog, dt)](a, b, c, d, ctypes.cast(self._params(params), ctypes.c_void_p), n, nt)

    @staticmethod
    def _ptr(t: torch.Tensor | None) -> int | None:
        return None if t is None else t.data_ptr()

    # --- the FusedKernel interface --------------------------------------
    def forward(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        xc, half = _compute(x)
        y = torch.empty_like(xc, memory_format=torch.contiguous_format)
        if xc.numel():
            self._call("fwd", _DT[xc.dtype], xc.data_ptr(), None, y.data_ptr(), None, params, xc.numel())
        return y.to(half) if half is not None else y

    def forward_and_save(self, x: torch.Tensor, **params: float) -> tuple[torch.Tensor, torch.Tensor]:
        if self.saves != "mask":
            y = self.forward(x, **params)
            return y, (x if self.saves == "input" else y)
        xc, half = _compute(x)
        y = torch.empty_like(xc, memory_format=torch.contiguous_format)
        nbits = len(self.traced.mask_bits or ())
        m = torch.empty(xc.shape if nbits else (0,), dtype=torch.uint8)
        if xc.numel():
            if nbits:
                self._call("fwds", _DT[xc.dtype], xc.data_ptr(), None, y.data_ptr(), m.data_ptr(), params,
                           xc.numel())
            else:
                self._call("fwd", _DT[xc.dtype], xc.data_ptr(), None, y.data_ptr(), None, params, xc.numel())
        return (y.to(half) if half is not None else y), m

    def mask(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        """The saved mask alone (one extra pass: prefer ``forward_and_save``)."""
        xc, _ = _compute(x)
        nbits = len(self.traced.mask_bits or ())
        m = torch.empty(xc.shape if nbits else (0,), dtype=torch.uint8)
        if xc.numel() and nbits:
            self._call("mask", _DT[xc.dtype], xc.data_ptr(), None, m.data_ptr(), None, params, xc.numel())
        return m

    def backward(self, saved: torch.Tensor, grad: torch.Tensor, **params: float) -> torch.Tensor:
        out_dtype = grad.dtype
        if self.saves == "mask":
            dt = torch.float64 if grad.dtype == torch.float64 else torch.float32
            g = grad.to(dt).contiguous()
            s_ptr = saved.contiguous().data_ptr() if self.traced.mask_bits else None
        else:
            s, _ = _compute(saved)
            dt = s.dtype
            g = grad.to(dt).contiguous()
            s_ptr = s.data_ptr()
            saved = s
        gx = torch.empty_like(g, memory_format=torch.contiguous_format)
        if g.numel():
            self._call("bwd", _DT[dt], s_ptr, g.data_ptr(), gx.data_ptr(), None, params, g.numel())
        return gx if gx.dtype == out_dtype else gx.to(out_dtype)


def _compute(x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype | None]:
    """Contiguous fp32/fp64 view of ``x`` and the half dtype to cast back to (or None)."""
    if x.dtype in _HALF:
        return x.to(torch.float32).contiguous(), x.dtype
    return x.contiguous(), None
