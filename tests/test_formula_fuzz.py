"""Security: hostile strings thrown at the formula parser.

Each string must either become a valid activation or be rejected with
``FormulaError``; none may execute code. Code execution is watched three ways
while the parser runs: ``eval``/``exec``/``os.system``/``os.popen``/
``subprocess.Popen``/``open`` are replaced by tripwires, a ``sys.addaudithook``
hook records the interpreter's own audit events for code execution, process
creation, sockets and writes, and every payload that would succeed creates a
sentinel file that must never appear. Every call is also timed: deep nesting
and huge constants must be rejected quickly.
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import actlab  # noqa: E402
from actlab import FormulaError  # noqa: E402
from actlab.functions.formula import FUNCTIONS, _compile, define, parse  # noqa: E402

PER_CALL_SECONDS = 5.0  # generous for a loaded CI machine; a rejection typically takes well under 10 ms


class Escaped(Exception):  # noqa: N818 - the name says what happened
    """A tripwire fired: something tried to execute code."""


_AUDIT_ACTIVE = False
_ALLOW_EXEC = 0
_AUDIT_EVENTS: list[tuple[str, str]] = []
_PAYLOAD_MARKERS = ("__", "import", "system", "open(", "PWNED", "eval", "exec", "lambda", "getattr", "os.")
_FORBIDDEN_EVENTS = (
    "exec",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.startfile",
    "os.kill",
    "os.remove",
    "os.unlink",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "subprocess.Popen",
    "pty.spawn",
    "socket.connect",
    "socket.bind",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "shutil.rmtree",
    "webbrowser.open",
    "code.__new__",
    "function.__new__",
)


def _audit(event: str, args: tuple) -> None:
    if not _AUDIT_ACTIVE:
        return
    if event == "exec" and _ALLOW_EXEC:
        return
    if (
        event in _FORBIDDEN_EVENTS
        or event.startswith("os.exec")
        or event.startswith("os.spawn")
        or event == "open"
        and args
        and len(args) > 1
        and isinstance(args[1], str)
        and any(m in args[1] for m in "wax+")
    ):
        _AUDIT_EVENTS.append((event, repr(args)[:200]))


sys.addaudithook(_audit)  # cannot be removed; it does nothing unless a test switches it on


class Guard:
    """Tripwires around one parser call."""

    def __init__(self) -> None:
        self.fired: list[str] = []

    def _trip(self, what: str, real):
        def tripwire(*a, **k):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            source = a[0] if a and isinstance(a[0], str) else ""
            if (
                what in ("eval", "exec")
                and caller.startswith("sympy.")
                and not any(m in source for m in _PAYLOAD_MARKERS)
            ):
                # sympy generates a few helpers from its own fixed templates (e.g. monomial
                # multiplication in sympy.polys.monomials); no user text can reach them, since
                # the parser only lets the names x and the parameters into an expression.
                global _ALLOW_EXEC
                _ALLOW_EXEC += 1
                try:
                    return real(*a, **k)
                finally:
                    _ALLOW_EXEC -= 1
            code_file = getattr(a[0], "co_filename", "") if a else ""
            if what == "exec" and caller.startswith("importlib") and any(
                    f"{os.sep}{pkg}{os.sep}" in code_file for pkg in ("sympy", "mpmath")):
                # the first use of a sympy feature loads its module: library code, not user text
                return real(*a, **k)
            self.fired.append(f"{what}{a!r:.100} from {caller}")
            raise Escaped(what)

        return tripwire

    def __enter__(self) -> Guard:
        global _AUDIT_ACTIVE
        self._saved = [
            (builtins, "eval", builtins.eval),
            (builtins, "exec", builtins.exec),
            (builtins, "open", builtins.open),
            (builtins, "breakpoint", builtins.breakpoint),
            (builtins, "input", builtins.input),
            (os, "system", os.system),
            (os, "popen", os.popen),
            (subprocess, "Popen", subprocess.Popen),
        ]
        for mod, name, real in self._saved:
            setattr(mod, name, self._trip(name, real))
        _AUDIT_EVENTS.clear()
        _AUDIT_ACTIVE = True
        return self

    def __exit__(self, *exc) -> None:
        global _AUDIT_ACTIVE
        _AUDIT_ACTIVE = False
        for mod, name, value in self._saved:
            setattr(mod, name, value)
        self.fired += [f"audit:{e}:{a}" for e, a in _AUDIT_EVENTS]
        _AUDIT_EVENTS.clear()


def check(formula: str, *, full: bool = False, params: tuple[str, ...] = ("beta",)) -> str:
    """Run the parser (``full``: the whole ``define`` pipeline) under the tripwires; returns the outcome."""
    t = time.perf_counter()
    with Guard() as g, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if full:
                act = define(formula, params={p: 1.0 for p in params}, register=False, check_range=None)
                outcome = f"ok:{act.spec.expression}"
            else:
                expr = parse(formula, params)
                outcome = f"ok:{expr}"
        except FormulaError as e:
            outcome = f"rejected:{str(e).splitlines()[0]}"
            assert e.formula == formula or not isinstance(formula, str) or e.formula == ""
        except Escaped:
            outcome = "ESCAPED"
    elapsed = time.perf_counter() - t
    assert not g.fired, f"code execution attempted for {formula!r}: {g.fired}"
    assert outcome != "ESCAPED"
    assert elapsed < PER_CALL_SECONDS, f"{formula[:80]!r} took {elapsed:.1f}s"
    return outcome


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("fuzz") / "PWNED"
    yield p
    assert not p.exists(), "a payload created the sentinel file: code was executed"


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    """Import everything the parser uses lazily, so the tripwires see only the formulas' work."""
    define(
        "x * tanh(softplus(x)) + where(x > 0, x, 0) + piecewise((x, x > 1), (0, True)) + erf(x)",
        register=False,
        check_range=(-1, 1),
        warn=False,
    )
    for f in ("-heaviside(where(x < pi, x, 2))", "max(x, 1) * min(x, 2) + abs(x)"):
        define(f, register=False, check_range=(-1, 1), warn=False)
    for name in actlab.names(kind="elementwise"):  # the catalog's sympy forms load on first use
        actlab.spec(name).sympy()


