"""Trace a catalog entry's ``forward`` / ``derivative`` into an expression DAG.

Catalog entries are written once against an ``ops`` namespace (array-API names
plus ``erf``, ``erfc``, ``sigmoid``, ``log_sigmoid``, ``softplus``). Calling
them with :class:`Node` placeholders and the :data:`OPS` namespace below
records every operation instead of computing it. The resulting DAG is the
single source from which the C (CPU) and Triton (GPU) kernels are generated,
so a kernel computes exactly the catalog's formula, fused into one pass.

Node kinds: ``"f"`` (float in the compute dtype) and ``"b"`` (bool). Nodes that
do not depend on the per-element inputs (parameters and constants) are
*scalar*: the code generators hoist them out of the loop and evaluate them in
double precision, as Python does with the catalog's float parameters.

Anything the tracer cannot express (Python control flow on array values,
shapes, an unknown function) raises :class:`TraceError`; that entry then has
no generated kernel and uses the generic path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class TraceError(Exception):
    """The function cannot be traced into an elementwise kernel."""


# Unary float -> float functions the generators know (name -> libm / libdevice name).
UNARY = ("exp", "expm1", "log", "log1p", "log2", "log10", "exp2", "sqrt", "sin", "cos", "tan", "tanh",
         "sinh", "cosh", "atan", "asin", "acos", "asinh", "acosh", "atanh", "erf", "erfc", "cbrt",
         "abs", "floor", "ceil", "trunc", "rint", "neg", "square", "sign")
BINARY = ("add", "sub", "mul", "div", "pow", "atan2", "hypot", "maximum", "minimum", "copysign", "fmod")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
BOOL_OPS = ("and", "or", "xor", "not", "isnan", "isinf", "isfinite", "signbit")


class DType:
    """Stands for the compute dtype inside a trace (``x.dtype``)."""

    def __repr__(self) -> str:
        return "<traced dtype>"


COMPUTE = DType()
BOOL = "bool"


class Node:
    __slots__ = ("graph", "op", "args", "value", "kind", "xdep", "idx")

    def __init__(self, graph: Graph, op: str, args: tuple, value: Any, kind: str, xdep: bool, idx: int):
        self.graph, self.op, self.args, self.value = graph, op, args, value
        self.kind, self.xdep, self.idx = kind, xdep, idx

    def __repr__(self) -> str:
        return f"Node#{self.idx}({self.op})"

    # --- python protocol ---------------------------------------------
    def __bool__(self) -> bool:
        raise TraceError("python control flow on a traced value")

    def __float__(self) -> float:
        if self.op == "const":
            return float(self.value)
        raise TraceError("float() of a traced value")

    __index__ = __int__ = __len__ = __iter__ = lambda self, *a: _no(self)  # type: ignore[assignment]

    @property
    def dtype(self) -> Any:
        return BOOL if self.kind == "b" else COMPUTE

    @property
    def device(self) -> Any:
        return None

    @property
    def shape(self) -> Any:
        raise TraceError("shape of a traced value")

    @property
    def ndim(self) -> Any:
        raise TraceError("ndim of a traced value")

    def __hash__(self) -> int:
        return id(self)

    # --- arithmetic ----------------------------------------------------
    def __add__(self, o): return self.graph.binary("add", self, o)
    def __radd__(self, o): return self.graph.binary("add", o, self)
    def __sub__(self, o): return self.graph.binary("sub", self, o)
    def __rsub__(self, o): return self.graph.binary("sub", o, self)
    def __mul__(self, o): return self.graph.binary("mul", self, o)
    def __rmul__(self, o): return self.graph.binary("mul", o, self)
    def __truediv__(self, o): return self.graph.binary("div", self, o)
    def __rtruediv__(self, o): return self.graph.binary("div", o, self)
    def __pow__(self, o): return self.graph.power(self, o)
    def __rpow__(self, o): return self.graph.binary("pow", o, self)
    def __mod__(self, o): return self.graph.remainder(self, o)
    def __neg__(self): return self.graph.unary("neg", self)
    def __pos__(self): return self
    def __abs__(self): return self.graph.unary("abs", self)
    def __lt__(self, o): return self.graph.compare("lt", self, o)
    def __le__(self, o): return self.graph.compare("le", self, o)
    def __gt__(self, o): return self.graph.compare("gt", self, o)
    def __ge__(self, o): return self.graph.compare("ge", self, o)
    def __eq__(self, o): return self.graph.compare("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return self.graph.compare("ne", self, o)  # type: ignore[override]
    def __and__(self, o): return self.graph.logical("and", self, o)
    def __rand__(self, o): return self.graph.logical("and", o, self)
    def __or__(self, o): return self.graph.logical("or", self, o)
    def __ror__(self, o): return self.graph.logical("or", o, self)
    def __xor__(self, o): return self.graph.logical("xor", self, o)
    def __invert__(self): return self.graph.logical("not", self)

    def __array__(self, *a, **k):
        raise TraceError("a traced value was converted to an array")

    __array_priority__ = 1e6


def _no(node: Node) -> Any:
    raise TraceError("python conversion of a traced value")


class Graph:
    """Hash-consed DAG: structurally equal nodes are the same object (CSE for free)."""

    def __init__(self, dtype: str = "f32") -> None:
        self.dtype = dtype  # "f32" or "f64": the compute dtype this trace is for
        self.nodes: list[Node] = []
        self._memo: dict[tuple, Node] = {}

    def make(self, op: str, args: tuple, value: Any = None, kind: str = "f") -> Node:
        key = (op, tuple(a.idx for a in args), _key(value), kind)
        got = self._memo.get(key)
        if got is not None:
            return got
        xdep = op in ("x", "y", "g", "bit") or any(a.xdep for a in args)
        n = Node(self, op, args, value, kind, xdep, len(self.nodes))
        self.nodes.append(n)
        self._memo[key] = n
        return n

    # leaves
    def input(self, name: str) -> Node:
        return self.make(name, ())

    def const(self, v: Any) -> Node:
        if isinstance(v, Node):
            return v
        if isinstance(v, (bool,)):
            return self.make("bconst", (), bool(v), kind="b")
        if isinstance(v, DType) or v is None:
            raise TraceError(f"unexpected value {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise TraceError(f"cannot trace constant {v!r}") from None
        if hasattr(v, "dtype") and getattr(v, "ndim", 0) not in (0, None):
            raise TraceError("array constant in a trace")
        return self.make("const", (), f)

    def param(self, i: int, name: str) -> Node:
        return self.make("param", (), (i, name))

    def finfo(self, what: str) -> Node:
        return self.make("finfo", (), what)

    # operations
    def _f(self, a: Any) -> Node:
        n = self.const(a)
        if n.kind == "b":
            return self.where(n, 1.0, 0.0)
        return n

    def unary(self, op: str, a: Any) -> Node:
        a = self._f(a)
        if op == "sign" and a.xdep:
            # as comparisons, so that a derivative like sign(x) is a 1-byte mask (sign(+-0) = 0)
            return self.where(self.compare("gt", a, 0.0), 1.0,
                              self.where(self.compare("lt", a, 0.0), -1.0,
                                         self.where(self.compare("ne", a, a), math.nan, 0.0)))
        if op == "neg" and a.op == "neg":
            return a.args[0]
        if op in ("abs", "square") and a.op == "neg":  # |-a| = |a|: lets sigmoid(z), sigmoid(-z) share e^-|z|
            return self.unary(op, a.args[0])
        if a.op == "const":
            folded = _fold_unary(op, a.value)
            if folded is not None:
                return self.const(folded)
        return self.make(op, (a,))

    def binary(self, op: str, a: Any, b: Any) -> Node:
        a, b = self._f(a), self._f(b)
        if a.op == "const" and b.op == "const":
            folded = _fold_binary(op, a.value, b.value)
            if folded is not None:
                return self.const(folded)
        return self.make(op, (a, b))

    def power(self, a: Any, b: Any) -> Node:
        a = self._f(a)
        if not isinstance(b, Node):
            fb = float(b)
            if fb == 2.0:
                return self.unary("square", a)
            if fb == 1.0:
                return a
            if fb == 0.5:
                return self.unary("sqrt", a)
            if fb == 3.0:
                return a * a * a
        return self.binary("pow", a, b)

    def remainder(self, a: Any, b: Any) -> Node:
        # python / numpy semantics: the result has the sign of the divisor
        r = self.binary("fmod", a, b)
        b = self._f(b)
        fix = self.logical("and", self.compare("ne", r, 0.0),
                           self.compare("ne", self.compare("lt", r, 0.0), self.compare("lt", b, 0.0)))
        return self.where(fix, r + b, r)

    def compare(self, op: str, a: Any, b: Any) -> Node:
        a, b = self.const(a), self.const(b)
        if a.kind == "b" or b.kind == "b":
            if op in ("eq", "ne"):
                a, b = self._f(a), self._f(b)
            else:
                raise TraceError("ordering comparison of booleans")
        return self.make(op, (a, b), kind="b")

    def logical(self, op: str, a: Any, b: Any = None) -> Node:
        a = self._b(a)
        if op == "not":
            return self.make("not", (a,), kind="b")
        return self.make(op, (a, self._b(b)), kind="b")

    def _b(self, a: Any) -> Node:
        n = self.const(a)
        if n.kind != "b":
            raise TraceError("logical operation on a float value")
        return n

    def predicate(self, op: str, a: Any) -> Node:
        return self.make(op, (self._f(a),), kind="b")

    def where(self, c: Any, a: Any, b: Any) -> Node:
        c = self.const(c)
        if c.kind != "b":
            c = self.compare("ne", c, 0.0)
        a, b = self.const(a), self.const(b)
        if a.kind == "b" and b.kind == "b":
            return self.make("bwhere", (c, a, b), kind="b")
        a, b = self._f(a), self._f(b)
        if a is b:
            return a
        if _is_nan_test(c, a):  # where(isnan(a), a, b) is where(isnan(a), nan, b): no float dependence
            a = self.const(math.nan)
        if c.op == "bconst":
            return a if c.value else b
        return self.make("where", (c, a, b))

    def maximum(self, a: Any, b: Any) -> Node:
        return self.binary("maximum", a, b)

    def minimum(self, a: Any, b: Any) -> Node:
        return self.binary("minimum", a, b)

    def astype(self, a: Any, dtype: Any) -> Node:
        a = self.const(a)
        if dtype is COMPUTE or _is_float_dtype(dtype):
            if dtype is not COMPUTE and not _same_as_compute(dtype):
                raise TraceError(f"cast to an explicit dtype {dtype!r}")
            return self._f(a)
        if dtype is BOOL or dtype is bool or str(dtype) in ("bool", "torch.bool"):
            return a if a.kind == "b" else self.compare("ne", a, 0.0)
        raise TraceError(f"cast to {dtype!r}")


def _is_nan_test(c: Node, a: Node) -> bool:
    return a.xdep and ((c.op == "isnan" and c.args[0] is a) or
                       (c.op == "ne" and c.args[0] is a and c.args[1] is a))


def _is_float_dtype(d: Any) -> bool:
    return "float" in str(d)


def _same_as_compute(d: Any) -> bool:
    return False


def _key(v: Any) -> Any:
    if isinstance(v, float):
        # distinguish -0.0 / 0.0 and nan payloads
        return ("f", math.copysign(1.0, v), v if v == v else "nan")
    return v


def _fold_unary(op: str, v: float) -> float | None:
    try:
        if op == "neg":
            return -v
        if op == "abs":
            return abs(v)
        if op == "square":
            return v * v
        return None
    except OverflowError:
        return None


def _fold_binary(op: str, a: float, b: float) -> float | None:
    try:
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if op == "div" and b != 0:
            return a / b
    except (OverflowError, ZeroDivisionError):
        return None
    return None


class _Finfo:
    """``finfo`` of the compute dtype: a trace is made per dtype, so these are plain numbers."""

    def __init__(self, g: Graph) -> None:
        import numpy as np

        fi = np.finfo(np.float32 if g.dtype == "f32" else np.float64)
        self.bits = int(fi.bits)
        self.eps, self.max, self.min = float(fi.eps), float(fi.max), float(fi.min)
        self.tiny = self.smallest_normal = float(fi.tiny)
        self.dtype = COMPUTE


class TraceOps:
    """The ``ops`` namespace a traced catalog function sees."""

    name = "trace"

    def __init__(self, g: Graph) -> None:
        self.g = g
        self.pi, self.e, self.inf, self.nan = math.pi, math.e, math.inf, math.nan
        self.float32 = self.float64 = COMPUTE
        self.bool = BOOL

    def __getattr__(self, name: str) -> Any:
        raise TraceError(f"ops.{name} is not supported by the kernel tracer")

    # unary
    def exp(self, x): return self.g.unary("exp", x)
    def expm1(self, x): return self.g.unary("expm1", x)
    def log(self, x): return self.g.unary("log", x)
    def log1p(self, x): return self.g.unary("log1p", x)
    def log2(self, x): return self.g.unary("log2", x)
    def log10(self, x): return self.g.unary("log10", x)
    def exp2(self, x): return self.g.unary("exp2", x)
    def sqrt(self, x): return self.g.unary("sqrt", x)
    def sin(self, x): return self.g.unary("sin", x)
    def cos(self, x): return self.g.unary("cos", x)
    def tan(self, x): return self.g.unary("tan", x)
    def tanh(self, x): return self.g.unary("tanh", x)
    def sinh(self, x): return self.g.unary("sinh", x)
    def cosh(self, x): return self.g.unary("cosh", x)
    def atan(self, x): return self.g.unary("atan", x)
    def asin(self, x): return self.g.unary("asin", x)
    def acos(self, x): return self.g.unary("acos", x)
    def asinh(self, x): return self.g.unary("asinh", x)
    def acosh(self, x): return self.g.unary("acosh", x)
    def atanh(self, x): return self.g.unary("atanh", x)
    def erf(self, x): return self.g.unary("erf", x)
    def erfc(self, x): return self.g.unary("erfc", x)
    def cbrt(self, x): return self.g.unary("cbrt", x)
    def abs(self, x): return self.g.unary("abs", x)
    def floor(self, x): return self.g.unary("floor", x)
    def ceil(self, x): return self.g.unary("ceil", x)
    def trunc(self, x): return self.g.unary("trunc", x)
    def round(self, x, decimals=0):
        if decimals:
            raise TraceError("round with decimals")
        return self.g.unary("rint", x)
    def negative(self, x): return self.g.unary("neg", x)
    def positive(self, x): return self.g._f(x)
    def square(self, x): return self.g.unary("square", x)
    def sign(self, x): return self.g.unary("sign", x)
    def reciprocal(self, x): return self.g.binary("div", 1.0, x)
    arctan, arcsin, arccos, arcsinh, arccosh, arctanh, absolute = atan, asin, acos, asinh, acosh, atanh, abs

    # binary
    def add(self, a, b): return self.g.binary("add", a, b)
    def subtract(self, a, b): return self.g.binary("sub", a, b)
    def multiply(self, a, b): return self.g.binary("mul", a, b)
    def divide(self, a, b): return self.g.binary("div", a, b)
    def pow(self, a, b): return self.g.power(a, b)
    power = pow
    def atan2(self, a, b): return self.g.binary("atan2", a, b)
    arctan2 = atan2
    def hypot(self, a, b): return self.g.binary("hypot", a, b)
    def copysign(self, a, b): return self.g.binary("copysign", a, b)
    def fmod(self, a, b): return self.g.binary("fmod", a, b)
    def remainder(self, a, b): return self.g.remainder(a, b)
    def maximum(self, a, b): return self.g.maximum(a, b)
    def minimum(self, a, b): return self.g.minimum(a, b)

    def clip(self, x, min=None, max=None):  # noqa: A002 - array-API signature
        y = self.g._f(x)
        if min is not None:
            y = self.g.maximum(y, min)
        if max is not None:
            y = self.g.minimum(y, max)
        return y

    def logaddexp(self, a, b):
        g = self.g
        a, b = g._f(a), g._f(b)
        m = g.maximum(a, b)
        d = g.unary("abs", a - b)
        core = m + g.unary("log1p", g.unary("exp", -d))
        # equal infinities: a - b is nan; the answer is a itself
        return g.where(g.compare("eq", a, b), a + math.log(2.0), core)

    # comparisons and logic
    def less(self, a, b): return self.g.compare("lt", a, b)
    def less_equal(self, a, b): return self.g.compare("le", a, b)
    def greater(self, a, b): return self.g.compare("gt", a, b)
    def greater_equal(self, a, b): return self.g.compare("ge", a, b)
    def equal(self, a, b): return self.g.compare("eq", a, b)
    def not_equal(self, a, b): return self.g.compare("ne", a, b)
    def logical_and(self, a, b): return self.g.logical("and", a, b)
    def logical_or(self, a, b): return self.g.logical("or", a, b)
    def logical_xor(self, a, b): return self.g.logical("xor", a, b)
    def logical_not(self, a): return self.g.logical("not", a)
    def isnan(self, x): return self.g.predicate("isnan", x)
    def isinf(self, x): return self.g.predicate("isinf", x)
    def isfinite(self, x): return self.g.predicate("isfinite", x)
    def signbit(self, x): return self.g.predicate("signbit", x)

    def where(self, c, a, b): return self.g.where(c, a, b)

    # dtype and construction
    def astype(self, x, dtype, copy=True): return self.g.astype(x, dtype)

    def asarray(self, v, dtype=None, **_):
        n = self.g.const(v)
        return self.g.astype(n, dtype) if dtype is not None else n

    def zeros_like(self, x, dtype=None, **_): return self.g.const(0.0)
    def ones_like(self, x, dtype=None, **_): return self.g.const(1.0)

    def full_like(self, x, fill_value, dtype=None, **_):
        return self.g._f(fill_value)

    def finfo(self, dtype): return _Finfo(self.g)

    # special functions, in their stable forms (as the backends evaluate them)
    def sigmoid(self, x):
        g = self.g
        x = g._f(x)
        e = g.unary("exp", -g.unary("abs", x))
        r = 1.0 / (1.0 + e)
        return g.where(g.compare("ge", x, 0.0), r, e * r)

    def log_sigmoid(self, x):
        g = self.g
        x = g._f(x)
        return g.minimum(x, 0.0) - g.unary("log1p", g.unary("exp", -g.unary("abs", x)))

    def softplus(self, x):
        g = self.g
        x = g._f(x)
        return g.maximum(x, 0.0) + g.unary("log1p", g.unary("exp", -g.unary("abs", x)))


# ---------------------------------------------------------------------------
# tracing a catalog entry


class Traced:
    """The DAGs of one activation: forward y(x), derivative d(x or y), and helpers."""

    def __init__(self, name: str, graph: Graph, params: tuple[str, ...], y: Node, d: Node | None,
                 grad_from: str, specialized: dict[str, float] | None) -> None:
        self.name, self.graph, self.params = name, graph, params
        self.y, self.d, self.grad_from = y, d, grad_from
        self.specialized = specialized  # parameter values baked in, or None (runtime parameters)
        self.mask_bits = _mask_cut(d) if d is not None else None

    @property
    def saves(self) -> str:
        if self.mask_bits is not None:
            return "mask"
        return "output" if self.grad_from == "output" else "input"


def trace(spec: Any, params: dict[str, float] | None = None,
          forward: Callable | None = None, derivative: Callable | None = None,
          grad_from: str | None = None, dtype: str = "f32") -> Traced:
    """Trace ``spec``'s forward and derivative (or the given replacements).

    Parameters are runtime values (nodes) unless the function branches on them
    in Python; then, if ``params`` is given, they are baked in as constants.
    """
    fwd = forward or spec.forward
    der = derivative or spec.derivative
    gfrom = grad_from or spec.grad_from
    names = tuple(spec.param_names)
    try:
        return _trace(spec.name, fwd, der, gfrom, names, None, dtype)
    except TraceError:
        if params is None:
            raise
        return _trace(spec.name, fwd, der, gfrom, names, dict(params), dtype)


def _trace(name, fwd, der, gfrom, names, values, dtype) -> Traced:
    import warnings

    g = Graph(dtype)
    ops = TraceOps(g)
    p: dict[str, Any] = ({k: g.param(i, k) for i, k in enumerate(names)} if values is None
                         else {k: float(values[k]) for k in names})
    x = g.input("x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y = g._f(fwd(x, ops, **p))
            d = None
            if der is not None:
                yin = g.input("y") if gfrom != "input" else None
                xin = x if gfrom != "output" else None
                d = g._f(der(xin, yin, ops, **p))
        except TraceError:
            raise
        except Exception as e:  # anything the tracer does not model
            raise TraceError(f"{name}: {type(e).__name__}: {e}") from e
    if not y.xdep:
        y = g.make("bcast", (y,))  # constant function: still one value per element
    return Traced(name, g, names, y, d, gfrom, values)


def _mask_cut(d: Node) -> list[Node] | None:
    """Bool nodes through which alone the derivative depends on x/y (<= 8), else None.

    If the derivative is a function of a few comparisons only (a piecewise-
    constant derivative, as in every piecewise-linear entry), backward needs
    just those bits: one byte per element.
    """
    cut: list[Node] = []
    seen: set[int] = set()
    stack = [d]
    while stack:
        n = stack.pop()
        if n.idx in seen or not n.xdep:
            continue
        seen.add(n.idx)
        if n.kind == "b":
            cut.append(n)
            continue
        if n.op in ("x", "y"):
            return None
        stack.extend(n.args)
    if len(cut) > 8:
        return None
    return sorted(cut, key=lambda n: n.idx)


def topo(roots: list[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, in dependency order."""
    out: list[Node] = []
    seen: set[int] = set()
    for r in roots:
        stack = [(r, False)]
        while stack:
            n, done = stack.pop()
            if done:
                out.append(n)
                continue
            if n.idx in seen:
                continue
            seen.add(n.idx)
            stack.append((n, True))
            for a in reversed(n.args):
                if a.idx not in seen:
                    stack.append((a, False))
    return out


