"""The safe Padé activation unit (PAU), fused forward and backward with parameter gradients.

    f(x) = P(x) / Q(x),  P(x) = sum_{i=0..m} a_i x^i,  Q(x) = 1 + sum_{k=1..n} |b_k| |x|^k

Two regimes keep every power in range. With ``r = x`` for ``|x| <= 1`` and ``r = 1/x``
otherwise, both are one polynomial pair in ``r`` whose coefficients are picked per element:

- ``Ph(r) = sum_j c_j r^j`` with ``c_j = a_j`` (small) or ``a_{m-j}`` (large);
- ``Qh(r) = sum_j q_j |r|^j`` with ``q_j = B_j`` or ``B_{n-j}``, where ``B_0 = 1, B_k = |b_k|``;
- ``f = s Ph / Qh`` with ``s = 1`` (small) or ``sign(x)^m |x|^(m-n)`` (large).

Backward, in one pass over (x, g), with ``E(r) = sum_j e_j r^j``, ``G(|r|) = sum_j h_j |r|^j``:

- small: ``e_j = (j+1) a_{j+1}``, ``h_j = (j+1) B_{j+1}`` and ``f' = (E - f sign(x) G) / Qh``;
- large: ``e_j = (m-j) a_{m-j}``, ``h_j = (n-j) B_{n-j}`` and ``f' = r (s E - f G) / Qh``;
- ``dL/dc_j = sum g s r^j / Qh`` and ``dL/dq_j = -sum g f |r|^j / Qh``, mapped back to ``a_i`` and
  ``b_k`` (``dL/db_k = sign(b_k) dL/dB_k``) after the reduction.

The reduction runs per thread in blocks of 512 elements (in the compute dtype), each block
added to a float64 total; the per-thread totals are summed in float64. Only ``x`` is saved.
At ``|x| > 1e7`` (float32; 1e15 in float64) the backward clamps x: f' and the parameter
gradients there are those at the clamp (a relative change of O(1/|x|) in f').
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import torch

from . import _cgen

_HALF = (torch.float16, torch.bfloat16)
CLAMP = {"f32": 1e7, "f64": 1e15}


# --- the C kernels ----------------------------------------------------------------------------

def _c_source(m: int, n: int) -> str:
    K = 2 * (m + 1) + 2 * (n + 1)
    d = m - n
    parts = [_cgen._PRELUDE]
    for dt, T in (("f32", "float"), ("f64", "double")):
        fa = "fabsf" if dt == "f32" else "fabs"
        if d >= 0:
            pw = " * ".join(["ax"] * d) or "(T)1"
            s_large = f"({pw})"
        else:
            s_large = "((T)1 / (" + " * ".join(["ax"] * (-d)) + "))"
        sgn = "(x < 0 ? (T)-1 : (T)1)" if m % 2 else "(T)1"
        setup = f"""
  typedef {T} T;
  const double* p = A->p;
  T as[{m + 1}], al[{m + 1}], es[{m + 1}], el[{m + 1}];
  T bs[{n + 1}], bl[{n + 1}], hs[{n + 1}], hl[{n + 1}], B[{n + 1}];
  B[0] = 1;
  for (int k = 1; k <= {n}; k++) B[k] = (T)fabs(p[{m} + k]);
  for (int j = 0; j <= {m}; j++) {{
    as[j] = (T)p[j]; al[j] = (T)p[{m} - j];
    es[j] = j < {m} ? (T)((j + 1) * p[j + 1]) : (T)0; el[j] = (T)(({m} - j) * p[{m} - j]);
  }}
  for (int j = 0; j <= {n}; j++) {{
    bs[j] = B[j]; bl[j] = B[{n} - j];
    hs[j] = j < {n} ? (T)(j + 1) * B[j + 1] : (T)0; hl[j] = (T)({n} - j) * B[{n} - j];
  }}
  (void)es; (void)el; (void)hs; (void)hl;"""
        head = f"""
    const bool small = {fa}(x) <= (T)1;
    const T r = small ? x : (T)1 / x;
    const T ar = {fa}(r);
    const T ax = {fa}(x);
    T P = small ? as[{m}] : al[{m}];
    T Q = small ? bs[{n}] : bl[{n}];
    const T s = small ? (T)1 : {sgn} * {s_large};"""
        parts.append(f"""