def hostile_corpus(s: str) -> list[str]:
    touch = f"touch {s}"
    return [
        f"__import__('os').system('{touch}')",
        f'__import__("os").system("{touch}")',
        "().__class__.__bases__[0].__subclasses__()",
        "().__class__.__base__.__subclasses__()[59]()._module.__builtins__['__import__']('os')",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]()"
        f"._module.__builtins__['__import__']('os').system('{touch}')",
        "lambda: __import__('os')",
        "(lambda: 1)()",
        f"(lambda: exec('import os; os.system(\"{touch}\")'))()",
        f"f\"{{__import__('os').system('{touch}')}}\"",
        "f'{x}'",
        "'x'*10**9",
        "'x' * 10 ** 9 + x",
        "b'x'",
        "exp(" * 5000 + "x" + ")" * 5000,
        "exp(" * 100 + "x" + ")" * 100,
        "(" * 199 + "x" + ")" * 199,
        "(" * 300 + "x" + ")" * 300,
        "-" * 999 + "x",
        "+x" * 400,
        "x" + "+x" * 499,
        "x" * 5000,
        "9**9**9",
        "9**9**9**9",
        "(9**9)**(9**9)",
        "10**10**10",
        "2**2**2**2**2**2",
        "x**(10**100)",
        "x**9**9**9",
        "(x**(10**300))**(10**300)",
        "1e308 * 10",
        "1e999",
        "1" + "0" * 400,
        "0." + "0" * 400 + "1",
        "exp(1e308)",
        "exp(exp(exp(exp(10))))",
        "sinh(cosh(1000))",
        "tanh(9**9**9)",
        "erf(10**300)",
        "sin(1e300)",
        "1/0",
        "0**-1",
        "log(0)",
        "log(-1)",
        "sqrt(-1)",
        "(-1)**0.5",
        "atanh(1)",
        "acos(2)",
        "exec('import os')",
        "eval('1+1')",
        "compile('1', '', 'eval')",
        f"open('{s}', 'w')",
        "globals()",
        "locals()",
        "vars()",
        "dir()",
        "breakpoint()",
        "help()",
        "input()",
        "exit()",
        "quit()",
        "getattr(x, '__class__')",
        "x.__class__",
        "x.__dict__",
        "exp.__globals__",
        "exp.__code__",
        "sympy.sympify('x')",
        "__builtins__",
        "__builtins__.__import__",
        "__import__",
        "__name__",
        "_",
        "__",
        "type(x)",
        "object.__subclasses__()",
        "super()",
        "print(x)",
        "id(x)",
        "hash(x)",
        "x if __import__('os') else x",
        "where(__import__('os').system('true') > 0, x, x)",
        f"piecewise((x, __import__('os').system('{touch}') > 0), (0, True))",
        "max(*[x, x])",
        "max(**{'a': x})",
        "exp(x=1)",
        "exp(*x)",
        "exp(x).__class__",
        "exp(x)(1)",
        "sin(x)(x)",
        "(x := __import__('os'))",
        "\\N{LATIN SMALL LETTER E}xp(x)",
        "ｅｘｐ(x)",
        "__ｉｍｐｏｒｔ__('os')",
        "ℯxp(x)",
        "x\u202e",
        "x\u200b",
        "x\u00a0+ 1",
        "ⅹ",
        "x # comment",
        "x;import os",
        "x\nimport os",
        "x\n",
        "x\r\n",
        "x\t+ 1",
        '"""x"""',
        "'''x'''",
        "import os",
        "from os import system",
        "del x",
        "assert x",
        "raise x",
        "pass",
        "x = 1",
        "global x",
        "1j",
        "1j * x",
        "...",
        "None",
        "True",
        "False",
        "x @ x",
        "x // 1",
        "x % 2",
        "~x",
        "x << 1",
        "x | 1",
        "x & 1",
        "x ^ 1",
        "not x",
        "x and x",
        "x or x",
        "x is x",
        "x is not x",
        "x in x",
        "x not in x",
        "[x]",
        "{x}",
        "{x: x}",
        "(x,)",
        "()",
        "x[0]",
        "x[::-1]",
        "await x",
        "(yield x)",
        "a.b.c",
        "\x00",
        "x\x00",
        "\x7f",
        "",
        " ",
        "\t",
        "\\",
        "#",
        "'",
        '"',
        "`x`",
        "$x",
        "x!",
        "x?",
        "sys.modules",
        "os.environ",
        "Symbol('x')",
        "S('x')",
        "Function('f')(x)",
        "Lambda(x, x)(x)",
        "piecewise((x, x > 0))",
        "piecewise(x)",
        "piecewise((x, x > 0), (1, x < 0))",
        "where(x > 0, x)",
        "where(x, x, x)",
        "max(x)",
        "max(" + ", ".join(["x"] * 9) + ")",
        "min()",
        "exp()",
        "exp(x, x)",
        "x > 0",
        "0 < x",
        "x == x",
        "where(x > 0 > x > 0 > x, 1, 0)",
        "where(x if x > 0 else x > 1, 1, 0)",
        "beta.__class__",
        "beta()",
        "beta[0]",
        "x(beta)",
        "pi()",
        "e.real",
    ]


