"""C code generation and the on-disk build cache for the CPU kernels.

Each traced program becomes one ``#pragma omp simd`` loop. gcc vectorizes it,
calling glibc's vector math library (libmvec: exp, log1p, tanh, erf, ... at
<= 4 ulp) for the transcendental functions, and a small pthread runner splits
the loop across ``torch.get_num_threads()`` threads. The flags keep IEEE
semantics (no ``-ffast-math``: inf, nan, signed zeros and subnormals behave as
in NumPy); ``-fno-math-errno -fno-trapping-math`` only allow vectorization,
``-ffp-contract=off`` keeps the catalog's rounding (no silent FMA).

The shared library is keyed by a hash of its source, the compiler and the
flags, and cached under ``$ACTLAB_CACHE_DIR`` (default ``~/.cache/actlab``), so
the compiler runs once per machine, never on import. Without gcc, or when a
build fails, :func:`build` returns None and the caller uses the generic path.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ._trace import Node, Program, topo

log = logging.getLogger("actlab.kernels")

CTYPES = {"f32": "float", "f64": "double"}
SFX = {"f32": "f", "f64": ""}
FINFO = {"f32": {"eps": "FLT_EPSILON", "max": "FLT_MAX", "tiny": "FLT_MIN"},
         "f64": {"eps": "DBL_EPSILON", "max": "DBL_MAX", "tiny": "DBL_MIN"}}

LIBM_UNARY = {"exp", "expm1", "log", "log1p", "log2", "log10", "exp2", "sqrt", "sin", "cos", "tan", "tanh",
              "sinh", "cosh", "atan", "asin", "acos", "asinh", "acosh", "atanh", "erf", "erfc", "cbrt",
              "floor", "ceil", "trunc", "rint"}
LIBM_BINARY = {"pow", "atan2", "hypot", "copysign", "fmod"}
# functions with glibc vector variants (libmvec, glibc >= 2.35)
MVEC = ["exp", "expm1", "log", "log1p", "log2", "log10", "exp2", "sin", "cos", "tan", "tanh", "sinh",
        "cosh", "atan", "asin", "acos", "asinh", "acosh", "atanh", "erf", "erfc", "cbrt"]
MVEC2 = ["pow", "atan2", "hypot"]

_PRELUDE = r"""
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <stdbool.h>
#include <pthread.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define OPAQUE(v) __builtin_assoc_barrier(v)
#else
#define OPAQUE(v) (v)
#endif

/* e^a for arguments that are often far out (e^(x + e^x), e^(e^x)): libmvec's vector exp hands the
   whole vector to scalar code as soon as one lane is beyond about +-87 (float) / +-708 (double).
   Far arguments are halved (exactly) into the fast range and the result squared: one more
   rounding, and e^a = 0 / inf beyond the clamp as it should be. Below -160 (-1400) the factor is
   0, not e: a product that underflows costs a microcode assist on x86, a product with 0 does not. */
static inline float EXP_f32(float a) {
  const float f = fabsf(a) > 80.0f ? 0.5f : 1.0f;
  float h = a * f;
  h = h < -80.0f ? -80.0f : h;
  h = h > 80.0f ? 80.0f : h;
  const float e = expf(h);
  return e * (f < 1.0f ? (a < -160.0f ? 0.0f : e) : 1.0f);
}
static inline double EXP_f64(double a) {
  const double f = fabs(a) > 700.0 ? 0.5 : 1.0;
  double h = a * f;
  h = h < -700.0 ? -700.0 : h;
  h = h > 700.0 ? 700.0 : h;
  const double e = exp(h);
  return e * (f < 1.0 ? (a < -1400.0 ? 0.0 : e) : 1.0);
}

typedef struct {
  const void* a; const void* b; void* c; void* d; const double* p; int64_t n; int64_t chunk;
} args_t;
typedef void (*body_t)(const args_t*, int64_t, int64_t);
typedef struct { body_t f; const args_t* A; int64_t lo, hi; } job_t;

static void* tramp(void* j) { job_t* J = (job_t*)j; J->f(J->A, J->lo, J->hi); return 0; }

/* Split [0, n) into nt cache-line-aligned chunks; run chunk 0 on the calling thread.
   A body that reduces finds its slot (0 .. nt-1) as lo / A->chunk. */