def substitute(node: Node, mapping: dict[int, Node]) -> Node:
    """Rebuild ``node`` with some nodes replaced (by idx); same graph."""
    memo: dict[int, Node] = {}
    for n in topo([node]):
        if n.idx in mapping:
            memo[n.idx] = mapping[n.idx]
        elif not n.args:
            memo[n.idx] = n
        else:
            args = tuple(memo[a.idx] for a in n.args)
            same = all(a is b for a, b in zip(args, n.args))
            memo[n.idx] = n if same else n.graph.make(n.op, args, n.value, n.kind)
    return memo[node.idx]


class Program:
    """One kernel: per-element inputs (names) and outputs (name, node) over one graph."""

    def __init__(self, inputs: tuple[str, ...], outputs: list[tuple[str, Any]]) -> None:
        self.inputs, self.outputs = inputs, outputs

    def roots(self) -> list[Node]:
        out: list[Node] = []
        for _, v in self.outputs:
            out.extend(v if isinstance(v, list) else [v])
        return out


def programs(t: Traced) -> dict[str, Program]:
    """The kernels of one activation.

    - ``fwd``: x -> y;
    - ``fwds``: x -> y and the saved tensor (only when it is a mask);
    - ``bwd``: (saved, g) -> g * f'(x), where saved is x, y or the mask.
    """
    g = t.graph
    out = {"fwd": Program(("x",), [("y", t.y)])}
    if t.d is None:
        return out
    yin = g.input("y")
    with_y = {yin.idx: t.y}
    gin = g.input("g")
    if t.mask_bits is not None:
        bits = [substitute(c, with_y) for c in t.mask_bits]
        out["fwds"] = Program(("x",), [("y", t.y), ("mask", bits)])
        out["mask"] = Program(("x",), [("mask", bits)])
        d = substitute(t.d, {c.idx: g.make("bit", (), i, kind="b") for i, c in enumerate(t.mask_bits)})
        out["bwd"] = Program(("mask", "g"), [("gx", g.binary("mul", gin, d))])
    elif t.grad_from == "output":
        out["bwd"] = Program(("y", "g"), [("gx", g.binary("mul", gin, t.d))])
    else:
        d = substitute(t.d, with_y) if t.grad_from == "both" else t.d
        out["bwd"] = Program(("x", "g"), [("gx", g.binary("mul", gin, d))])
    return out