def test_fixed_hostile_corpus(sentinel):
    outcomes = {}
    for formula in hostile_corpus(str(sentinel)):
        outcomes[formula] = check(formula)
        if outcomes[formula].startswith("ok:"):  # the accepted ones also go through define()
            check(formula, full=True)
    ok = [f for f, o in outcomes.items() if o.startswith("ok:")]
    # Every one of these is code, not arithmetic, except a handful of harmless spellings.
    assert set(ok) <= {
        "+x" * 400,
        "x" + "+x" * 499,
        "exp(" * 100 + "x" + ")" * 100,
        "x\t+ 1",
        "x\n",
        "x\r\n",
        "x # comment",
        "(" * 199 + "x" + ")" * 199,
        "-" * 999 + "x",
        "sin(1e300)",
        "where(x > 0 > x > 0 > x, 1, 0)",
        "erf(10**300)",
    }, ok
    assert not sentinel.exists()


def test_rejections_are_fast_for_huge_inputs():
    for formula in (
        "exp(" * 5000 + "x" + ")" * 5000,
        "9**9**9",
        "(x**(10**300))**(10**300)",
        "10**10**10",
        "x" * 100000,
        "(" * 100000,
        "1" * 100000,
        "-" * 100000 + "x",
    ):
        t = time.perf_counter()
        assert check(formula).startswith("rejected:")
        assert time.perf_counter() - t < 1.0