static void rfwd_{dt}_body(const args_t* A, int64_t lo, int64_t hi) {{{setup}
  const T* restrict X = (const T*)A->a;
  T* restrict Y = (T*)A->c;
  #pragma omp simd
  for (int64_t i = lo; i < hi; i++) {{
    const T x = X[i];{head}
    for (int j = {m - 1}; j >= 0; j--) P = P * r + (small ? as[j] : al[j]);
    for (int j = {n - 1}; j >= 0; j--) Q = Q * ar + (small ? bs[j] : bl[j]);
    Y[i] = s * (P / Q);
  }}
}}
void rfwd_{dt}(const void* a, const void* b, void* c, void* d, const double* p, int64_t n, int nt) {{
  args_t A = {{a, b, c, d, p, n, 0}};
  run(rfwd_{dt}_body, &A, nt);
}}

static void rbwd_{dt}_body(const args_t* A, int64_t lo, int64_t hi) {{{setup}
  const T* restrict X = (const T*)A->a;
  const T* restrict Gr = (const T*)A->b;
  T* restrict GX = (T*)A->c;
  double* restrict acc = (double*)A->d + (lo / A->chunk) * {K};
  const T big = (T){CLAMP[dt]!r};
  for (int64_t b0 = lo; b0 < hi; b0 += 512) {{
    const int64_t b1 = b0 + 512 < hi ? b0 + 512 : hi;
    T ra[{K}];
    for (int k = 0; k < {K}; k++) ra[k] = 0;
    #pragma omp simd reduction(+:ra[:{K}])
    for (int64_t i = b0; i < b1; i++) {{
      const T x0 = X[i], g = Gr[i];
      const T x = x0 > big ? big : (x0 < -big ? -big : x0);{head}
      T E = small ? es[{m}] : el[{m}];
      T H = small ? hs[{n}] : hl[{n}];
      for (int j = {m - 1}; j >= 0; j--) {{
        P = P * r + (small ? as[j] : al[j]);
        E = E * r + (small ? es[j] : el[j]);
      }}
      for (int j = {n - 1}; j >= 0; j--) {{
        Q = Q * ar + (small ? bs[j] : bl[j]);
        H = H * ar + (small ? hs[j] : hl[j]);
      }}
      const T iq = (T)1 / Q;
      const T f = s * P * iq;
      const T sg = small ? (x > 0 ? (T)1 : (x < 0 ? (T)-1 : (T)0)) : (T)1;
      const T L = small ? (T)1 : r;
      GX[i] = g * (L * (s * E - f * sg * H) * iq);
      const T wa = g * s * iq, wb = -g * f * iq;
      const T ms = small ? (T)1 : (T)0, ml = (T)1 - ms;
      T rp = 1, arp = 1;
      for (int j = 0; j <= {m}; j++) {{ ra[j] += ms * wa * rp; ra[{m + 1} + j] += ml * wa * rp; rp *= r; }}
      for (int j = 0; j <= {n}; j++) {{
        ra[{2 * (m + 1)} + j] += ms * wb * arp; ra[{2 * (m + 1) + n + 1} + j] += ml * wb * arp; arp *= ar;
      }}
    }}
    for (int k = 0; k < {K}; k++) acc[k] += (double)ra[k];
  }}
}}
void rbwd_{dt}(const void* a, const void* b, void* c, void* d, const double* p, int64_t n, int nt) {{
  args_t A = {{a, b, c, d, p, n, 0}};
  run(rbwd_{dt}_body, &A, nt);
}}
""")
    return "\n".join(parts)


_LIBS: dict[tuple[int, int], Any] = {}
_LOCK = threading.Lock()


def _c_lib(m: int, n: int) -> Any:
    with _LOCK:
        if (m, n) not in _LIBS:
            lib = _cgen.build(_c_source(m, n), f"rational_{m}_{n}")
            if lib is not None:
                for dt in ("f32", "f64"):
                    _cgen.bind(lib, f"rfwd_{dt}")
                    _cgen.bind(lib, f"rbwd_{dt}")
            _LIBS[(m, n)] = lib
        return _LIBS[(m, n)]


def _grads_from_sums(sums: torch.Tensor, a: list[float], b: list[float]) -> tuple[list[float], list[float]]:
    """Map the per-regime sums over (c_j, q_j) back to (a_i, b_k)."""
    m, n = len(a) - 1, len(b)
    tot = sums.sum(0).tolist()
    ga = [tot[i] + tot[m + 1 + (m - i)] for i in range(m + 1)]
    base = 2 * (m + 1)
    gb = []
    for k in range(1, n + 1):
        sign = 1.0 if b[k - 1] > 0 else (-1.0 if b[k - 1] < 0 else 0.0)
        gb.append(sign * (tot[base + k] + tot[base + n + 1 + (n - k)]))
    return ga, gb


def _cpu_forward(x: torch.Tensor, a: list[float], b: list[float]) -> torch.Tensor | None:
    lib = _c_lib(len(a) - 1, len(b))
    if lib is None:
        return None
    dt = "f64" if x.dtype == torch.float64 else "f32"
    y = torch.empty_like(x)
    p = (ctypes.c_double * (len(a) + len(b)))(*a, *b)
    if x.numel():
        getattr(lib, f"rfwd_{dt}")(x.data_ptr(), None, y.data_ptr(), None, ctypes.cast(p, ctypes.c_void_p),
                                   x.numel(), torch.get_num_threads())
    return y


def _cpu_backward(x: torch.Tensor, g: torch.Tensor, a: list[float], b: list[float]):
    m, n = len(a) - 1, len(b)
    lib = _c_lib(m, n)
    if lib is None:
        return None
    dt = "f64" if x.dtype == torch.float64 else "f32"
    gx = torch.empty_like(x)
    K = 2 * (m + 1) + 2 * (n + 1)
    sums = torch.zeros(64, K, dtype=torch.float64)
    p = (ctypes.c_double * (len(a) + len(b)))(*a, *b)
    if x.numel():
        getattr(lib, f"rbwd_{dt}")(x.data_ptr(), g.data_ptr(), gx.data_ptr(), sums.data_ptr(),
                                   ctypes.cast(p, ctypes.c_void_p), x.numel(), torch.get_num_threads())
    ga, gb = _grads_from_sums(sums, a, b)
    return gx, ga, gb


# --- Triton -----------------------------------------------------------------------------------

def _triton_source(m: int, n: int) -> str:
    K = 2 * (m + 1) + 2 * (n + 1)
    d = m - n
    s_large = (" * ".join(["ax"] * d) or "one") if d >= 0 else "one / (" + " * ".join(["ax"] * (-d)) + ")"
    sgn = "tl.where(x < 0, -one, one)" if m % 2 else "one"
    lines = ["import triton", "import triton.language as tl", "", ""]

    def coeffs(dt: str) -> list[str]:
        out = [f"    one = tl.full([], 1.0, {dt})", f"    zero = tl.full([], 0.0, {dt})"]
        for j in range(m + 1):
            out.append(f"    a{j} = tl.load(P + {j}).to({dt})")
        out.append("    B0 = one")
        for k in range(1, n + 1):
            out.append(f"    B{k} = tl.abs(tl.load(P + {m + k})).to({dt})")
        return out

    def head() -> list[str]:
        return ["    small = tl.abs(x) <= one",
                "    r = tl.where(small, x, one / x)",
                "    ar = tl.abs(r)",
                "    ax = tl.abs(x)",
                f"    s = tl.where(small, one, {sgn} * ({s_large}))"]

    def horner(var: str, arg: str, deg: int, small_c, large_c) -> list[str]:
        out = [f"    {var} = tl.where(small, {small_c(deg)}, {large_c(deg)})"]
        for j in range(deg - 1, -1, -1):
            out.append(f"    {var} = {var} * {arg} + tl.where(small, {small_c(j)}, {large_c(j)})")
        return out

    def a_s(j): return f"a{j}"
    def a_l(j): return f"a{m - j}"
    def b_s(j): return f"B{j}"
    def b_l(j): return f"B{n - j}"
    def e_s(j): return f"({j + 1}.0 * a{j + 1})" if j < m else "zero"
    def e_l(j): return f"({m - j}.0 * a{m - j})"
    def h_s(j): return f"({j + 1}.0 * B{j + 1})" if j < n else "zero"
    def h_l(j): return f"({n - j}.0 * B{n - j})"

    lines += ["@triton.jit", "def rfwd(X, Y, P, N, CT: tl.constexpr, BLOCK: tl.constexpr):",
              "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
              "    inb = offs < N", *coeffs("CT"),
              "    x = tl.load(X + offs, mask=inb, other=0).to(CT)", *head(),
              *horner("Pv", "r", m, a_s, a_l), *horner("Qv", "ar", n, b_s, b_l),
              "    tl.store(Y + offs, (s * (Pv / Qv)).to(Y.dtype.element_ty), mask=inb)", "", ""]
    lines += ["@triton.jit",
              "def rbwd(X, G, GX, S, P, N, BIG, CT: tl.constexpr, BLOCK: tl.constexpr):",
              "    pid = tl.program_id(0)",
              "    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
              "    inb = offs < N", *coeffs("CT"),
              "    x = tl.load(X + offs, mask=inb, other=0).to(CT)",
              "    g = tl.load(G + offs, mask=inb, other=0).to(CT)",
              "    x = tl.where(x > BIG, BIG, tl.where(x < -BIG, -BIG, x))", *head(),
              *horner("Pv", "r", m, a_s, a_l), *horner("Qv", "ar", n, b_s, b_l),
              *horner("Ev", "r", m, e_s, e_l), *horner("Hv", "ar", n, h_s, h_l),
              "    iq = one / Qv",
              "    f = s * Pv * iq",
              "    sg = tl.where(small, tl.where(x > 0, one, tl.where(x < 0, -one, zero)), one)",
              "    L = tl.where(small, one, r)",
              "    gx = g * (L * (s * Ev - f * sg * Hv) * iq)",
              "    tl.store(GX + offs, gx.to(GX.dtype.element_ty), mask=inb)",
              "    wa = tl.where(inb, g * s * iq, zero)",
              "    wb = tl.where(inb, -g * f * iq, zero)",
              "    ms = tl.where(small, one, zero)",
              "    ml = one - ms",
              "    rp = one + zero * r",
              "    arp = one + zero * ar"]
    for j in range(m + 1):
        lines += [f"    tl.store(S + pid * {K} + {j}, tl.sum((ms * wa * rp).to(tl.float64), axis=0))",
                  f"    tl.store(S + pid * {K} + {m + 1 + j}, tl.sum((ml * wa * rp).to(tl.float64), axis=0))",
                  "    rp = rp * r"]
    base = 2 * (m + 1)
    for j in range(n + 1):
        lines += [f"    tl.store(S + pid * {K} + {base + j}, tl.sum((ms * wb * arp).to(tl.float64), axis=0))",
                  f"    tl.store(S + pid * {K} + {base + n + 1 + j}, "
                  f"tl.sum((ml * wb * arp).to(tl.float64), axis=0))",
                  "    arp = arp * ar"]
    return "\n".join(lines) + "\n"


def _triton_mod(m: int, n: int) -> Any:
    from ._triton import load_module

    return load_module(_triton_source(m, n), f"rational_{m}_{n}")


def _use_triton(x: torch.Tensor) -> bool:
    from ._triton import interpreting, triton_available

    if not triton_available():
        return False
    return x.is_cuda or (interpreting() and _FORCE_TRITON)


_FORCE_TRITON = False  # tests set it to run the Triton path on CPU tensors through the interpreter
TBLOCK = 1024


def _triton_forward(x: torch.Tensor, a, b) -> torch.Tensor:
    import triton.language as tl

    from ._triton import params_tensor, triton_cdiv

    mod = _triton_mod(len(a) - 1, len(b))
    y = torch.empty_like(x)
    if x.numel():
        ct = tl.float64 if x.dtype == torch.float64 else tl.float32
        from ._triton import quiet

        with quiet():
            mod.rfwd[(triton_cdiv(x.numel(), TBLOCK),)](x, y, params_tensor(tuple(a) + tuple(b), x.device),
                                                        x.numel(), CT=ct, BLOCK=TBLOCK)
    return y


def _triton_backward(x: torch.Tensor, g: torch.Tensor, a, b):
    import triton.language as tl

    from ._triton import params_tensor, triton_cdiv

    m, n = len(a) - 1, len(b)
    mod = _triton_mod(m, n)
    gx = torch.empty_like(x)
    K = 2 * (m + 1) + 2 * (n + 1)
    grid = max(1, triton_cdiv(x.numel(), TBLOCK))
    sums = torch.zeros(grid, K, dtype=torch.float64, device=x.device)
    if x.numel():
        from ._triton import quiet

        f64 = x.dtype == torch.float64
        with quiet():
            mod.rbwd[(grid,)](x, g, gx, sums, params_tensor(tuple(a) + tuple(b), x.device), x.numel(),
                              CLAMP["f64" if f64 else "f32"], CT=tl.float64 if f64 else tl.float32,
                              BLOCK=TBLOCK)
    ga, gb = _grads_from_sums(sums.cpu(), list(a), list(b))
    return gx, ga, gb


# --- plain torch (fallback, and the reference for tests) -----------------------------------------

def _pow_list(u: torch.Tensor, n: int) -> list:
    out: list = [1.0]
    for _ in range(n):
        out.append(u if len(out) == 1 else out[-1] * u)
    return out


def _terms(x: torch.Tensor, a, b):
    """Per-element f, f' and the parameter sensitivities, in composite torch ops."""
    m, n = len(a) - 1, len(b)
    af = [float(v) for v in a]
    ab = [abs(float(v)) for v in b]
    sb = [1.0 if float(v) > 0 else (-1.0 if float(v) < 0 else 0.0) for v in b]
    big = CLAMP["f64" if x.dtype == torch.float64 else "f32"]
    xc = torch.clamp(x, -big, big)
    small = xc.abs() <= 1.0
    u = torch.where(small, xc, torch.zeros_like(xc))
    au = u.abs()
    pu, pau = _pow_list(u, max(m, 1)), _pow_list(au, n)
    P = sum(af[i] * pu[i] for i in range(m + 1)) + 0 * u
    Q = 1.0 + sum(ab[k - 1] * pau[k] for k in range(1, n + 1)) + 0 * u
    dP = sum(i * af[i] * pu[i - 1] for i in range(1, m + 1)) + 0 * u
    dQ = torch.sign(u) * sum(k * ab[k - 1] * pau[k - 1] for k in range(1, n + 1))
    f1 = P / Q
    d1 = (dP - f1 * dQ) / Q
    da1 = [pu[i] / Q for i in range(m + 1)]
    db1 = [-sb[k - 1] * f1 * pau[k] / Q for k in range(1, n + 1)]
    t = torch.where(small, torch.ones_like(xc), 1.0 / xc)
    at = t.abs()
    pt, pat = _pow_list(t, m), _pow_list(at, n)
    Pt = sum(af[i] * pt[m - i] for i in range(m + 1)) + 0 * t
    Qt = pat[n] + sum(ab[k - 1] * pat[n - k] for k in range(1, n + 1)) + 0 * t
    dPt = sum(i * af[i] * pt[m - i] for i in range(m + 1)) + 0 * t
    dQt = sum(k * ab[k - 1] * pat[n - k] for k in range(1, n + 1)) + 0 * t

    def s_of(v):
        v = torch.where(small, torch.ones_like(v), v)
        return (v.sign() ** m) * v.abs() ** (m - n)

    f2 = s_of(x) * Pt / Qt  # unclamped: the limit at +-inf
    s = s_of(xc)
    f2c = s * Pt / Qt
    d2 = t * (s * dPt - f2c * dQt) / Qt
    da2 = [s * pt[m - i] / Qt for i in range(m + 1)]
    db2 = [-sb[k - 1] * f2c * pat[n - k] / Qt for k in range(1, n + 1)]
    f = torch.where(small, f1, f2)
    d = torch.where(small, d1, d2)
    da = [torch.where(small, p, q) for p, q in zip(da1, da2)]
    db = [torch.where(small, p, q) for p, q in zip(db1, db2)]
    return f, d, da, db