static void run(body_t f, args_t* A, int nt) {
  int64_t n = A->n;
  if (nt > 64) nt = 64;
  if (nt <= 1 || n < 32768) { A->chunk = n > 0 ? n : 1; f(A, 0, n); return; }
  int64_t chunk = ((n + nt - 1) / nt + 63) & ~(int64_t)63;
  A->chunk = chunk;
  pthread_t th[64]; job_t jobs[64]; int k = 0;
  for (int t = 1; t < nt; t++) {
    int64_t lo = t * chunk; if (lo >= n) break;
    int64_t hi = lo + chunk < n ? lo + chunk : n;
    jobs[k].f = f; jobs[k].A = A; jobs[k].lo = lo; jobs[k].hi = hi;
    if (pthread_create(&th[k], 0, tramp, &jobs[k]) != 0) { f(A, lo, hi); continue; }
    k++;
  }
  f(A, 0, chunk < n ? chunk : n);
  for (int t = 0; t < k; t++) pthread_join(th[t], 0);
}
"""


def _simd_decls() -> str:
    lines = []
    for f in MVEC:
        lines.append(f'float {f}f(float) __attribute__((simd("notinbranch")));')
        lines.append(f'double {f}(double) __attribute__((simd("notinbranch")));')
    for f in MVEC2:
        lines.append(f'float {f}f(float, float) __attribute__((simd("notinbranch")));')
        lines.append(f'double {f}(double, double) __attribute__((simd("notinbranch")));')
    return "\n".join(lines) + "\n"


def _lit(v: float) -> str:
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "(-INFINITY)"
    return repr(float(v))


class _Emitter:
    """Emit the statements of one program for one dtype."""

    def __init__(self, dt: str) -> None:
        self.dt, self.T, self.s = dt, CTYPES[dt], SFX[dt]

    def ref(self, n: Node, inloop: bool) -> str:
        if n.op == "const":
            return f"(({self.T}){_lit(n.value)})" if inloop else _lit(n.value)
        if n.op == "bconst":
            return "1" if n.value else "0"
        if not n.xdep and inloop:
            return f"t{n.idx}" if n.kind == "f" else f"s{n.idx}"
        return f"{'v' if n.xdep else 's'}{n.idx}"

    def expr(self, n: Node, inloop: bool) -> str:
        T, s = (self.T, self.s) if inloop else ("double", "")
        a = [self.ref(x, inloop) for x in n.args]
        op = n.op
        if op == "param":
            return f"p[{n.value[0]}]"
        if op == "finfo":
            return FINFO[self.dt][n.value]
        if op == "bcast":
            return f"(({T}){a[0]})"
        if op == "cos":  # the barrier keeps gcc from fusing sin(a), cos(a) into an unvectorizable sincos
            return f"cos{s}(OPAQUE({a[0]}))"
        if op == "exp" and inloop and _simd_ok() and _nested_exp(n.args[0]):
            return f"EXP_{self.dt}({a[0]})"
        if op in LIBM_UNARY:
            return f"{op}{s}({a[0]})"
        if op == "abs":
            return f"fabs{s}({a[0]})"
        if op == "neg":
            return f"(-{a[0]})"
        if op == "square":
            return f"({a[0]} * {a[0]})"
        if op == "sign":
            return f"({a[0]} > 0 ? ({T})1 : ({a[0]} < 0 ? ({T})-1 : {a[0]}))"
        if op in LIBM_BINARY:
            return f"{op}{s}({a[0]}, {a[1]})"
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
               "eq": "==", "ne": "!=", "and": "&", "or": "|", "xor": "!="}
        if op in sym:
            return f"({a[0]} {sym[op]} {a[1]})"
        if op == "maximum":
            return f"(({a[0]} > {a[1]} || {a[0]} != {a[0]}) ? {a[0]} : {a[1]})"
        if op == "minimum":
            return f"(({a[0]} < {a[1]} || {a[0]} != {a[0]}) ? {a[0]} : {a[1]})"
        if op == "not":
            return f"(!{a[0]})"
        if op == "isnan":
            return f"({a[0]} != {a[0]})"
        if op == "isinf":
            return f"(fabs{s}({a[0]}) == ({T})INFINITY)"
        if op == "isfinite":
            return f"(fabs{s}({a[0]}) < ({T})INFINITY)"
        if op == "signbit":
            return f"(signbit({a[0]}) != 0)"
        if op in ("where", "bwhere"):
            return f"({a[0]} ? {a[1]} : {a[2]})"
        raise NotImplementedError(f"C emitter: op {op!r}")


def _nested_exp(n: Node) -> bool:
    """Does ``n`` contain an exponential (so that e^n is routinely far out of range)?"""
    return any(m.op in ("exp", "expm1", "exp2", "sinh", "cosh") for m in topo([n]))


def emit_function(prog: Program, name: str, dt: str) -> str:
    """C source of ``name``: an exported entry point and its loop body."""
    e = _Emitter(dt)
    T = e.T
    nodes = topo(prog.roots())
    lines = [f"static void {name}_body(const args_t* A, int64_t lo, int64_t hi) {{",
             "  const double* p = A->p; (void)p;"]
    ptrs = ["a", "b"]
    for k, inp in enumerate(prog.inputs):
        ctype = "uint8_t" if inp == "mask" else T
        lines.append(f"  const {ctype}* restrict in_{inp} = (const {ctype}*)A->{ptrs[k]};")
    outs = ["c", "d"]
    for k, (oname, _) in enumerate(prog.outputs):
        if oname == "sum":
            continue
        ctype = "uint8_t" if oname == "mask" else T
        lines.append(f"  {ctype}* restrict out_{oname} = ({ctype}*)A->{outs[k]};")
    for n in nodes:  # hoisted scalars, in double
        if n.xdep or n.op in ("const", "bconst"):
            continue
        ctype = "bool" if n.kind == "b" else "double"
        lines.append(f"  const {ctype} s{n.idx} = {e.expr(n, False)};")
        if n.kind == "f":  # the loop sees it in the compute dtype, as NumPy casts a Python float
            lines.append(f"  const {T} t{n.idx} = ({T})s{n.idx};")
    sums = [v for oname, v in prog.outputs if oname == "sum"]
    red = sums[0] if sums else []
    ind = "    "
    if red:  # per-thread partial sums: blocks of 512 in the compute dtype, then into float64
        K = len(red)
        lines.append(f"  double* restrict acc = (double*)A->d + (lo / A->chunk) * {K};")
        lines.append("  for (int64_t b0 = lo; b0 < hi; b0 += 512) {")
        lines.append("  const int64_t b1 = b0 + 512 < hi ? b0 + 512 : hi;")
        lines.append("  " + " ".join(f"{T} r{k} = 0;" for k in range(K)))
        lines.append(f"  #pragma omp simd reduction(+:{', '.join(f'r{k}' for k in range(K))})")
        lines.append("  for (int64_t i = b0; i < b1; i++) {")
    else:
        lines.append("  #pragma omp simd")
        lines.append("  for (int64_t i = lo; i < hi; i++) {")
    for n in nodes:
        if not n.xdep:
            continue
        ctype = "bool" if n.kind == "b" else T
        if n.op in ("x", "y", "g"):
            lines.append(f"{ind}const {T} v{n.idx} = in_{n.op}[i];")
        elif n.op == "bit":
            lines.append(f"{ind}const bool v{n.idx} = (in_mask[i] >> {n.value}) & 1;")
        else:
            lines.append(f"{ind}const {ctype} v{n.idx} = {e.expr(n, True)};")
    for oname, v in prog.outputs:
        if oname == "mask":
            bits = " | ".join(f"((uint8_t){e.ref(b, True)} << {i})" for i, b in enumerate(v)) or "0"
            lines.append(f"{ind}out_mask[i] = (uint8_t)({bits});")
        elif oname == "sum":
            for k, node in enumerate(v):
                lines.append(f"{ind}r{k} += {e.ref(node, True)};")
        else:
            lines.append(f"{ind}out_{oname}[i] = {e.ref(v, True)};")
    lines.append("  }")
    if red:
        lines.append("  " + " ".join(f"acc[{k}] += (double)r{k};" for k in range(len(red))))
        lines.append("  }")
    lines.append("}")
    lines.append(f"void {name}(const void* a, const void* b, void* c, void* d, const double* p, "
                 f"int64_t n, int nt) {{")
    lines.append("  args_t A = {a, b, c, d, p, n, 0};")
    lines.append(f"  run({name}_body, &A, nt);")
    lines.append("}")
    return "\n".join(lines) + "\n"


def source(programs: dict[str, dict[str, Program]], extra: str = "") -> str:
    """C source for ``{dtype: {program name: program}}``; entry points are ``NAME_f32`` etc."""
    parts = [_PRELUDE]
    if _simd_ok():
        parts.append(_simd_decls())
    for dt, progs in programs.items():
        for pname, prog in progs.items():
            parts.append(emit_function(prog, f"{pname}_{dt}", dt))
    parts.append(extra)
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# building and loading

_FLAGS = ["-O3", "-std=gnu11", "-fPIC", "-shared", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math",
          "-ffp-contract=off", "-fno-semantic-interposition",
          # PRE turns `(a < b | b != b) ? b : a` chains into selects of masks, which gcc 12 cannot
          # vectorize; the DAG is already CSE'd, so PRE buys nothing here.
          "-fno-tree-pre"]
_LOCK = threading.Lock()
_LOADED: dict[str, ctypes.CDLL | None] = {}
_STATUS: dict[str, str] = {}


def cache_dir() -> Path:
    root = os.environ.get("ACTLAB_CACHE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "actlab"
    return base / "kernels" / "cpu"


@functools.lru_cache(maxsize=1)
def compiler() -> str | None:
    if os.environ.get("ACTLAB_NO_CPU_KERNELS"):
        _STATUS["compiler"] = "disabled by ACTLAB_NO_CPU_KERNELS"
        return None
    cc = os.environ.get("ACTLAB_CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        _STATUS["compiler"] = "no C compiler (gcc) on PATH: CPU kernels are off, the generic path is used"
        return None
    return cc


@functools.lru_cache(maxsize=1)
def _compiler_id() -> str:
    cc = compiler()
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout  # type: ignore[list-item]
    except Exception:  # noqa: BLE001
        out = ""
    return out.splitlines()[0] if out else str(cc)


@functools.lru_cache(maxsize=1)
def _arch_flags() -> tuple[str, ...]:
    if platform.machine() not in ("x86_64", "AMD64"):
        return ()
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    except Exception:  # noqa: BLE001
        flags = []
    if "avx2" in flags and "fma" in flags:
        return ("-mavx2", "-mfma")
    return ()


@functools.lru_cache(maxsize=1)
def _simd_ok() -> bool:
    """libmvec AVX2 variants: x86-64 with AVX2 and glibc >= 2.35."""
    if not _arch_flags():
        return False
    libc, ver = platform.libc_ver()
    try:
        major, minor = (int(v) for v in ver.split(".")[:2])
    except ValueError:
        return False
    return libc == "glibc" and (major, minor) >= (2, 35)


def _flags() -> list[str]:
    f = [*_FLAGS, *_arch_flags()]
    return f


def _libs() -> list[str]:
    return (["-lmvec"] if _simd_ok() else []) + ["-lm", "-lpthread", "-Wl,-z,defs"]


def build(src: str, tag: str) -> ctypes.CDLL | None:
    """Compile ``src`` once (cached on disk by hash) and load it; None if impossible."""
    cc = compiler()
    if cc is None:
        return None
    key = hashlib.sha256("\0".join([src, _compiler_id(), *_flags(), *_libs()]).encode()).hexdigest()[:24]
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        d = cache_dir()
        so = d / f"{tag}-{key}.so"
        lib = None
        try:
            if not so.exists():
                d.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=d) as tmp:
                    c = Path(tmp) / f"{tag}.c"
                    c.write_text(src)
                    out = Path(tmp) / "k.so"
                    r = subprocess.run([cc, *_flags(), str(c), "-o", str(out), *_libs()],
                                       capture_output=True, text=True, timeout=600)
                    if r.returncode != 0:
                        raise RuntimeError(r.stderr[-2000:])
                    os.replace(out, so)  # atomic: concurrent builders race harmlessly
            lib = ctypes.CDLL(str(so))
        except Exception as e:  # noqa: BLE001 - any failure means: use the generic path
            _STATUS[tag] = f"build failed: {e}"
            log.warning("actlab: CPU kernel %s not built (%s); using the generic path", tag, str(e)[:300])
            lib = None
        _LOADED[key] = lib
        return lib


def status() -> dict[str, str]:
    return dict(_STATUS)


def bind(lib: ctypes.CDLL, name: str):
    f = getattr(lib, name)
    f.restype = None
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                  ctypes.c_int64, ctypes.c_int]
    return f
