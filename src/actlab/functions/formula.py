"""Activations defined by a formula string.

>>> import actlab
>>> from actlab.functions.formula import define
>>> act = define("x * tanh(softplus(x))", name="doc_mish")
>>> float(act(1.0)), act.family
(0.8650983882673103, 'user')
>>> actlab.unregister("doc_mish")

The parser is a whitelist built on :mod:`ast`: ``ast.parse(mode="eval")``, then
a walk that accepts only numbers, ``x``, the declared parameters, the constants
``pi`` and ``e``, ``+ - * / **``, comparisons and ``and``/``or``/``not`` inside
a condition, ``a if cond else b``, and calls of the functions in
:data:`FUNCTIONS`. The sympy expression is built node by node; the user's text
is never evaluated (no ``eval``, ``exec``, ``sympify`` or ``lambdify`` of it).
Length, nesting depth, node count and the size of every constant are bounded,
so ``'exp(' * 5000`` or ``9**9**9`` are rejected at once.

sympy supplies the derivative. Both the function and its derivative are
compiled from the sympy tree into closures over the ``ops`` namespace, so the
same code runs on NumPy, torch and jax arrays. Properties (range, monotonicity,
smoothness, kinks, zero-centring) are derived numerically at the default
parameters, and the float64 and float32 evaluation is compared with a 30-digit
mpmath evaluation over a range (default [-30, 30]): where the formula as
written overflows, gives nan, or loses precision, :func:`define` warns with the
ranges (:class:`NumericalWarning`) and keeps the findings in
:func:`formula_info`. Write ``softplus(x)`` for ``log(1 + exp(x))``,
``sigmoid(x)`` for ``1/(1 + exp(-x))``, ``expm1``/``log1p`` for
``exp(x) - 1``/``log(1 + x)``: these are evaluated stably.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import keyword
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import C0, C1, C2, DISCONTINUOUS, SMOOTH, Activation, ActivationSpec, Kink, Param, Properties
from ..core.backend import namespace
from ..core.errors import ActlabError, FormulaError
from ..core.registry import register as _register
from ..core.registry import spec as _lookup

__all__ = [
    "FUNCTIONS",
    "FormulaInfo",
    "NumericalIssue",
    "NumericalWarning",
    "check_numerics",
    "define",
    "formula_info",
    "parse",
]

FAMILY = "user"
MAX_LENGTH = 1000  # characters
MAX_DEPTH = 40  # syntax-tree nesting
MAX_NODES = 400  # syntax-tree nodes
MAX_PIECEWISE = 12  # where / piecewise / if-else constructs
MAX_CONST_BITS = 4096  # numerator / denominator of every exact constant (bounds exact arithmetic)
MAX_CONST = 1e300  # |value| of every constant sub-expression
MAX_EXPONENT = 1000.0  # |numeric exponent|
TIME_LIMIT = 20.0  # seconds for the symbolic work of one define(), where a timer is available
DEFAULT_CHECK_RANGE = (-30.0, 30.0)


class NumericalWarning(UserWarning):
    """A formula overflows, gives nan, or loses precision inside the checked range."""


# --- sympy: the extra functions ------------------------------------------------------------------

_SYM: dict[str, Any] = {}


def _sympy() -> Any:
    """sympy plus the stable primitives as sympy functions (created once, lazily)."""
    if _SYM:
        return _SYM["sp"]
    import sympy as sp

    class sigmoid(sp.Function):  # noqa: N801 - printed name
        nargs = 1

        @classmethod
        def eval(cls, a):
            if a.is_zero:
                return sp.Rational(1, 2)
            if a is sp.oo:
                return sp.S.One
            if a is sp.S.NegativeInfinity:
                return sp.S.Zero
            return None

        def fdiff(self, argindex=1):
            s = sigmoid(self.args[0])
            return s * (1 - s)

        def _eval_rewrite_as_exp(self, a, **kw):
            return 1 / (1 + sp.exp(-a))

        def _eval_evalf(self, prec):
            return self.rewrite(sp.exp)._eval_evalf(prec)

        def _eval_is_extended_real(self):
            return self.args[0].is_extended_real

        def _latex(self, printer):
            return rf"\sigma\left({printer._print(self.args[0])}\right)"

    class softplus(sp.Function):  # noqa: N801
        nargs = 1

        @classmethod
        def eval(cls, a):
            if a.is_zero:
                return sp.log(2)
            if a is sp.oo:
                return sp.oo
            if a is sp.S.NegativeInfinity:
                return sp.S.Zero
            return None

        def fdiff(self, argindex=1):
            return sigmoid(self.args[0])

        def _eval_rewrite_as_exp(self, a, **kw):
            return sp.log(1 + sp.exp(a))

        def _eval_evalf(self, prec):
            return self.rewrite(sp.exp)._eval_evalf(prec)

        def _eval_is_extended_real(self):
            return self.args[0].is_extended_real

        def _latex(self, printer):
            return rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"

    class log1p(sp.Function):  # noqa: N801
        nargs = 1

        @classmethod
        def eval(cls, a):
            if a.is_zero:
                return sp.S.Zero
            return None

        def fdiff(self, argindex=1):
            return 1 / (1 + self.args[0])

        def _eval_rewrite_as_log(self, a, **kw):
            return sp.log(1 + a)

        def _eval_evalf(self, prec):
            return self.rewrite(sp.log)._eval_evalf(prec)

        def _latex(self, printer):
            return rf"\log\left(1 + {printer._print(self.args[0])}\right)"

    class expm1(sp.Function):  # noqa: N801
        nargs = 1

        @classmethod
        def eval(cls, a):
            if a.is_zero:
                return sp.S.Zero
            return None

        def fdiff(self, argindex=1):
            return sp.exp(self.args[0])

        def _eval_rewrite_as_exp(self, a, **kw):
            return sp.exp(a) - 1

        def _eval_evalf(self, prec):
            return self.rewrite(sp.exp)._eval_evalf(prec)

        def _eval_is_extended_real(self):
            return self.args[0].is_extended_real

        def _latex(self, printer):
            return rf"\left(e^{{{printer._print(self.args[0])}}} - 1\right)"

    _SYM.update(sigmoid=sigmoid, softplus=softplus, log1p=log1p, expm1=expm1)
    _SYM["sp"] = sp
    return sp


# --- the whitelist -------------------------------------------------------------------------------


def _f1(name: str) -> Callable[[Any, list], Any]:
    def build(sp, a):
        fn = _SYM[name] if name in _SYM else getattr(sp, name)
        return fn(a[0])

    return build


def _minmax(kind: str) -> Callable[[Any, list], Any]:
    return lambda sp, a: (sp.Max if kind == "max" else sp.Min)(*a)


# name -> (min args, max args, builder(sympy, args), one-line doc)
FUNCTIONS: dict[str, tuple[int, int, Callable[[Any, list], Any], str]] = {
    "exp": (1, 1, _f1("exp"), "e^a"),
    "log": (1, 1, _f1("log"), "natural logarithm"),
    "ln": (1, 1, _f1("log"), "natural logarithm"),
    "log1p": (1, 1, _f1("log1p"), "log(1 + a), accurate for small a"),
    "expm1": (1, 1, _f1("expm1"), "e^a - 1, accurate for small a"),
    "log2": (1, 1, lambda sp, a: sp.log(a[0]) / sp.log(2), "base-2 logarithm"),
    "log10": (1, 1, lambda sp, a: sp.log(a[0]) / sp.log(10), "base-10 logarithm"),
    "sqrt": (1, 1, lambda sp, a: sp.sqrt(a[0]), "square root"),
    "square": (1, 1, lambda sp, a: a[0] ** 2, "a^2"),
    "pow": (2, 2, lambda sp, a: a[0] ** a[1], "a^b"),
    "abs": (1, 1, lambda sp, a: sp.Abs(a[0]), "|a|"),
    "sign": (1, 1, lambda sp, a: sp.sign(a[0]), "-1, 0 or 1"),
    "sin": (1, 1, _f1("sin"), "sine"),
    "cos": (1, 1, _f1("cos"), "cosine"),
    "tan": (1, 1, _f1("tan"), "tangent"),
    "sinh": (1, 1, _f1("sinh"), "hyperbolic sine"),
    "cosh": (1, 1, _f1("cosh"), "hyperbolic cosine"),
    "tanh": (1, 1, _f1("tanh"), "hyperbolic tangent"),
    "asin": (1, 1, _f1("asin"), "inverse sine"),
    "acos": (1, 1, _f1("acos"), "inverse cosine"),
    "atan": (1, 1, _f1("atan"), "inverse tangent"),
    "arctan": (1, 1, _f1("atan"), "inverse tangent"),
    "asinh": (1, 1, _f1("asinh"), "inverse hyperbolic sine"),
    "arcsinh": (1, 1, _f1("asinh"), "inverse hyperbolic sine"),
    "atanh": (1, 1, _f1("atanh"), "inverse hyperbolic tangent"),
    "erf": (1, 1, _f1("erf"), "error function"),
    "erfc": (1, 1, _f1("erfc"), "complementary error function"),
    "sigmoid": (1, 1, _f1("sigmoid"), "1 / (1 + e^-a), evaluated stably"),
    "softplus": (1, 1, _f1("softplus"), "log(1 + e^a), evaluated stably"),
    "relu": (1, 1, lambda sp, a: sp.Max(a[0], 0), "max(a, 0)"),
    "max": (2, 8, _minmax("max"), "largest argument"),
    "min": (2, 8, _minmax("min"), "smallest argument"),
    "clip": (3, 3, lambda sp, a: sp.Min(sp.Max(a[0], a[1]), a[2]), "clip(a, lo, hi)"),
    "heaviside": (1, 1, lambda sp, a: sp.Piecewise((1, a[0] > 0), (0, True)), "1 for a > 0, else 0"),
    "where": (3, 3, None, "where(cond, a, b): a where cond holds, else b"),  # type: ignore[dict-item]
    "piecewise": (1, 16, None, "piecewise((a, cond), ..., (b, True))"),  # type: ignore[dict-item]
}
CONSTANTS = ("pi", "e")
_CONDITION_FUNCS = ("where", "piecewise")

_FORBIDDEN = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.List: "lists are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


# --- the parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, formula: str, params: Iterable[str]) -> None:
        sp = _sympy()
        self.sp = sp
        self.text = formula
        self.x = sp.Symbol("x", real=True)
        self.params = {p: sp.Symbol(p, real=True) for p in params}

    def fail(self, message: str, node: ast.AST | None = None, position: int | None = None) -> FormulaError:
        if node is not None and position is None:
            position = getattr(node, "col_offset", None)
        if position is not None:
            position = max(0, min(position, len(self.text)))
            message = f"{message} (at position {position})"
        return FormulaError(message, self.text, position)

    # entry point
    def parse(self) -> Any:
        text = self.text
        if not isinstance(text, str):
            raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise self.fail(f"formula is too long ({len(text)} characters; at most {MAX_LENGTH})")
        for i, ch in enumerate(text):
            if not (ch.isascii() and (ch.isprintable() or ch in " \t")):
                raise self.fail(f"character {ch!r} is not allowed: a formula is plain ASCII", position=i)
        if not text.strip():
            raise self.fail("the formula is empty")
        if text != text.lstrip():  # 'eval' mode rejects leading blanks; allow them
            lead = len(text) - len(text.lstrip())
            tree = self._parse_text(text.strip(), lead)
        else:
            tree = self._parse_text(text, 0)
        self._check_size(tree)
        expr = self.value(tree.body)
        if not expr.free_symbols & {self.x} and not expr.free_symbols:
            pass  # a constant activation is legal, if pointless
        return expr

    def _parse_text(self, text: str, shift: int) -> ast.Expression:
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as e:
            pos = (e.offset - 1 + shift) if e.offset else len(text) + shift
            msg = (e.msg or "invalid syntax").split(" (")[0]
            raise self.fail(f"syntax error: {msg}", position=pos) from None
        except (ValueError, RecursionError, MemoryError, OverflowError) as e:
            raise self.fail(f"cannot parse the formula: {e}") from None
        if shift:
            for node in ast.walk(tree):
                if hasattr(node, "col_offset"):
                    node.col_offset += shift
        return tree

    def _check_size(self, tree: ast.AST) -> None:
        count = 0
        stack: list[tuple[ast.AST, int]] = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self.fail(f"formula is too large (more than {MAX_NODES} syntax nodes)", node)
            if depth > MAX_DEPTH:
                raise self.fail(f"formula is nested too deeply (more than {MAX_DEPTH} levels)", node)
            for child in ast.iter_child_nodes(node):
                stack.append((child, depth + 1))

    # value context
    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINOPS:
                sym = {
                    ast.FloorDiv: "//",
                    ast.Mod: "%",
                    ast.MatMult: "@",
                    ast.LShift: "<<",
                    ast.RShift: ">>",
                    ast.BitOr: "|",
                    ast.BitAnd: "&",
                    ast.BitXor: "^",
                }.get(op, op.__name__)
                hint = "; write ** for a power" if op is ast.BitXor else ""
                raise self.fail(f"operator {sym!r} is not allowed{hint}", node)
            a, b = self.value(node.left), self.value(node.right)
            if op is ast.Pow:
                self._check_power(a, b, node)
            try:
                out = {
                    ast.Add: lambda: a + b,
                    ast.Sub: lambda: a - b,
                    ast.Mult: lambda: a * b,
                    ast.Div: lambda: a / b,
                    ast.Pow: lambda: a**b,
                }[op]()
            except (ZeroDivisionError, OverflowError, ValueError, TypeError) as e:
                raise self.fail(f"cannot build {_BINOPS[op]!r}: {e}", node) from None
            return self.checked(out, node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.checked(-self.value(node.operand), node)
            if isinstance(node.op, ast.UAdd):
                return self.value(node.operand)
            if isinstance(node.op, ast.Not):
                raise self.fail("'not' can only appear in a condition", node)
            raise self.fail("operator '~' is not allowed", node)
        if isinstance(node, ast.IfExp):
            cond = self.condition(node.test)
            return self.checked(
                self._piecewise([(self.value(node.body), cond), (self.value(node.orelse), True)], node), node
            )
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            raise self.fail(
                "a comparison can only be the condition of where(cond, a, b), piecewise(...) "
                "or 'a if cond else b'",
                node,
            )
        if isinstance(node, ast.Tuple):
            raise self.fail("tuples are only allowed as the (value, condition) pairs of piecewise(...)", node)
        for kind, message in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise self.fail(message, node)
        raise self.fail(f"{type(node).__name__} is not allowed", node)

    def constant(self, node: ast.Constant) -> Any:
        sp = self.sp
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            raise self.fail(f"{v!r} is not a number", node)
        if isinstance(v, (str, bytes)):
            raise self.fail("string literals are not allowed", node)
        if isinstance(v, complex):
            raise self.fail("complex numbers are not allowed", node)
        if isinstance(v, int):
            if abs(v) > MAX_CONST:
                raise self.fail("the number is too large", node)
            return sp.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v) or abs(v) > MAX_CONST:
                raise self.fail("the number is out of range", node)
            if v == 0.0:
                end = getattr(node, "end_col_offset", None)
                literal = self.text[node.col_offset : end] if end is not None else ""
                mantissa = re.split(r"[eE]", literal)[0]
                if any(c in "123456789" for c in mantissa):
                    raise self.fail("the number is too small: it rounds to 0", node)
            return sp.Rational(repr(v))
        raise self.fail(f"{type(v).__name__} literals are not allowed", node)

    def name(self, node: ast.Name) -> Any:
        n = node.id
        if n == "x":
            return self.x
        if n in self.params:
            return self.params[n]
        if n == "pi":
            return self.sp.pi
        if n == "e":
            return self.sp.E
        if n.startswith("_"):
            raise self.fail(f"name {n!r} is not allowed (names may not start with '_')", node)
        if n in FUNCTIONS:
            raise self.fail(f"{n} is a function: call it, as in {n}(x)", node)
        known = ["x", *self.params, *CONSTANTS]
        close = difflib.get_close_matches(n, known + list(FUNCTIONS), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        declared = (
            f"; declared parameters: {', '.join(self.params)}"
            if self.params
            else "; declare parameters with params={...}"
        )
        raise self.fail(f"unknown name {n!r}{hint} (the input is x{declared})", node)

    def call(self, node: ast.Call) -> Any:
        sp = self.sp
        if not isinstance(node.func, ast.Name):
            for kind, message in _FORBIDDEN.items():
                if isinstance(node.func, kind):
                    raise self.fail(message, node.func)
            raise self.fail("only the listed functions can be called, by name", node)
        fname = node.func.id
        if fname.startswith("_"):
            raise self.fail(f"name {fname!r} is not allowed (names may not start with '_')", node)
        if fname not in FUNCTIONS:
            close = difflib.get_close_matches(fname, list(FUNCTIONS), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise self.fail(
                f"unknown function {fname!r}{hint} (allowed: {', '.join(sorted(FUNCTIONS))})", node
            )
        if node.keywords:
            raise self.fail(
                f"{fname}(): keyword arguments are not allowed",
                node.keywords[0].value if node.keywords[0].value is not None else node,
            )
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.fail("'*' unpacking is not allowed", a)
        lo, hi, build, _ = FUNCTIONS[fname]
        n = len(node.args)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(f"{fname}() takes {want} argument(s), got {n}", node)
        if fname == "where":
            cond = self.condition(node.args[0])
            out = self._piecewise([(self.value(node.args[1]), cond), (self.value(node.args[2]), True)], node)
            return self.checked(out, node)
        if fname == "piecewise":
            pairs = []
            for arg in node.args:
                if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                    raise self.fail("piecewise() takes (value, condition) pairs", arg)
                v = self.value(arg.elts[0])
                c = self.condition(arg.elts[1])
                pairs.append((v, c))
            if pairs[-1][1] is not True and pairs[-1][1] is not sp.true:
                raise self.fail(
                    "piecewise(): the last pair must be (value, True), the default", node.args[-1]
                )
            return self.checked(self._piecewise(pairs, node), node)
        args = [self.value(a) for a in node.args]
        if fname in ("pow",):
            self._check_power(args[0], args[1], node)
        if fname == "exp":
            self._check_exp(args[0], node)
        try:
            out = build(sp, args)
        except (ZeroDivisionError, OverflowError, ValueError, TypeError) as e:
            raise self.fail(f"cannot build {fname}(): {e}", node) from None
        return self.checked(out, node)

    def _piecewise(self, pairs: list[tuple[Any, Any]], node: ast.AST) -> Any:
        sp = self.sp
        self.n_piecewise = getattr(self, "n_piecewise", 0) + 1
        if self.n_piecewise > MAX_PIECEWISE:
            raise self.fail(f"too many where/piecewise/if-else (at most {MAX_PIECEWISE})", node)
        try:
            return sp.Piecewise(*[(v, sp.true if c is True else c) for v, c in pairs])
        except (TypeError, ValueError) as e:
            raise self.fail(f"invalid piecewise definition: {e}", node) from None

    # condition context
    def condition(self, node: ast.AST) -> Any:
        sp = self.sp
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node, ast.Compare):
            ops = {
                ast.Lt: sp.Lt,
                ast.LtE: sp.Le,
                ast.Gt: sp.Gt,
                ast.GtE: sp.Ge,
                ast.Eq: sp.Eq,
                ast.NotEq: sp.Ne,
            }
            left = self.side(node.left)
            parts = []
            for op, comp in zip(node.ops, node.comparators):
                if type(op) not in ops:
                    raise self.fail(
                        f"comparison {type(op).__name__} is not allowed (use <, <=, >, >=, ==, !=)", node
                    )
                right = self.side(comp)
                try:
                    parts.append(ops[type(op)](left, right))
                except TypeError as e:
                    raise self.fail(f"invalid comparison: {e}", node) from None
                left = right
            return sp.And(*parts) if len(parts) > 1 else parts[0]
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.condition(node.operand))
        if isinstance(node, (ast.Constant, ast.Name, ast.BinOp, ast.Call, ast.UnaryOp, ast.IfExp)):
            raise self.fail("a condition must be a comparison such as x > 0", node)
        return self.value(node)  # raises the right message for anything else

    def side(self, node: ast.AST) -> Any:
        """One side of a comparison: no where/piecewise inside (sympy's case analysis of those explodes)."""
        v = self.value(node)
        if v.has(self.sp.Piecewise):
            raise self.fail(
                "a condition cannot contain where(), piecewise() or 'if else'; compare plain expressions",
                node,
            )
        return v

    # guards against huge or non-real constants
    def _check_power(self, base: Any, exponent: Any, node: ast.AST) -> None:
        """Reject powers that sympy would expand into huge exact numbers: sympy distributes a numeric
        exponent over a product, so every exact constant inside the base is raised to it."""
        sp = self.sp
        if base is sp.E:  # e ** a is exp(a)
            self._check_exp(exponent, node)
            return
        if not exponent.is_number:
            return
        try:
            e = abs(float(exponent))
        except (TypeError, ValueError, OverflowError):
            e = math.inf
        if _bits(exponent) > 64 or e > MAX_EXPONENT:
            raise self.fail(f"the exponent is too large (at most {MAX_EXPONENT:g} in magnitude)", node)
        bits = max([_bits(r) for r in base.atoms(sp.Rational)] + [1])
        if e * bits > MAX_CONST_BITS:
            raise self.fail("the constant power is too large", node)

    def _check_exp(self, arg: Any, node: ast.AST) -> None:
        sp = self.sp
        if arg.is_number:
            try:
                v = float(arg.evalf(20)) if arg.is_Number else _const_value(arg)
            except (TypeError, ValueError, OverflowError):
                v = 0.0
            if v > 700:
                raise self.fail("the constant exponential is too large", node)
            return
        # sympy rewrites exp(n * log(y)) as y ** n: check that power before it happens
        for term in sp.Add.make_args(arg):
            coeff, rest = term.as_coeff_Mul()
            for factor in sp.Mul.make_args(rest):
                if isinstance(factor, sp.log):
                    self._check_power(factor.args[0], coeff, node)

    def checked(self, expr: Any, node: ast.AST) -> Any:
        sp = self.sp
        if expr.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
            raise self.fail("the formula divides by zero or is otherwise undefined here", node)
        if expr.has(sp.I):
            raise self.fail("the formula is not real-valued here", node)
        for r in expr.atoms(sp.Rational):
            if _bits(r) > MAX_CONST_BITS or (r != 0 and not 1 / MAX_CONST <= abs(r) <= MAX_CONST):
                raise self.fail("a constant is too large or too small (at most 1e300 in magnitude)", node)
        if not expr.free_symbols and not isinstance(expr, sp.logic.boolalg.Boolean):
            v = _const_value(expr)
            if not math.isfinite(v) or abs(v) > MAX_CONST:
                raise self.fail("a constant is too large or not a real number", node)
        return expr


def _bits(r: Any) -> int:
    try:
        p, q = int(r.p), int(r.q)
    except (AttributeError, TypeError):
        return 0
    return max(abs(p).bit_length(), abs(q).bit_length())


def _const_value(expr: Any) -> float:
    """float value of an x- and parameter-free expression, through the guarded mpmath evaluator."""
    import mpmath

    fn = _compile(expr, (), mp=True)
    with mpmath.workdps(30):
        v = fn(mpmath.mpf(0), _MP, {})
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def parse(formula: str, params: Iterable[str] = ()) -> Any:
    """The sympy expression of ``formula`` in ``x`` and the parameters ``params``.

    Raises :class:`~actlab.FormulaError` (with ``formula`` and ``position``) for
    anything outside the whitelist.

    >>> parse("x * sigmoid(beta * x)", ["beta"])
    x*sigmoid(beta*x)
    """
    params = list(params)
    for p in params:
        _check_param_name(p)
    with _time_limit(TIME_LIMIT, formula):
        return _Parser(formula, params).parse()


class _Timeout(BaseException):  # noqa: N818 - BaseException: no `except Exception` inside sympy swallows it
    pass


@contextlib.contextmanager
def _time_limit(seconds: float, formula: str) -> Any:
    """A safety net against symbolic work that explodes: SIGALRM after ``seconds``.

    Active only where a timer is free to use (the main thread of a POSIX process with
    no other SIGALRM handler or timer); elsewhere the parser's size limits stand alone.
    """
    import signal
    import threading

    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        raise FormulaError(
            f"the formula is too complex: analysing it took more than {seconds:g} s", formula
        ) from None
    finally:
        signal.signal(signal.SIGALRM, old)


def _check_param_name(p: Any) -> None:
    if not isinstance(p, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", p) or keyword.iskeyword(p):
        raise FormulaError(
            f"invalid parameter name {p!r}: use a letter followed by letters, digits or _ "
            f"(at most 32 characters)"
        )
    if p == "x" or p in FUNCTIONS or p in CONSTANTS:
        raise FormulaError(
            f"invalid parameter name {p!r}: it is reserved (x, the constants pi and e, "
            f"and the function names)"
        )


# --- the compiler: sympy tree -> closure over ops (numpy/torch/jax arrays, or mpmath scalars) -----


def _compile(expr: Any, param_names: Iterable[str], mp: bool = False) -> Callable[..., Any]:
    """``fn(x, ops, params)`` evaluating ``expr``; with ``mp`` the ops are :data:`_MP` on mpf scalars."""
    sp = _sympy()
    pnames = set(param_names)

    def const(value: Any) -> Callable:
        if mp:
            import mpmath

            if value.is_Rational:
                c = mpmath.mpf(int(value.p)) / int(value.q)
            else:
                c = mpmath.mpf(str(sp.N(value, 40)))
            return lambda x, o, P: c
        c = float(value)
        return lambda x, o, P: c

    def rec(e: Any) -> Callable:
        if e.is_Symbol:
            n = e.name
            if n == "x":
                return lambda x, o, P: x
            if n in pnames:
                return lambda x, o, P: P[n]
            raise FormulaError(f"unknown symbol {n!r} in the expression")
        if e is sp.true or e is sp.false:
            truth = bool(e)
            return lambda x, o, P: truth
        if (
            not mp
            and not e.free_symbols
            and not isinstance(e, sp.logic.boolalg.Boolean)
            and not (e.is_Number or e.is_NumberSymbol)
        ):
            v = _const_value(e)  # fold constant sub-expressions, e.g. log(2), through mpmath
            if not math.isfinite(v):
                raise FormulaError(f"the constant {e} is not a finite real number")
            return lambda x, o, P: v
        if e.is_Number or e.is_NumberSymbol:
            if not e.is_real or not e.is_finite:
                raise FormulaError(f"the expression contains the non-real or infinite constant {e}")
            return const(e)
        if e.is_Add:
            fs = [rec(a) for a in e.args]

            def add(x, o, P):
                r = fs[0](x, o, P)
                for f in fs[1:]:
                    r = r + f(x, o, P)
                return r

            return add
        if e.is_Mul:
            num, den = [], []
            for a in e.args:
                if a.is_Pow and a.exp.is_Number and a.exp.is_negative and a.exp != -sp.Rational(1, 2):
                    den.append(rec(a.base ** (-a.exp)))
                elif a.is_Rational and a.p == 1 and a.q != 1:
                    den.append(const(sp.Integer(a.q)))
                else:
                    num.append(rec(a))

            def mul(x, o, P):
                r = num[0](x, o, P) if num else 1.0
                for f in num[1:]:
                    r = r * f(x, o, P)
                if den:
                    d = den[0](x, o, P)
                    for f in den[1:]:
                        d = d * f(x, o, P)
                    r = o.divide(r, d) if mp else r / d
                return r

            return mul
        if e.is_Pow:
            b = rec(e.base)
            ex = e.exp
            if ex.is_Number:
                if ex == sp.Rational(1, 2):
                    return lambda x, o, P: _fn(o, "sqrt", b(x, o, P))
                if ex == -sp.Rational(1, 2):
                    return lambda x, o, P: _div(1.0, _fn(o, "sqrt", b(x, o, P)), o, mp)
                if ex.is_Integer and abs(int(ex)) <= 2**31:
                    n = int(ex)
                    if n == 2:
                        return lambda x, o, P: (lambda v: v * v)(b(x, o, P))
                    if n == -1:
                        return lambda x, o, P: _div(1.0, b(x, o, P), o, mp)
                    if n < 0:
                        return lambda x, o, P: _div(
                            1.0, o.pow(b(x, o, P), -n) if mp else _pw(b(x, o, P), -n), o, mp
                        )
                    return lambda x, o, P: o.pow(b(x, o, P), n) if mp else _pw(b(x, o, P), n)
                if mp:
                    pc = const(ex)
                    return lambda x, o, P: o.pow(b(x, o, P), pc(x, o, P))
                p = float(ex)
                return lambda x, o, P: _pw(b(x, o, P), p)
            if e.base is sp.E:
                ef = rec(ex)
                return lambda x, o, P: _fn(o, "exp", ef(x, o, P))
            ef = rec(ex)
            return lambda x, o, P: o.pow(b(x, o, P), ef(x, o, P)) if mp else _pw(b(x, o, P), ef(x, o, P))
        if isinstance(e, sp.Piecewise):
            pieces = [(rec(v), rec(c)) for v, c in e.args]

            def piecewise(x, o, P):
                out = None
                for v, c in reversed(pieces):
                    cv = c(x, o, P)
                    if isinstance(cv, np.bool_):
                        cv = bool(cv)
                    if out is None:  # the last piece: its condition should be True
                        out = v(x, o, P)
                        if cv is not True:
                            out = _where(cv, out, math.nan if not mp else _mpnan(), x, o, mp)
                        continue
                    if cv is True:
                        out = v(x, o, P)
                    elif cv is False:
                        continue
                    else:
                        out = _where(cv, v(x, o, P), out, x, o, mp)
                return out

            return piecewise
        if isinstance(e, sp.Heaviside):  # the PyTorch convention at 0: relu'(0) = 0
            a = rec(e.args[0])
            return lambda x, o, P: _where(a(x, o, P) > 0, 1.0, 0.0, x, o, mp)
        if isinstance(e, sp.DiracDelta):
            return lambda x, o, P: _where(True, 0.0, 0.0, x, o, mp)
        if isinstance(e, (sp.Max, sp.Min)):
            fs = [rec(a) for a in e.args]
            red = "maximum" if isinstance(e, sp.Max) else "minimum"

            def minmax(x, o, P):
                vals = [f(x, o, P) for f in fs]
                r = vals[0]
                for v in vals[1:]:
                    r = _pair(red, r, v, x, o, mp)
                return r

            return minmax
        if isinstance(e, sp.core.relational.Relational):
            a, b = rec(e.lhs), rec(e.rhs)
            op = {
                "<": lambda u, v: u < v,
                "<=": lambda u, v: u <= v,
                ">": lambda u, v: u > v,
                ">=": lambda u, v: u >= v,
                "==": lambda u, v: u == v,
                "!=": lambda u, v: u != v,
            }[e.rel_op]
            return lambda x, o, P: op(a(x, o, P), b(x, o, P))
        if isinstance(e, (sp.And, sp.Or)):
            fs = [rec(a) for a in e.args]
            conj = isinstance(e, sp.And)

            def logic(x, o, P):
                vals = [f(x, o, P) for f in fs]
                r = vals[0]
                for v in vals[1:]:
                    if isinstance(r, bool) and isinstance(v, bool):
                        r = (r and v) if conj else (r or v)
                    else:
                        r = o.logical_and(r, v) if conj else o.logical_or(r, v)
                return r

            return logic
        if isinstance(e, sp.logic.boolalg.BooleanFunction) and not isinstance(e, (sp.And, sp.Or, sp.Not)):
            return rec(sp.logic.boolalg.to_nnf(e, simplify=False))  # ITE, Xor, Implies... as And/Or/Not
        if isinstance(e, sp.Not):
            a = rec(e.args[0])
            return lambda x, o, P: (lambda v: (not v) if isinstance(v, bool) else o.logical_not(v))(
                a(x, o, P)
            )
        fname = _FUNC_OPS.get(type(e).__name__)
        if fname is not None and len(e.args) == 1:
            a = rec(e.args[0])
            if mp:
                return lambda x, o, P: getattr(o, fname)(a(x, o, P))
            return lambda x, o, P: _fn(o, fname, a(x, o, P))
        raise FormulaError(f"unsupported expression {type(e).__name__} in {e}")

    root = rec(expr)

    def fn(x, o, P):
        return root(x, o, P)

    return fn


_FUNC_OPS = {
    "exp": "exp",
    "log": "log",
    "log1p": "log1p",
    "expm1": "expm1",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "asin": "asin",
    "acos": "acos",
    "atan": "atan",
    "asinh": "asinh",
    "acosh": "acosh",
    "atanh": "atanh",
    "erf": "erf",
    "erfc": "erfc",
    "Abs": "abs",
    "sign": "sign",
    "sigmoid": "sigmoid",
    "softplus": "softplus",
}


def _fn(o: Any, name: str, v: Any) -> Any:
    """``o.<name>(v)``; a python scalar (a parameter-only sub-expression) goes through numpy."""
    if isinstance(v, (int, float)):
        with np.errstate(all="ignore"):
            return float(getattr(namespace("numpy"), name)(np.float64(v)))
    return getattr(o, name)(v)


def _pw(a: Any, b: Any) -> Any:
    """``a ** b``; python scalars through numpy (nan, not complex, for a negative base)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        with np.errstate(all="ignore"):
            return float(np.float64(a) ** np.float64(b))
    return a**b


def _div(a: Any, b: Any, o: Any, mp: bool) -> Any:
    return o.divide(a, b) if mp else a / b


def _mpnan() -> Any:
    import mpmath

    return mpmath.mpf("nan")


def _where(cond: Any, a: Any, b: Any, like: Any, o: Any, mp: bool) -> Any:
    if mp or isinstance(cond, (bool, np.bool_)):
        return a if cond else b
    if isinstance(a, (int, float)):
        a = o.full_like(like, a)
    if isinstance(b, (int, float)):
        b = o.full_like(like, b)
    return o.where(cond, a, b)


def _pair(red: str, a: Any, b: Any, like: Any, o: Any, mp: bool) -> Any:
    if mp:
        return getattr(_MP, red)(a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b) if red == "maximum" else min(a, b)
    if isinstance(a, (int, float)):
        a, b = b, a
    if isinstance(b, (int, float)):
        b = o.full_like(a, b)
    return getattr(o, red)(a, b)


# --- the guarded mpmath namespace: the 30-digit reference -----------------------------------------


class _MPOps:
    """mpmath on real scalars; anything complex or undefined becomes nan, huge exponentials inf."""

    def __init__(self) -> None:
        import mpmath

        self.m = mpmath
        self.nan = mpmath.mpf("nan")
        self.inf = mpmath.mpf("inf")

    def _real(self, v: Any) -> Any:
        m = self.m
        if isinstance(v, m.mpc):
            return v.real if v.imag == 0 else self.nan
        return v

    def _safe(self, fn: Callable, *a: Any) -> Any:
        if any(self.m.isnan(v) for v in a):
            return self.nan
        try:
            return self._real(fn(*a))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return self.nan

    def exp(self, a):
        if a > 1e12:
            return self.inf
        if a < -1e12:
            return self.m.mpf(0)
        return self._safe(self.m.exp, a)

    def expm1(self, a):
        if a > 1e12:
            return self.inf
        return self._safe(self.m.expm1, a)

    def log(self, a):
        if a < 0:
            return self.nan
        if a == 0:
            return -self.inf
        return self._safe(self.m.log, a)

    def log1p(self, a):
        if a < -1:
            return self.nan
        if a == -1:
            return -self.inf
        return self._safe(self.m.log1p, a)

    def sqrt(self, a):
        return self.nan if a < 0 else self._safe(self.m.sqrt, a)

    def sigmoid(self, a):
        if self.m.isnan(a):
            return self.nan
        if a < 0:
            e = self.exp(a)
            return e / (1 + e)
        return 1 / (1 + self.exp(-a))

    def softplus(self, a):
        if self.m.isnan(a):
            return self.nan
        if a > 0:
            return a + self.log1p(self.exp(-a))
        return self.log1p(self.exp(a))

    def pow(self, a, b):
        m = self.m
        if m.isnan(a) or m.isnan(b):
            return self.nan
        try:
            if a != 0 and m.isfinite(a) and m.isfinite(b):
                mag = abs(b * m.log(abs(a)))
                if mag > 1e12:
                    big = b * m.log(abs(a)) > 0
                    if a < 0 and b != int(b):
                        return self.nan
                    sign = -1 if (a < 0 and int(b) % 2) else 1
                    return sign * self.inf if big else m.mpf(0)
            if a == 0 and b < 0:
                return self.inf
            return self._real(m.power(a, b))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return self.nan

    def divide(self, a, b):
        m = self.m
        if m.isnan(a) or m.isnan(b):
            return self.nan
        if b == 0:
            if a == 0:
                return self.nan
            return self.inf if a > 0 else -self.inf
        return a / b

    def abs(self, a):
        return abs(a)

    def sign(self, a):
        if self.m.isnan(a):
            return self.nan
        return self.m.mpf((a > 0) - (a < 0))

    def maximum(self, a, b):
        if self.m.isnan(a) or self.m.isnan(b):
            return self.nan
        return a if a >= b else b

    def minimum(self, a, b):
        if self.m.isnan(a) or self.m.isnan(b):
            return self.nan
        return a if a <= b else b

    def logical_and(self, a, b):
        return bool(a) and bool(b)

    def logical_or(self, a, b):
        return bool(a) or bool(b)

    def logical_not(self, a):
        return not a

    def __getattr__(self, name: str) -> Callable:
        fn = {
            "sin": "sin",
            "cos": "cos",
            "tan": "tan",
            "sinh": "sinh",
            "cosh": "cosh",
            "tanh": "tanh",
            "asin": "asin",
            "acos": "acos",
            "atan": "atan",
            "asinh": "asinh",
            "acosh": "acosh",
            "atanh": "atanh",
            "erf": "erf",
            "erfc": "erfc",
        }.get(name)
        if fn is None:
            raise AttributeError(name)
        f = getattr(self.m, fn)
        if name in ("sinh", "cosh"):
            return lambda a: (
                self.inf * (self.sign(a) if name == "sinh" else 1) if abs(a) > 1e12 else self._safe(f, a)
            )
        if name in ("sin", "cos", "tan"):
            return lambda a: self.nan if not self.m.isfinite(a) else self._safe(f, a)
        if name in ("asin", "acos", "atanh"):
            return lambda a: self.nan if abs(a) > 1 else self._safe(f, a)
        if name == "acosh":
            return lambda a: self.nan if a < 1 else self._safe(f, a)
        return lambda a: self._safe(f, a)


class _LazyMP:
    _ops: _MPOps | None = None

    def __getattr__(self, name: str) -> Any:
        if _LazyMP._ops is None:
            _LazyMP._ops = _MPOps()
        return getattr(_LazyMP._ops, name)


_MP: Any = _LazyMP()


# --- numerical trouble ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericalIssue:
    """Where the formula as written goes wrong: ``what`` is "f" or "f'", ``kind`` one of
    "overflow" (inf where the exact value is finite, or the exact value exceeds the dtype),
    "nan" (nan on a finite input), "precision" (relative error above the dtype's tolerance)."""

    what: str
    dtype: str
    kind: str
    lo: float
    hi: float
    worst: float = math.nan  # the largest relative error seen, for "precision"

    def __str__(self) -> str:
        where = f"x = {self.lo:.4g}" if self.lo == self.hi else f"x in [{self.lo:.4g}, {self.hi:.4g}]"
        if self.kind == "overflow":
            return f"{self.what} overflows in {self.dtype} for {where}"
        if self.kind == "nan":
            return f"{self.what} is nan in {self.dtype} for {where}"
        return (
            f"{self.what} loses precision in {self.dtype} for {where} (relative error up to {self.worst:.1e})"
        )


_TOL = {"float64": (1e-9, 1e-14), "float32": (1e-4, 1e-6)}  # (relative, absolute * max(1, |x|))


def _grid(lo: float, hi: float, n: int = 801) -> np.ndarray:
    """Check points, each exactly representable in float32 (so one reference serves both dtypes)."""
    g = np.linspace(lo, hi, n)
    extra = [0.0]
    for t in (1e-12, 1e-8, 1e-4, 1e-2):
        extra += [t, -t]
    g = np.concatenate([g, [v for v in extra if lo <= v <= hi]])
    return np.unique(g.astype(np.float32)).astype(np.float64)


def _reference(fn: Callable, xs: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """The mpmath evaluation at 30 digits, rounded to float64 (inf beyond the float64 range)."""
    import mpmath

    out = np.empty(xs.shape, dtype=np.float64)
    with mpmath.workdps(30):
        P = {k: mpmath.mpf(float(v)) for k, v in params.items()}
        for i, v in enumerate(xs):
            r = fn(mpmath.mpf(float(v)), _MP, P)
            try:
                out[i] = float(r)
            except (TypeError, ValueError, OverflowError):
                out[i] = math.nan
    return out


def _issues_for(
    what: str, arr_fn: Callable, mp_fn: Callable, params: Mapping[str, float], lo: float, hi: float
) -> list[NumericalIssue]:
    found: list[NumericalIssue] = []
    ops = namespace("numpy")
    xs = _grid(lo, hi)
    ref = _reference(mp_fn, xs, params)
    P = {k: float(v) for k, v in params.items()}
    for dtype in ("float64", "float32"):
        dt = np.dtype(dtype)
        with np.errstate(all="ignore"):
            got = np.asarray(arr_fn(xs.astype(dt), ops, P), dtype=np.float64)
            got = np.broadcast_to(got, xs.shape)
            rel_tol, abs_tol = _TOL[dtype]
            r_nan = np.isnan(ref)
            r_big = ~r_nan & (np.abs(ref) > float(np.finfo(dt).max))
            g_nan = np.isnan(got)
            g_inf = np.isinf(got)
            err = np.abs(got - ref)
            scale = np.abs(ref)
            bad_prec = (
                ~(r_nan | r_big | g_nan | g_inf)
                & (err > rel_tol * scale)
                & (err > abs_tol * np.maximum(1.0, np.abs(xs)))
            )
            rel = np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), np.inf)
        kinds = np.zeros(xs.shape, dtype=np.int8)  # 0 fine, 1 overflow, 2 nan, 3 precision
        kinds[bad_prec] = 3
        kinds[~r_nan & ~r_big & g_inf] = 1
        kinds[r_big] = 1
        kinds[g_nan & ~r_big] = 2  # nan here; nan in the reference too means x is outside the domain
        for code, kind in ((1, "overflow"), (2, "nan"), (3, "precision")):
            idx = np.flatnonzero(kinds == code)
            if not idx.size:
                continue
            for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
                worst = float(rel[run].max()) if code == 3 else math.nan
                found.append(NumericalIssue(what, dtype, kind, float(xs[run[0]]), float(xs[run[-1]]), worst))
    return found


def check_numerics(act: Any, x_range: tuple[float, float] = DEFAULT_CHECK_RANGE) -> list[NumericalIssue]:
    """Compare float64 / float32 evaluation of f and f' with a 30-digit reference over ``x_range``.

    ``act`` is a formula-defined activation (its name or the bound ``Activation``)
    or any elementwise catalog entry (its sympy expression is the reference).
    """
    lo, hi = float(x_range[0]), float(x_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ActlabError(f"check range must be two finite numbers lo < hi, got {x_range!r}")
    a = act if isinstance(act, Activation) else Activation(_lookup(act))
    info = formula_info(a)
    if info is not None:
        sp = _sympy()
        x = sp.Symbol("x", real=True)
        exprs = [("f", info.expr), ("f'", info.derivative_expr)]
        names = list(info.params)
        arr = {"f": info._f, "f'": info._df}
    else:
        if not a.is_elementwise:
            raise TypeError(f"{a.name} is vector-valued: check_numerics needs an elementwise activation")
        sp = _sympy()
        x = sp.Symbol("x", real=True)
        e = a.spec.sympy()
        exprs = [("f", e), ("f'", sp.diff(e, x))]
        names = list(a.spec.param_names)
        arr = {
            "f": lambda xs, o, P: a.with_params(**P)(xs),
            "f'": lambda xs, o, P: a.with_params(**P).derivative(xs),
        }
    out: list[NumericalIssue] = []
    for what, e in exprs:
        out += _issues_for(what, arr[what], _compile(e, names, mp=True), a.params, lo, hi)
    return out


def _hints(expr: Any) -> list[str]:
    """Rewrites that make a naive formula stable."""
    sp = _sympy()
    hints = []
    for lg in expr.atoms(sp.log):
        arg = lg.args[0]
        if arg.is_Add and sp.S.One in arg.args:
            rest = arg - 1
            if isinstance(rest, sp.exp) or (rest.is_Pow and rest.base is sp.E):
                hints.append(
                    f"write softplus({rest.args[0] if isinstance(rest, sp.exp) else rest.exp}) "
                    f"for log(1 + exp(...))"
                )
            else:
                hints.append("write log1p(a) for log(1 + a)")
    for add in expr.atoms(sp.Add):
        if (
            sp.S.NegativeOne in add.args
            and any(isinstance(a, sp.exp) for a in add.args)
            and len(add.args) == 2
        ):
            hints.append("write expm1(a) for exp(a) - 1")
    for p in expr.atoms(sp.Pow):
        if (
            p.exp == -1
            and p.base.is_Add
            and sp.S.One in p.base.args
            and any(isinstance(a, sp.exp) for a in p.base.args)
        ):
            hints.append("write sigmoid(a) for 1/(1 + exp(-a))")
    return sorted(set(hints))


# --- derived properties --------------------------------------------------------------------------


def _switches(expr: Any) -> list[Any]:
    """Expressions whose roots are where the formula may switch branch (kinks, jumps)."""
    sp = _sympy()
    out = []
    for a in expr.atoms(sp.Abs, sp.sign, sp.Heaviside):
        out.append(a.args[0])
    for m in expr.atoms(sp.Max, sp.Min):
        args = m.args
        for i in range(len(args)):
            for j in range(i + 1, len(args)):
                out.append(args[i] - args[j])
    for pw in expr.atoms(sp.Piecewise):
        for _, c in pw.args:
            for rel in c.atoms(sp.core.relational.Relational):
                out.append(rel.lhs - rel.rhs)
    for p in expr.atoms(sp.Pow):
        if p.exp.is_Number and not p.exp.is_Integer:
            out.append(p.base)
    return [s for s in out if s.has(sp.Symbol("x", real=True))]


def _roots(g: Callable, lo: float = -50.0, hi: float = 50.0) -> list[float]:
    xs = np.unique(np.concatenate([np.linspace(lo, hi, 20001), [0.0]]))
    with np.errstate(all="ignore"):
        gv = np.asarray(g(xs), dtype=np.float64) * np.ones_like(xs)
    roots = list(xs[gv == 0])
    s = np.sign(gv)
    idx = np.flatnonzero((s[:-1] * s[1:] < 0) & np.isfinite(gv[:-1]) & np.isfinite(gv[1:]))
    for i in idx[:50]:
        a, b = xs[i], xs[i + 1]
        ga = gv[i]
        for _ in range(80):
            m = 0.5 * (a + b)
            with np.errstate(all="ignore"):
                gm = float(np.asarray(g(np.array([m])), dtype=np.float64).ravel()[0])
            if gm == 0 or not math.isfinite(gm):
                a = b = m
                break
            if (gm < 0) == (ga < 0):
                a, ga = m, gm
            else:
                b = m
        roots.append(0.5 * (a + b))
    out: list[float] = []
    for r in sorted(roots):
        r = float(r)
        nice = round(r, 9)
        r = nice if abs(nice - r) < 1e-9 * max(1.0, abs(r)) else r
        if r == 0.0:
            r = 0.0
        if not out or abs(r - out[-1]) > 1e-7 * max(1.0, abs(r)):
            out.append(r)
    return out[:50]


def _jump(fn: Callable, c: float, tol: float) -> bool:
    h = 1e-6 * max(1.0, abs(c))
    with np.errstate(all="ignore"):
        left = np.asarray(fn(np.array([c - 2 * h, c - h])), dtype=np.float64) * np.ones(2)
        right = np.asarray(fn(np.array([c + h, c + 2 * h])), dtype=np.float64) * np.ones(2)
    if not (np.all(np.isfinite(left)) and np.all(np.isfinite(right))):
        return True
    # extrapolate each side linearly to c
    lv = 2 * left[1] - left[0]
    rv = 2 * right[0] - right[1]
    return abs(lv - rv) > tol * max(1.0, abs(lv), abs(rv))


def _derive(
    expr: Any, d1: Any, names: list[str], defaults: dict[str, float], f: Callable, df: Callable
) -> tuple[Properties, bool, list[str]]:
    """Properties at the default parameters, numerically; also piecewise_linear and notes."""
    sp = _sympy()
    x = sp.Symbol("x", real=True)
    ops = namespace("numpy")
    P = dict(defaults)
    notes: list[str] = []

    def fx(v):
        with np.errstate(all="ignore"):
            return np.asarray(f(np.asarray(v, dtype=np.float64), ops, P), dtype=np.float64) * np.ones_like(v)

    def dfx(v):
        with np.errstate(all="ignore"):
            return np.asarray(df(np.asarray(v, dtype=np.float64), ops, P), dtype=np.float64) * np.ones_like(v)

    grid = np.unique(
        np.concatenate(
            [np.linspace(-50, 50, 40001), np.geomspace(1e-8, 1e8, 400), -np.geomspace(1e-8, 1e8, 400)]
        )
    )
    fv, dv = fx(grid), dfx(grid)
    finite = np.isfinite(fv)
    if not finite.all():
        bad = grid[~finite]
        notes.append(f"not finite for some real x (e.g. x = {bad[0]:.4g})")

    # kinks and jumps: at the roots of the switching expressions
    switches = _switches(expr)
    d2: Callable[..., Any] | None = None
    candidates: list[float] = []
    for s in switches:
        gs = _compile(s, names)
        candidates += _roots(lambda v, gs=gs: gs(v, ops, P))
    candidates = sorted(set(candidates))
    smooth = SMOOTH
    kinks: list[Kink] = []
    if candidates:
        e2 = sp.diff(d1, x)
        d2 = g2 = _compile(e2, names)
        g3 = _compile(sp.diff(e2, x), names)
        order = {0: DISCONTINUOUS, 1: C0, 2: C1, 3: C2}
        for c in candidates:
            if _jump(lambda v: f(v, ops, P), c, 1e-5):
                level = 0
            elif _jump(lambda v: df(v, ops, P), c, 1e-4):
                level = 1
            elif _jump(lambda v: g2(v, ops, P), c, 1e-3):
                level = 2
            elif _jump(lambda v: g3(v, ops, P), c, 1e-2):
                level = 3
            else:
                continue
            smooth = min(smooth, order[level])
            if level <= 1:
                with np.errstate(all="ignore"):
                    grad = float(np.asarray(df(np.array([c]), ops, P), dtype=np.float64).ravel()[0])
                kinks.append(Kink(float(c), grad))

    # range: extrema over the grid, the limits at +-inf, and whether the tails keep growing
    fin = fv[finite]
    lo_v, hi_v = (float(fin.min()), float(fin.max())) if fin.size else (math.nan, math.nan)
    if fin.size and np.isfinite(fv).any():
        i_min = int(np.nanargmin(np.where(finite, fv, np.inf)))
        i_max = int(np.nanargmax(np.where(finite, fv, -np.inf)))
        lo_v = min(lo_v, _polish(fx, grid, i_min, -1))
        hi_v = max(hi_v, _polish(fx, grid, i_max, +1))
    tails = fx(np.array([1e4, 1e6, 1e8, np.inf, -1e4, -1e6, -1e8, -np.inf]))
    for side in (0, 4):
        a, b, c, lim = tails[side : side + 4]
        grows_up = _keeps_growing(a, b, c, +1) or lim == np.inf
        grows_down = _keeps_growing(a, b, c, -1) or lim == -np.inf
        if grows_up:
            hi_v = math.inf
        elif math.isfinite(lim):
            hi_v = max(hi_v, float(lim))
        if grows_down:
            lo_v = -math.inf
        elif math.isfinite(lim):
            lo_v = min(lo_v, float(lim))
    rng = (_tidy(lo_v), _tidy(hi_v))

    # monotonic (non-decreasing)
    fd = np.diff(fv[finite])
    dfin = dv[np.isfinite(dv)]
    monotonic = bool(
        np.all(fd >= -1e-12 * np.maximum(1.0, np.abs(fv[finite][1:])))
        and (dfin.size == 0 or dfin.min() >= -1e-9)
    )

    # zero-centred under z ~ N(0, 1)
    z = np.linspace(-12, 12, 48001)
    w = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    fz = fx(z)
    if np.all(np.isfinite(fz)):
        trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009 - numpy < 2
        m1 = float(trapezoid(w * fz, z))
        m2 = float(trapezoid(w * fz * fz, z))
        zero_centred = abs(m1) <= 0.05 * math.sqrt(max(m2, 0.0))
    else:
        zero_centred = False

    # piecewise linear: f'' = 0 away from the kinks
    if d2 is None:
        d2 = _compile(sp.diff(d1, x), names)
    with np.errstate(all="ignore"):
        d2v = np.asarray(d2(grid, ops, P), dtype=np.float64) * np.ones_like(grid)
    away = np.ones_like(grid, dtype=bool)
    for c in candidates:
        away &= np.abs(grid - c) > 1e-6 * max(1.0, abs(c))
    piecewise_linear = bool(np.all(np.nan_to_num(d2v[away], nan=1.0) == 0.0))
    props = Properties(
        range=rng, monotonic=monotonic, smoothness=smooth, zero_centred=bool(zero_centred), kinks=tuple(kinks)
    )
    return props, piecewise_linear, notes


def _keeps_growing(a: float, b: float, c: float, sign: int) -> bool:
    """f at |x| = 1e4, 1e6, 1e8: does it keep moving in direction ``sign`` without levelling off?"""
    if not all(math.isfinite(v) for v in (a, b, c)):
        return (c == math.inf and sign > 0) or (c == -math.inf and sign < 0)
    d1, d2 = sign * (b - a), sign * (c - b)
    return d2 > 1e-6 * max(1.0, abs(c)) and d1 > 0 and d2 >= 0.3 * d1


def _polish(fx: Callable, grid: np.ndarray, i: int, sign: int) -> float:
    """Refine an interior extremum found on the grid (golden section on the neighbouring cells)."""
    g = float(fx(grid[i : i + 1])[0])
    if i <= 0 or i >= grid.size - 1:
        return g
    a, b = float(grid[i - 1]), float(grid[i + 1])
    phi = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = (sign * float(fx(np.array([t]))[0]) for t in (c, d))
    for _ in range(80):
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = sign * float(fx(np.array([c]))[0])
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = sign * float(fx(np.array([d]))[0])
    v = sign * max(fc, fd)
    if not math.isfinite(v):
        return g
    return max(v, g) if sign > 0 else min(v, g)


def _tidy(v: float) -> float:
    if not math.isfinite(v):
        return v
    r = round(v, 9)
    return r if abs(r - v) <= 1e-14 * max(1.0, abs(v)) else v


# --- define ----------------------------------------------------------------------------------------


@dataclass
class FormulaInfo:
    """What :func:`define` kept about a formula-defined activation."""

    name: str
    formula: str
    params: dict[str, float]
    expr: Any  # sympy, with the stable primitives (sigmoid, softplus, log1p, expm1) as functions
    derivative_expr: Any
    latex: str
    derivative_latex: str
    check_range: tuple[float, float] | None
    issues: list[NumericalIssue] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    spec: ActivationSpec | None = None
    _f: Callable = field(default=None, repr=False)  # type: ignore[assignment]
    _df: Callable = field(default=None, repr=False)  # type: ignore[assignment]

    def warning_text(self) -> str:
        if not self.issues:
            return ""
        lo, hi = self.check_range or (math.nan, math.nan)
        parts = "; ".join(str(i) for i in self.issues[:8])
        more = f"; and {len(self.issues) - 8} more" if len(self.issues) > 8 else ""
        hint = f". Hint: {'; '.join(self.hints)}" if self.hints else ""
        return f"{self.name}: numerical trouble inside [{lo:g}, {hi:g}]: {parts}{more}{hint}"


def formula_info(act: Any) -> FormulaInfo | None:
    """The :class:`FormulaInfo` of a formula-defined activation (name, spec or Activation), else None."""
    if isinstance(act, Activation):
        s = act.spec
    elif isinstance(act, ActivationSpec):
        s = act
    else:
        try:
            s = _lookup(act)
        except (ActlabError, TypeError):
            return None
    return getattr(s, "_formula_info", None)


def _stable_expression_text(expr: Any) -> str:
    """sympy source text that ``ActivationSpec.sympy`` parses back (sigmoid/softplus are known there)."""
    sp = _sympy()
    e = expr.replace(_SYM["log1p"], lambda a: sp.log(1 + a)).replace(_SYM["expm1"], lambda a: sp.exp(a) - 1)
    return sp.sstr(e)


def _params(params: Mapping[str, Any] | None, learnable: bool | Iterable[str]) -> list[Param]:
    if params is None:
        return []
    if not isinstance(params, Mapping):
        raise FormulaError(f"params must be a mapping of name to default value, got {type(params).__name__}")
    learn = set(params) if learnable is True else set() if learnable is False else set(learnable)
    unknown = sorted(learn - set(params))
    if unknown:
        raise FormulaError(f"learnable names unknown parameter(s) {unknown}; declared: {sorted(params)}")
    out = []
    for name, v in params.items():
        _check_param_name(name)
        if isinstance(v, Param):
            if v.name != name:
                raise FormulaError(f"parameter {name!r} is given a Param named {v.name!r}")
            p = v
        elif isinstance(v, Mapping):
            allowed = {"default", "low", "high", "open_low", "open_high", "learnable", "doc"}
            bad = sorted(set(v) - allowed)
            if bad or "default" not in v:
                raise FormulaError(
                    f"parameter {name!r}: a dict needs 'default' and may have "
                    f"{sorted(allowed - {'default'})}; got keys {sorted(v)}"
                )
            p = Param(name, **{k: v[k] for k in v})
        else:
            p = Param(name, v, learnable=name in learn)  # type: ignore[arg-type]
        if (
            isinstance(p.default, bool)
            or not isinstance(p.default, (int, float))
            or not math.isfinite(float(p.default))
        ):
            raise FormulaError(f"parameter {name!r}: the default must be a finite number, got {p.default!r}")
        if name in learn and not p.learnable:
            p = Param(p.name, p.default, p.low, p.high, p.open_low, p.open_high, True, p.doc)
        if not p.contains(float(p.default)):
            raise FormulaError(f"parameter {name!r}: the default {p.default!r} lies outside {p.interval}")
        out.append(
            Param(
                p.name,
                float(p.default),
                p.low,
                p.high,
                p.open_low,
                p.open_high,
                p.learnable,
                p.doc or "user parameter",
            )
        )
    return out


def define(
    formula: str,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    description: str | None = None,
    learnable: bool | Iterable[str] = False,
    check_range: tuple[float, float] | None = DEFAULT_CHECK_RANGE,
    warn: bool = True,
    replace: bool = False,
    register: bool = True,
) -> Activation:
    """Define (and register) an activation from a formula in ``x``.

    >>> act = define("x * sigmoid(beta * x)", name="doc_swish_b", params={"beta": 1.5})
    >>> act.params, act.spec.family
    ({'beta': 1.5}, 'user')
    >>> import actlab; actlab.unregister("doc_swish_b")

    - ``formula``: see the module docstring for the grammar; :data:`FUNCTIONS` lists the functions.
    - ``name``: the registry name (default: ``formula_<hash>``). Defining the same
      formula again under the same name returns the registered activation;
      another formula under a taken name needs ``replace=True``, and a catalog
      entry cannot be replaced.
    - ``params``: name -> default, or a :class:`~actlab.Param`, or a dict with
      ``default`` and optionally ``low``, ``high``, ``learnable``, ``doc``.
    - ``learnable``: True (all parameters) or the names of the learnable ones.
    - ``check_range``: the x range checked for numerical trouble (None: skip);
      trouble is reported as a :class:`NumericalWarning` (when ``warn``) and
      kept in :func:`formula_info`.
    - ``register``: False builds the activation without adding it to the registry.

    Returns the bound :class:`~actlab.Activation` at the default parameters.
    """
    plist = _params(params, learnable)
    pnames = [p.name for p in plist]
    with _time_limit(TIME_LIMIT, formula):
        expr = _Parser(formula, pnames).parse()
    sp = _sympy()
    x = sp.Symbol("x", real=True)
    if name is None:
        digest = hashlib.sha1(
            repr((formula, sorted((p.name, p.default) for p in plist))).encode()
        ).hexdigest()
        name = f"formula_{digest[:8]}"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", name):
        raise FormulaError(
            f"invalid activation name {name!r}: a letter, then letters, digits, _ or - "
            f"(at most 64 characters)"
        )
    if register:
        existing = None
        with contextlib.suppress(ActlabError):
            existing = _lookup(name)
        if existing is not None:
            info = formula_info(existing)
            mine = info is not None
            if (
                info is not None
                and info.formula == formula
                and info.params == {p.name: p.default for p in plist}
                and existing.params == tuple(plist)
            ):
                return Activation(existing)
            if existing.family != FAMILY or not mine:
                raise ActlabError(
                    f"cannot define {name!r}: the catalog entry {existing.name!r} has that name; "
                    f"choose another name"
                )
            if not replace:
                raise ActlabError(
                    f"{name!r} is already defined as {info.formula if info else '?'!r}; "
                    f"pass replace=True to redefine it"
                )
    defaults = {p.name: p.default for p in plist}
    with _time_limit(TIME_LIMIT, formula):
        try:
            d1 = sp.diff(expr, x)
        except Exception as e:  # noqa: BLE001 - sympy may fail on exotic input; report as a formula error
            raise FormulaError(f"cannot differentiate the formula: {e}", formula) from None
        f_c = _compile(expr, pnames)
        d_c = _compile(d1, pnames)
        with np.errstate(all="ignore"):
            props, pwl, notes = _derive(expr, d1, pnames, defaults, f_c, d_c)
        latex = sp.latex(expr)
        dlatex = sp.latex(d1)
        expression_text = _stable_expression_text(expr)
    nan_guard = bool(expr.has(sp.Piecewise) or d1.has(sp.Piecewise, sp.Heaviside))

    def _finish(v: Any, x_in: Any, o: Any) -> Any:
        if isinstance(v, (int, float, bool)):
            v = o.full_like(x_in, float(v))
        if nan_guard:
            v = o.where(o.isnan(x_in), x_in, v)
        return v

    def forward(xa: Any, o: Any, **P: Any) -> Any:
        if o.name == "numpy":
            with np.errstate(all="ignore"):
                return _finish(f_c(xa, o, P), xa, o)
        return _finish(f_c(xa, o, P), xa, o)

    def derivative(xa: Any, ya: Any, o: Any, **P: Any) -> Any:
        if o.name == "numpy":
            with np.errstate(all="ignore"):
                return _finish(d_c(xa, o, P), xa, o)
        return _finish(d_c(xa, o, P), xa, o)

    info = FormulaInfo(
        name=name,
        formula=formula,
        params=defaults,
        expr=expr,
        derivative_expr=d1,
        latex=f"f(x) = {latex}",
        derivative_latex=f"f'(x) = {dlatex}",
        check_range=tuple(map(float, check_range)) if check_range else None,  # type: ignore
        _f=lambda xa, o, P: forward(xa, o, **P),
        _df=lambda xa, o, P: derivative(xa, None, o, **P),
    )
    spec = ActivationSpec(
        name=name,
        family=FAMILY,
        description=description or f"User formula: {formula.strip()}",
        forward=forward,
        derivative=derivative,
        grad_from="input",
        expression=expression_text,
        sympy_expression=expr,
        params=tuple(plist),
        properties=props,
        piecewise_linear=pwl,
        latex=f"f(x) = {latex}",
        notes="Defined by formula; properties derived numerically at the default parameters"
        + (f"; {'; '.join(notes)}" if notes else "")
        + ".",
    )
    info.spec = spec
    object.__setattr__(spec, "_formula_info", info)  # the spec is frozen; this tag is ours alone
    if check_range is not None:
        info.issues = check_numerics_info(info, check_range)
        info.hints = _hints(expr) if info.issues else []
        if info.issues and warn:
            warnings.warn(info.warning_text(), NumericalWarning, stacklevel=2)
    if register:
        _register(spec, replace=replace)
    return Activation(spec)


def check_numerics_info(info: FormulaInfo, x_range: tuple[float, float]) -> list[NumericalIssue]:
    lo, hi = float(x_range[0]), float(x_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ActlabError(f"check range must be two finite numbers lo < hi, got {x_range!r}")
    names = list(info.params)
    out: list[NumericalIssue] = []
    for what, e, fn in (("f", info.expr, info._f), ("f'", info.derivative_expr, info._df)):
        out += _issues_for(what, fn, _compile(e, names, mp=True), info.params, lo, hi)
    return out