def forward_reference(x: torch.Tensor, a, b) -> torch.Tensor:
    return _terms(x, a, b)[0]


def _torch_backward(x, g, a, b):
    _, d, da, db = _terms(x, a, b)
    return g * d, [float((g * t).sum()) for t in da], [float((g * t).sum()) for t in db]


# --- autograd ---------------------------------------------------------------------------------

def _up(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.dtype in _HALF else t


class _Rational(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, b):  # type: ignore[override]
        ctx.save_for_backward(x, a, b)
        al, bl = a.detach().double().cpu().tolist(), b.detach().double().cpu().tolist()
        xc = _up(x).contiguous()
        y = None
        try:
            if _use_triton(xc):
                y = _triton_forward(xc, al, bl)
            elif xc.device.type == "cpu":
                y = _cpu_forward(xc, al, bl)
        except Exception as e:  # noqa: BLE001 - no kernel (cache not writable, compile error): composite
            _cgen.log.warning("actlab: rational kernel unavailable (%s); composite torch ops used", e)
        if y is None:
            y = forward_reference(xc, al, bl)
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, a, b = ctx.saved_tensors
        al, bl = a.detach().double().cpu().tolist(), b.detach().double().cpu().tolist()
        xc = _up(x).contiguous()
        gc = g.to(xc.dtype).contiguous()
        out = None
        try:
            if _use_triton(xc):
                out = _triton_backward(xc, gc, al, bl)
            elif xc.device.type == "cpu":
                out = _cpu_backward(xc, gc, al, bl)
        except Exception as e:  # noqa: BLE001
            _cgen.log.warning("actlab: rational kernel unavailable (%s); composite torch ops used", e)
        if out is None:
            out = _torch_backward(xc, gc, al, bl)
        gx, ga, gb = out
        return (gx.to(x.dtype) if ctx.needs_input_grad[0] else None,
                torch.tensor(ga, dtype=a.dtype, device=a.device) if ctx.needs_input_grad[1] else None,
                torch.tensor(gb, dtype=b.dtype, device=b.device) if ctx.needs_input_grad[2] else None)


def rational(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Safe PAU ``P(x) / (1 + sum_k |b_k x^k|)``; gradients flow to x and both coefficient vectors.

    ``numerator`` = (a0..am), ``denominator`` = (b1..bn), 1-d. Double backward is not supported
    (the backward is a fused kernel); use composite torch ops for higher-order gradients.
    """
    if not isinstance(numerator, torch.Tensor):
        numerator = torch.as_tensor(numerator, dtype=torch.float64)
    if not isinstance(denominator, torch.Tensor):
        denominator = torch.as_tensor(denominator, dtype=torch.float64)
    if numerator.ndim != 1 or denominator.ndim != 1 or numerator.numel() < 1 or denominator.numel() < 1:
        raise ValueError("rational: numerator and denominator must be non-empty 1-d tensors "
                         f"(got shapes {tuple(numerator.shape)} and {tuple(denominator.shape)})")
    return _Rational.apply(x, numerator, denominator)