# --- hypothesis ----------------------------------------------------------------------------------

TOKENS = [
    "x",
    "beta",
    "y",
    "e",
    "pi",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "softplus",
    "where",
    "piecewise",
    "max",
    "sqrt",
    "__import__",
    "__class__",
    "__bases__",
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "os",
    "system",
    "eval",
    "exec",
    "open",
    "lambda",
    "import",
    "getattr",
    "sympy",
    "Symbol",
    "True",
    "None",
    "if",
    "else",
    "and",
    "or",
    "not",
    "for",
    "in",
    "is",
    "yield",
    "await",
    "async",
    "def",
    "class",
    "return",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    ";",
    "=",
    ":=",
    "+",
    "-",
    "*",
    "/",
    "**",
    "//",
    "%",
    "@",
    "~",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "'",
    '"',
    "f'",
    "b'",
    "\\",
    "#",
    "\n",
    " ",
    "0",
    "1",
    "2.5",
    "9",
    "1e308",
    "1e-308",
    "10**400",
    "9**9**9",
    "1j",
    "...",
    "'touch PWNED'",
]


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_token_soup(sentinel, formula):
    check(formula)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup_glued(sentinel, formula):
    check(formula)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=120))
def test_arbitrary_unicode(sentinel, formula):
    check(formula)


def _valid_expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.just("x"),
        st.just("beta"),
        st.just("pi"),
        st.integers(-1000, 1000).map(str),
        st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    )
    unary = [n for n, spec in FUNCTIONS.items() if spec[0] <= 1 <= spec[1] and n not in ("piecewise",)]

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(unary), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(children, children).map(lambda t: f"max({t[0]}, {t[1]})"),
            st.tuples(
                children, st.sampled_from(["<", ">", "<=", ">=", "==", "!="]), children, children, children
            ).map(lambda t: f"where({t[0]} {t[1]} {t[2]}, {t[3]}, {t[4]})"),
            children.map(lambda c: f"-{c}"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(_valid_expressions())
def test_grammar_expressions_parse_and_evaluate(sentinel, formula):
    out = check(formula)
    if out.startswith("ok:"):  # accepted: the compiled function runs on arrays without raising
        expr = parse(formula, ["beta"])
        fn = _compile(expr, ["beta"])
        from actlab.core.backend import namespace

        with np.errstate(all="ignore"):
            fn(np.linspace(-3, 3, 7), namespace("numpy"), {"beta": 1.0})


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(_valid_expressions())
def test_grammar_expressions_define(sentinel, formula):
    check(formula, full=True)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(["x * tanh(softplus(x))", "where(x > 0, x, beta * x)", "max(x, 0) + sigmoid(beta * x)"]),
    st.integers(0, 40),
    st.sampled_from(
        TOKENS
        + ["__import__('os').system('touch PWNED')", "().__class__", "lambda: 0", "[0]", ".real", "(x)"]
    ),
)
def test_mutations_of_valid_formulas(sentinel, base, where, insert):
    i = min(where, len(base))
    check(base[:i] + insert + base[i:])


def test_nothing_leaked_into_the_registry():
    assert all(not n.startswith("formula_") or actlab.get(n).family == "user" for n in actlab.names())