def trace_combination(bases: list[tuple[Any, dict[str, float]]], dtype: str = "f32") -> dict[str, Program]:
    """Programs of ``f(x) = sum_i w_i g_i(x)`` for catalog bases ``g_i`` at fixed parameters.

    The weights ``w_i`` are runtime parameters 0..n-1. ``bwd`` reads (x, g) and gives
    ``g * sum_i w_i g_i'(x)`` and, reduced over elements, ``sum g * g_i(x)`` for each i
    (the weight gradients): one pass, whatever the number of bases.
    """
    import warnings

    g = Graph(dtype)
    ops = TraceOps(g)
    x = g.input("x")
    gin = g.input("g")
    ysum: Any = 0.0
    dsum: Any = 0.0
    terms = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (spec, params) in enumerate(bases):
            if spec.kind != "elementwise" or spec.derivative is None:
                raise TraceError(f"{spec.name}: not an elementwise entry with a derivative")
            p = {k: float(v) for k, v in params.items()}
            try:
                y = g._f(spec.forward(x, ops, **p))
                d = g._f(spec.derivative(x if spec.grad_from != "output" else None,
                                         y if spec.grad_from != "input" else None, ops, **p))
            except TraceError:
                raise
            except Exception as e:  # noqa: BLE001
                raise TraceError(f"{spec.name}: {type(e).__name__}: {e}") from e
            w = g.param(i, f"w{i}")
            ysum = ysum + w * y
            dsum = dsum + w * d
            terms.append(g.binary("mul", gin, y))
    ysum, dsum = g._f(ysum), g._f(dsum)
    if not ysum.xdep:
        ysum = g.make("bcast", (ysum,))
    return {"fwd": Program(("x",), [("y", ysum)]),
            "bwd": Program(("x", "g"), [("gx", g.binary("mul", gin, dsum)), ("sum", terms)])}
