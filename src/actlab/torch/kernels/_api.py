"""Dispatch: pick the kernel for a name, device and dtype."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ._trace import Traced, TraceError, trace

log = logging.getLogger("actlab.kernels")

Saves = Literal["input", "output", "mask"]

# Entries whose CPU kernel was slower, forward+backward, than torch's native kernel in
# `python -m benchmarks.kernels` (2 threads, 4M float32, 2026-11-23): fused() returns None for
# them on CPU, so that the caller uses torch's own kernel. Most are memory-bound (the kernel
# writes a 1-byte mask besides the output, and pays a thread start per call); silu and sigmoid
# carry the catalog's guards for +-inf and nan, which torch's kernels skip. kernel(name, "cpu")
# still gives their kernel (tests and benchmarks use it).
CPU_SKIP: frozenset[str] = frozenset({
    "exponential", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "identity", "leaky_relu",
    "relu", "relu6", "rrelu", "sigmoid", "silu", "softshrink", "threshold",
})


@dataclass(frozen=True)
class FusedKernel:
    """A fused forward/backward pair for one activation on one kind of device.

    ``saves`` is "input", "output" or "mask" (a 1-byte uint8 tensor of comparison bits,
    for entries whose derivative is piecewise constant). ``save(x, y, **params)`` gives
    the tensor to keep; ``forward_and_save`` computes both in one pass.
    """

    name: str
    saves: Saves
    forward: Callable[..., torch.Tensor]
    backward: Callable[..., torch.Tensor]
    forward_and_save: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    mask: Callable[..., torch.Tensor] | None = None
    backend: str = "cpu"  # "cpu" (C) or "triton"

    def save(self, x: torch.Tensor, y: torch.Tensor, **params: Any) -> torch.Tensor:
        if self.saves == "input":
            return x
        if self.saves == "output":
            return y
        assert self.mask is not None
        return self.mask(x, **params)


class _Entry:
    """Traces and compiled kernels of one spec, built lazily per backend and parameter set."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        # False: not traced yet; None: the trace needs parameter values (specialized builds)
        self.generic: dict[str, Traced] | None | bool = False
        self.built: dict[tuple, Any] = {}
        self.fused: dict[str, FusedKernel | None] = {}
        self.error: str | None = None

    def traced(self, params: dict[str, float] | None) -> dict[str, Traced] | None:
        """{"f32": Traced, "f64": Traced}: generic in the parameters where possible."""
        from ._rewrites import REWRITES

        rw = REWRITES.get(self.spec.name)
        kw = {} if rw is None else {"forward": rw.forward, "derivative": rw.derivative,
                                    "grad_from": rw.grad_from}
        if os.environ.get("ACTLAB_NO_REWRITES"):
            kw = {}
        if self.generic is False:
            try:
                self.generic = _pair(self.spec, None, kw)
            except TraceError as e:
                self.error = str(e)
                self.generic = None
        if self.generic is not None:
            return self.generic  # type: ignore[return-value]
        if params is None:
            return None
        try:
            return _pair(self.spec, params, kw)
        except TraceError as e:
            self.error = str(e)
            return None

    def kernels(self, backend: str, params: dict[str, float] | None) -> Any:
        t = self.traced(params)
        if t is None:
            return None
        spec_vals = t["f32"].specialized
        key = (backend, None if spec_vals is None else tuple(sorted(spec_vals.items())))
        with self.lock:
            if key not in self.built:
                try:
                    if backend == "cpu":
                        from ._cpu import CpuKernels

                        self.built[key] = CpuKernels(t, _tag(self.spec.name))
                    else:
                        from ._triton import TritonKernels

                        self.built[key] = TritonKernels(t, _tag(self.spec.name))
                except Exception as e:  # noqa: BLE001 - any failure: generic path
                    self.error = f"{backend}: {e}"
                    log.info("actlab: no %s kernel for %s: %s", backend, self.spec.name, e)
                    self.built[key] = None
            return self.built[key]


def _pair(spec: Any, params: dict[str, float] | None, kw: dict) -> dict[str, Traced]:
    out = {dt: trace(spec, params, dtype=dt, **kw) for dt in ("f32", "f64")}
    if out["f32"].saves != out["f64"].saves:
        raise TraceError(f"{spec.name}: float32 and float64 traces save different things")
    return out


