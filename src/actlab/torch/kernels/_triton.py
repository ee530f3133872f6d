"""GPU kernels: the traced catalog formula emitted as Triton source.

The same expression DAG that becomes the C loop becomes one ``@triton.jit``
kernel per pass (forward, forward-and-mask, mask, backward) and per compute
dtype: fp32 for fp16 / bf16 / fp32 tensors, fp64 for fp64. Loads convert to
the compute dtype and stores convert back, so half-precision inputs are
computed in fp32 in registers at no extra memory traffic. Transcendentals use
libdevice (``__nv_expf`` etc., correctly handling subnormals and large
arguments), not the fast approximate ``tl.exp``.

Parameters arrive as one small float64 tensor (so fp64 kernels get exact
values, and a new parameter value needs no recompilation); scalar
sub-expressions of parameters are evaluated once per program, in fp64.

The generated source is written to the cache directory and imported from
there (Triton reads a kernel's source with ``inspect``). With
``TRITON_INTERPRET=1`` the kernels run on CPU tensors through Triton's
interpreter; :mod:`._triton_interp` supplies NumPy versions of the libdevice
functions, which the interpreter lacks. That is how CI tests these kernels.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import threading
from pathlib import Path
from typing import Any

import torch

from ._trace import Node, Program, Traced, programs, topo

BLOCK = 1024
NUM_WARPS = 4
CT = {"f32": "tl.float32", "f64": "tl.float64"}
LIBDEVICE_UNARY = {"exp", "expm1", "log", "log1p", "log2", "log10", "exp2", "sqrt", "sin", "cos", "tan",
                   "tanh", "sinh", "cosh", "atan", "asin", "acos", "asinh", "acosh", "atanh", "erf", "erfc",
                   "cbrt", "floor", "ceil", "trunc", "rint"}
LIBDEVICE_BINARY = {"pow", "atan2", "hypot", "copysign", "fmod"}


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=1)
def _importable() -> bool:
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


def triton_available() -> bool:
    """Triton is installed and there is a device for it (or the interpreter is on)."""
    if not _importable():
        return False
    return interpreting() or torch.cuda.is_available()


class _Emitter:
    def __init__(self, dt: str, consts: list[float]) -> None:
        self.dt, self.ct = dt, CT[dt]
        self.extra = consts  # non-finite constants, passed after the parameters in P

    def lit(self, v: float, dtype: str) -> str:
        if math.isfinite(v):
            return f"tl.full([], {float(v)!r}, {dtype})"
        if v not in self.extra and not (math.isnan(v) and any(math.isnan(e) for e in self.extra)):
            self.extra.append(v)
        k = next(i for i, e in enumerate(self.extra) if e == v or (math.isnan(v) and math.isnan(e)))
        return f"c{k}.to({dtype})"

    def ref(self, n: Node, inloop: bool) -> str:
        if n.op == "const":
            return self.lit(n.value, self.ct if inloop else "tl.float64")
        if n.op == "bconst":
            return "True" if n.value else "False"
        if not n.xdep:
            return f"s{n.idx}c" if (inloop and n.kind == "f") else f"s{n.idx}"
        return f"v{n.idx}"

    def expr(self, n: Node, inloop: bool) -> str:
        a = [self.ref(x, inloop) for x in n.args]
        op = n.op
        t = self.ct if inloop else "tl.float64"
        if op == "param":
            return f"tl.load(P + {n.value[0]})"
        if op == "bcast":
            return f"{a[0]}.to({t})"
        if op in LIBDEVICE_UNARY:
            return f"libdevice.{op}({a[0]})"
        if op == "abs":
            return f"tl.abs({a[0]})"
        if op == "neg":
            return f"(-{a[0]})"
        if op == "square":
            return f"({a[0]} * {a[0]})"
        if op == "sign":
            one, zero = self.lit(1.0, t), self.lit(0.0, t)
            return f"tl.where({a[0]} > {zero}, {one}, tl.where({a[0]} < {zero}, -{one}, {a[0]}))"
        if op in LIBDEVICE_BINARY:
            return f"libdevice.{op}({a[0]}, {a[1]})"
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
               "eq": "==", "ne": "!="}
        if op in ("and", "or", "xor"):  # via int8: the interpreter rejects some int1 mixes
            o = {"and": "&", "or": "|", "xor": "^"}[op]
            return f"(({a[0]}.to(tl.int8) {o} {a[1]}.to(tl.int8)) != 0)"
        if op in sym:
            return f"({a[0]} {sym[op]} {a[1]})"
        if op == "maximum":
            return f"tl.where(({a[0]} > {a[1]}) | ({a[0]} != {a[0]}), {a[0]}, {a[1]})"
        if op == "minimum":
            return f"tl.where(({a[0]} < {a[1]}) | ({a[0]} != {a[0]}), {a[0]}, {a[1]})"
        if op == "not":
            return f"({a[0]}.to(tl.int8) == 0)"
        if op == "isnan":
            return f"({a[0]} != {a[0]})"
        if op == "isinf":
            return f"(tl.abs({a[0]}) == {self.lit(math.inf, t)})"
        if op == "isfinite":
            return f"(tl.abs({a[0]}) < {self.lit(math.inf, t)})"
        if op == "signbit":
            return f"(libdevice.signbit({a[0]}) != 0)"
        if op in ("where", "bwhere"):
            return f"tl.where({a[0]}, {a[1]}, {a[2]})"
        raise NotImplementedError(f"Triton emitter: op {op!r}")


def emit_kernel(prog: Program, name: str, dt: str, nparams: int) -> tuple[str, list[float]]:
    """Triton source of one kernel, and the non-finite constants it reads after the parameters."""
    consts: list[float] = []
    e = _Emitter(dt, consts)
    nodes = topo(prog.roots())
    body: list[str] = []
    for n in nodes:  # scalars (parameters), in fp64
        if n.xdep or n.op in ("const", "bconst"):
            continue
        body.append(f"    s{n.idx} = {e.expr(n, False)}")
        if n.kind == "f":
            body.append(f"    s{n.idx}c = s{n.idx}.to({e.ct})")
    ins = {"x": "A", "y": "A", "mask": "A", "g": "B"}
    for n in nodes:
        if not n.xdep:
            continue
        if n.op in ("x", "y", "g"):
            src = ins["g" if n.op == "g" else prog.inputs[0]]
            body.append(f"    v{n.idx} = tl.load({src} + offs, mask=inb, other=0).to({e.ct})")
        elif n.op == "bit":
            body.append(f"    v{n.idx} = ((mk >> {n.value}) & 1) != 0")
        else:
            body.append(f"    v{n.idx} = {e.expr(n, True)}")
    outs = ["C", "D"]
    for k, (oname, v) in enumerate(prog.outputs):
        if oname == "mask":
            bits = " | ".join(f"({e.ref(b, True)}.to(tl.uint8) << {i})" for i, b in enumerate(v)) or "0"
            body.append(f"    tl.store({outs[k]} + offs, ({bits}).to(tl.uint8), mask=inb)")
        elif oname == "sum":  # one partial sum per program, in float64; the caller adds them up
            for j, node in enumerate(v):
                body.append(f"    tl.store({outs[k]} + tl.program_id(0) * {len(v)} + {j}, "
                            f"tl.sum(tl.where(inb, {e.ref(node, True)}, 0).to(tl.float64), axis=0))")
        else:
            body.append(f"    tl.store({outs[k]} + offs, {e.ref(v, True)}.to({outs[k]}.dtype.element_ty), "
                        f"mask=inb)")
    head = [
        "@triton.jit",
        f"def {name}(A, B, C, D, P, n, BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        "    inb = offs < n",
    ]
    if any(n.op == "bit" for n in nodes):
        head.append("    mk = tl.load(A + offs, mask=inb, other=0)")
    for k in range(len(consts)):
        head.append(f"    c{k} = tl.load(P + {nparams + k})")
    return "\n".join(head + body) + "\n", consts


def source(progs: dict[str, dict[str, Program]], nparams: int) -> tuple[str, dict[str, list[float]]]:
    parts = ["import triton", "import triton.language as tl",
             "from triton.language.extra import libdevice", "", ""]
    consts = {}
    for dt, pp in progs.items():
        for pname, prog in pp.items():
            src, c = emit_kernel(prog, f"{pname}_{dt}", dt, nparams)
            parts.append(src)
            consts[f"{pname}_{dt}"] = c
    return "\n\n".join(parts), consts


def cache_dir() -> Path:
    from ._cgen import cache_dir as cpu_dir

    return cpu_dir().parent / "triton"


_MODULES: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_module(src: str, tag: str) -> Any:
    """Write ``src`` under the cache directory (once) and import it."""
    from ._triton_interp import ensure

    ensure(interpreting())
    key = hashlib.sha256(src.encode()).hexdigest()[:24] + ("-interp" if interpreting() else "")
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is not None:
            return mod
        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{tag}_{key.replace('-', '_')}.py"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(src)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(f"actlab_triton_{tag}_{key.replace('-', '_')}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
        return mod


_PARAMS: dict[tuple, torch.Tensor] = {}


def params_tensor(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    key = (values, str(device))
    t = _PARAMS.get(key)
    if t is None:
        if len(_PARAMS) > 1024:
            _PARAMS.clear()
        t = _PARAMS[key] = torch.tensor(values or (0.0,), dtype=torch.float64, device=device)
    return t


class TritonKernels:
    """Triton forward / forward-and-save / mask / backward of one traced activation."""

    def __init__(self, traced: dict[str, Traced], tag: str) -> None:
        if not _importable():
            raise RuntimeError("triton is not installed")
        self.traced = traced["f32"]
        self.saves = self.traced.saves
        self.param_names = self.traced.params
        self.nbits = len(self.traced.mask_bits or ())
        progs = {dt: programs(t) for dt, t in traced.items()}
        nparams = 0 if self.traced.specialized is not None else len(self.param_names)
        src, self._consts = source(progs, nparams)
        self.source = src
        self._mod = load_module(src, tag)

    def _launch(self, prog: str, x: torch.Tensor, a, b, c, d, params: dict[str, float]) -> None:
        dt = "f64" if x.dtype == torch.float64 else "f32"
        name = f"{prog}_{dt}"
        vals = () if self.traced.specialized is not None else tuple(
            float(params[k]) for k in self.param_names)
        p = params_tensor(vals + tuple(self._consts[name]), x.device)
        n = x.numel()
        fn = getattr(self._mod, name)
        from ._triton_interp import ensure

        ensure(interpreting())
        with quiet():
            fn[(triton_cdiv(n, BLOCK),)](a, b, c, d, p, n, BLOCK=BLOCK, num_warps=NUM_WARPS)

    def forward(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        if x.numel():
            self._launch("fwd", x, x, None, y, None, params)
        return y

    def forward_and_save(self, x: torch.Tensor, **params: float) -> tuple[torch.Tensor, torch.Tensor]:
        if self.saves != "mask":
            y = self.forward(x, **params)
            return y, (x if self.saves == "input" else y)
        x = x.contiguous()
        y = torch.empty_like(x)
        m = torch.empty(x.shape if self.nbits else (0,), dtype=torch.uint8, device=x.device)
        if x.numel():
            if self.nbits:
                self._launch("fwds", x, x, None, y, m, params)
            else:
                self._launch("fwd", x, x, None, y, None, params)
        return y, m

    def mask(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        x = x.contiguous()
        m = torch.empty(x.shape if self.nbits else (0,), dtype=torch.uint8, device=x.device)
        if x.numel() and self.nbits:
            self._launch("mask", x, x, None, m, None, params)
        return m

    def backward(self, saved: torch.Tensor, grad: torch.Tensor, **params: float) -> torch.Tensor:
        g = grad.contiguous()
        gx = torch.empty_like(g)
        if g.numel():
            s = saved.contiguous() if (self.saves != "mask" or self.nbits) else None
            self._launch("bwd", g, s, g, gx, None, params)
        return gx


def quiet():
    """The interpreter evaluates both sides of every ``where`` in NumPy: silence its warnings."""
    import contextlib

    if interpreting():
        import numpy as np

        return np.errstate(all="ignore")
    return contextlib.nullcontext()


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b