def _tag(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


_ENTRIES: dict[int, _Entry] = {}
_ELOCK = threading.Lock()


def _entry(spec: Any) -> _Entry:
    with _ELOCK:
        e = _ENTRIES.get(id(spec))
        if e is None or e.spec is not spec:
            e = _ENTRIES[id(spec)] = _Entry(spec)
        return e


def _backend_for(x: torch.Tensor) -> str | None:
    if x.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        return None
    if x.device.type == "cpu":
        return "cpu"
    if x.device.type == "cuda":
        from ._triton import triton_available

        return "triton" if triton_available() else None
    return None


def fused(name: str, x: torch.Tensor) -> FusedKernel | None:
    """The fastest kernel for ``name`` on ``x``'s device/dtype, or None for the generic path."""
    import actlab

    spec = actlab.spec(name)
    if spec.kind != "elementwise":
        return None
    backend = _backend_for(x)
    if backend is None or (backend == "cpu" and spec.name in CPU_SKIP):
        return None
    return kernel(spec, backend)


def kernel(spec: Any, backend: str) -> FusedKernel | None:
    """The kernel of ``spec`` on ``backend`` ("cpu" or "triton"), ignoring the skip list."""
    import actlab

    spec = actlab.spec(spec)
    e = _entry(spec)
    try:
        return e.fused[backend]
    except KeyError:
        pass
    k = _make_kernel(spec, e, backend)
    e.fused[backend] = k
    return k


def _make_kernel(spec: Any, e: _Entry, backend: str) -> FusedKernel | None:

    def get(params: dict[str, float]) -> Any:
        k = e.kernels(backend, params)
        if k is None:
            raise RuntimeError(f"{spec.name}: no {backend} kernel for parameters {params} ({e.error})")
        return k

    # Build now where the trace is parameter-generic (so failure means None, not an error later).
    t = e.traced(None)
    if t is not None:
        k = e.kernels(backend, None)
        if k is None:
            return None
        return FusedKernel(spec.name, k.saves, k.forward, k.backward, k.forward_and_save,
                           k.mask if k.saves == "mask" else None, backend)
    # Parameter-specialized: the python code branches on parameter values.
    probe = e.kernels(backend, dict(spec.defaults))
    if probe is None:
        return None
    saves = probe.saves
    return FusedKernel(
        spec.name, saves,
        lambda x, **p: get(p).forward(x, **p),
        lambda s, g, **p: get(p).backward(s, g, **p),
        lambda x, **p: get(p).forward_and_save(x, **p),
        (lambda x, **p: get(p).mask(x, **p)) if saves == "mask" else None,
        backend)


def available(device: str = "cpu") -> list[str]:
    """Names of the elementwise entries that have a kernel on ``device``."""
    import actlab

    backend = "cpu" if device == "cpu" else "triton"
    out = []
    for act in actlab.catalog(kind="elementwise"):
        try:
            if kernel(act.spec, backend) is not None:
                out.append(act.name)
        except Exception:  # noqa: BLE001
            pass
    return out


def status() -> dict[str, str]:
    """Why kernels are off, per name, where they are."""
    from . import _cgen

    out = dict(_cgen.status())
    for e in _ENTRIES.values():
        if e.error:
            out[e.spec.name] = e.error
    return out


class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, params):  # type: ignore[override]
        y, saved = kernel.forward_and_save(x, **params)
        ctx.kernel, ctx.params = kernel, params
        ctx.save_for_backward(saved)
        return y

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (saved,) = ctx.saved_tensors
        return ctx.kernel.backward(saved, g, **ctx.params), None, None


_BOUND: dict[tuple, Any] = {}


def apply(name: str, x: torch.Tensor, **params: Any) -> torch.Tensor:
    """``f(x)`` with the fused kernel and its fused backward; catalog fallback."""
    import actlab

    key = (name, tuple(sorted(params.items())))
    act = _BOUND.get(key)
    if act is None or act.spec is not actlab.spec(name):
        act = actlab.get(name, **params)
        if len(_BOUND) > 1024:
            _BOUND.clear()
        _BOUND[key] = act
    k = fused(act.name, x) if act.is_elementwise else None
    if k is None:
        return act(x)
    if not (torch.is_grad_enabled() and x.requires_grad):
        return k.forward(x, **act.params)
    return _Apply.apply(x, k, dict(act.params))


def rational(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Safe PAU: P(x) / (1 + sum_k |b_k x^k|), autograd-aware."""
    from ._rational import rational as _r

    return _r(x, numerator, denominator)


def combination(x: torch.Tensor, bases: list, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i weights[i] * bases[i](x)``, fused; gradients flow to x and weights."""
    from ._combo import combination as _c

    return _c(x, bases, weights)
