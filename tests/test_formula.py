"""Activations defined by formula: parsing, derivative, backends, derived properties, numerical trouble."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import actlab
from actlab import ActlabError, FormulaError
from actlab.functions.formula import (
    FUNCTIONS,
    NumericalWarning,
    check_numerics,
    define,
    formula_info,
    parse,
)


@pytest.fixture(autouse=True)
def _restore_registry():
    """Activations defined by a test (e.g. through --formula) do not outlive it."""
    before = set(actlab.names())
    yield
    for name in set(actlab.names()) - before:
        actlab.unregister(name, missing_ok=True)


@pytest.fixture
def fresh():
    """Names defined in a test are unregistered afterwards."""
    names: list[str] = []

    def make(formula, name=None, **kw):
        kw.setdefault("warn", False)
        act = define(formula, name=name, **kw)
        names.append(act.name)
        return act

    yield make
    for n in names:
        actlab.unregister(n, missing_ok=True)


X = np.array([-40.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 20.0])


def _mp(formula: str, x: float, **params: float) -> float:
    """An independent reference: mpmath on the formula (trusted text here), at 40 digits."""
    import mpmath

    env = {
        "x": mpmath.mpf(x),
        "exp": mpmath.exp,
        "log": mpmath.log,
        "tanh": mpmath.tanh,
        "erf": mpmath.erf,
        "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
        "softplus": lambda t: mpmath.log1p(mpmath.exp(t)),
        "sqrt": mpmath.sqrt,
        "atan": mpmath.atan,
        "expm1": mpmath.expm1,
        **{k: mpmath.mpf(v) for k, v in params.items()},
    }
    with mpmath.workdps(40):
        return float(eval(formula, {"__builtins__": {}}, env))  # noqa: S307 - test-only, fixed strings


@pytest.mark.parametrize(
    ("formula", "params"),
    [
        ("x * tanh(softplus(x))", {}),
        ("x * sigmoid(beta * x)", {"beta": 1.7}),
        ("x * erf(x)", {}),
        ("atan(x) + x / 2", {}),
        ("softplus(x) - log(2)", {}),
        ("expm1(x) / (1 + x**2)", {}),
    ],
)
def test_values_match_an_independent_reference(fresh, formula, params):
    act = fresh(formula, params=params)
    y = act(X)
    ref = np.array([_mp(formula, v, **params) for v in X])
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-300)


def test_define_registers_like_a_catalog_entry(fresh):
    act = fresh("x * tanh(softplus(x))", name="my_mish", params={"beta": 1.0})
    assert isinstance(act, actlab.Activation)
    assert act.family == "user" and "my_mish" in actlab.names() and "my_mish" in actlab.names(family="user")
    assert actlab.get("my_mish").spec is act.spec
    assert act.params == {"beta": 1.0}  # declared even where unused
    np.testing.assert_allclose(act(X), actlab.get("mish")(X), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(act.derivative(X), actlab.get("mish").derivative(X), rtol=1e-12, atol=1e-300)
    d = act.describe()
    assert d["family"] == "user" and "defined by formula" in d["notes"].lower()


def test_derivative_agrees_with_sympy_and_finite_differences(fresh):
    import sympy

    act = fresh("x * sigmoid(beta * x) + 0.1 * sin(x)", params={"beta": 1.3})
    x = np.linspace(-6, 6, 61)
    e = act.spec.sympy(beta=1.3)  # the stored expression text, parsed back by the core
    xs = sympy.Symbol("x", real=True)
    d = sympy.lambdify(xs, sympy.diff(e, xs), "mpmath")
    ref = np.array([float(d(v)) for v in x])
    np.testing.assert_allclose(act.derivative(x), ref, rtol=1e-12, atol=1e-14)
    h = 1e-6
    fd = (act(x + h) - act(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), fd, rtol=1e-6, atol=1e-8)


def test_expression_text_round_trips_through_the_core(fresh):
    act = fresh("where(x > 0, x, alpha * expm1(x)) + log1p(x**2) / 10", params={"alpha": 0.7})
    f = act.spec.sympy(alpha=0.7)
    import sympy

    fn = sympy.lambdify(sympy.Symbol("x", real=True), f, "mpmath")
    for v in (-3.0, -0.5, 0.0, 0.25, 2.0):
        assert float(fn(v)) == pytest.approx(float(act(np.array(v))), rel=1e-13, abs=1e-15)


def test_backends_agree_torch():
    torch = pytest.importorskip("torch")
    act = define(
        "x * tanh(softplus(x)) + where(x > 1, x - 1, 0) * beta",
        name="t_torch_mix",
        params={"beta": 0.5},
        warn=False,
    )
    try:
        x = np.linspace(-8, 8, 33)
        xt = torch.tensor(x, requires_grad=True)
        yt = act(xt)
        assert yt.dtype == torch.float64
        np.testing.assert_allclose(yt.detach().numpy(), act(x), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            act.derivative(xt).detach().numpy(), act.derivative(x), rtol=1e-12, atol=1e-15
        )
        away = np.abs(x - 1.0) > 1e-9  # autograd through where() at the kink is a convention
        yt.sum().backward()
        np.testing.assert_allclose(xt.grad.numpy()[away], act.derivative(x)[away], rtol=1e-10, atol=1e-12)
        assert act(torch.zeros(3, dtype=torch.float32)).dtype == torch.float32
        import actlab.torch as at

        m = at.Activation("t_torch_mix")
        np.testing.assert_allclose(m(torch.tensor(x)).detach().numpy(), act(x), rtol=1e-12, atol=1e-15)
    finally:
        actlab.unregister("t_torch_mix")


def test_backends_agree_jax():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    act = define("x * erf(x / sqrt(2)) / 2 + x / 2", name="t_jax_gelu", warn=False)
    try:
        x = np.linspace(-6, 6, 25, dtype=np.float32)
        y = np.asarray(act(jnp.asarray(x)))
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, actlab.get("gelu")(x), rtol=2e-6, atol=5e-6)  # cancellation for x < 0
        g = np.asarray(jax.vmap(jax.grad(lambda v: act(v)))(jnp.asarray(x)))
        np.testing.assert_allclose(g, act.derivative(x), rtol=1e-5, atol=1e-6)
    finally:
        actlab.unregister("t_jax_gelu")


def test_dtype_policy_nan_and_inf(fresh):
    act = fresh("where(x > 0, x, 0.1 * x) + tanh(x)")
    assert act(np.ones(3, dtype=np.float32)).dtype == np.float32
    assert act(np.arange(3)).dtype == np.float64  # integers promoted
    y = act(np.array([np.nan, np.inf, -np.inf]))
    assert math.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf
    assert math.isnan(act.derivative(np.array([np.nan]))[0])
    with pytest.raises(TypeError, match=act.name):
        act(np.array([1j]))
    const = fresh("2")
    assert const(np.zeros(4, dtype=np.float32)).tolist() == [2.0] * 4
    assert const.derivative(np.zeros(2)).tolist() == [0.0, 0.0]


def test_no_floating_point_warnings_escape(fresh):
    act = fresh("log(1 + exp(x)) + 1 / x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        act(np.array([-1e4, 0.0, 1e4, np.inf, -np.inf, np.nan]))
        act.derivative(np.array([-1e4, 0.0, 1e4, np.inf]))


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        (
            "max(x, 0)",
            {
                "range": (0.0, math.inf),
                "monotonic": True,
                "smoothness": 0,
                "kinks": [(0.0, 0.0)],
                "piecewise_linear": True,
                "zero_centred": False,
            },
        ),
        (
            "where(x > 0, x, 0.2 * x)",
            {"range": (-math.inf, math.inf), "smoothness": 0, "kinks": [(0.0, 0.2)]},
        ),
        ("clip(x, -1, 1)", {"range": (-1.0, 1.0), "zero_centred": True, "kinks": [(-1.0, 0.0), (1.0, 0.0)]}),
        ("x if x > 0 else expm1(x)", {"range": (-1.0, math.inf), "smoothness": 1, "kinks": []}),
        ("x * sigmoid(x)", {"monotonic": False, "smoothness": 3, "piecewise_linear": False}),
        ("tanh(x)", {"range": (-1.0, 1.0), "monotonic": True, "zero_centred": True, "smoothness": 3}),
        ("heaviside(x)", {"range": (0.0, 1.0), "smoothness": -1}),
        ("exp(-x**2)", {"range": (0.0, 1.0), "monotonic": False}),
    ],
)
def test_derived_properties(fresh, formula, expected):
    act = fresh(formula)
    p = act.properties
    for key, want in expected.items():
        if key == "range":
            assert p.range[0] == pytest.approx(want[0], abs=1e-9) and p.range[1] == pytest.approx(
                want[1], abs=1e-9
            )
        elif key == "kinks":
            got = [v for k in p.kinks for v in (k.at, k.grad)]
            assert got == pytest.approx([v for pair in want for v in pair])
        elif key == "piecewise_linear":
            assert act.spec.piecewise_linear is want
        else:
            assert getattr(p, key) == want, key


@pytest.mark.parametrize(
    "formula",
    [
        "x * tanh(softplus(x))",
        "max(x, 0)",
        "where(x > 0, x, 0.1*x)",
        "x if x > 0 else expm1(x)",
        "clip(x, -1, 1)",
        "atan(x)",
        "abs(x)",
        "x - tanh(x)",
        "erf(x)",
        "x**3",
        "piecewise((x, x > 1), (0, x < -1), (x**2, True))",
        "exp(-x**2)",
        "x * sigmoid(1.702 * x)",
    ],
)
def test_declared_properties_agree_with_actlab_analysis(fresh, formula):
    from actlab import analysis

    act = fresh(formula)
    assert analysis.check_metadata(act) == []


def test_works_with_analysis_and_plot(fresh, tmp_path):
    act = fresh("x * sigmoid(x)", name="t_plot_swish")
    import actlab.plot as ap

    fig = ap.curves(["t_plot_swish", "silu"], derivative=True)
    lines = {ln.get_gid(): ln for ln in fig.axes[0].get_lines() if ln.get_gid()}
    np.testing.assert_allclose(lines["t_plot_swish|f"].get_ydata(), lines["silu|f"].get_ydata(), rtol=1e-12)
    from actlab import analysis

    assert analysis.init_gain(act) == pytest.approx(analysis.init_gain("silu"), rel=1e-6)


# --- names, parameters, registration ------------------------------------------------------------


def test_idempotent_and_replace(fresh):
    a = fresh("x * tanh(x)", name="t_idem")
    b = define("x * tanh(x)", name="t_idem", warn=False)
    assert a.spec is b.spec
    with pytest.raises(ActlabError, match="already defined"):
        define("x * sin(x)", name="t_idem", warn=False)
    c = define("x * sin(x)", name="t_idem", replace=True, warn=False)
    assert c.spec is not a.spec and actlab.get("t_idem").spec is c.spec
    with pytest.raises(ActlabError, match="catalog"):
        define("x", name="relu", warn=False)
    with pytest.raises(ActlabError, match="catalog"):
        define("x", name="relu", replace=True, warn=False)
    assert actlab.get("relu").family == "rectified"


def test_auto_name_and_unregistered(fresh):
    a = fresh("x * tanh(x)")
    assert a.name.startswith("formula_")
    assert fresh("x * tanh(x)").spec is a.spec  # same formula, same name
    b = define("x * cos(x)", name="t_unreg", register=False, warn=False)
    assert "t_unreg" not in actlab.names()
    assert formula_info(b) is not None and b(np.array([0.0]))[0] == 0.0


def test_parameter_specs(fresh):
    from actlab import Param

    act = fresh(
        "a * x + b",
        params={
            "a": Param("a", 2.0, low=0.0, learnable=True),
            "b": {"default": 0.5, "high": 1.0, "doc": "offset"},
        },
    )
    assert act(np.array([1.0]))[0] == 2.5
    assert act.spec.params[0].learnable and not act.spec.params[1].learnable
    assert act.spec.params[1].doc == "offset"
    with pytest.raises(actlab.ParameterError, match="'a'"):
        act.with_params(a=-1.0)
    assert fresh("beta * x", params={"beta": 1.0}, learnable=True).spec.learnable
    with pytest.raises(FormulaError, match="outside"):
        define("a * x", params={"a": {"default": 5.0, "high": 1.0}})
    for bad in ("x", "exp", "_a", "a b", "lambda", "pi", 3):
        with pytest.raises(FormulaError, match="parameter name"):
            define("x", params={bad: 1.0})
    with pytest.raises(FormulaError, match="finite"):
        define("a * x", params={"a": float("nan")})
    with pytest.raises(FormulaError, match="invalid activation name"):
        define("x", name="9lives")


# --- parser errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "position", "match"),
    [
        ("x +", 3, "syntax error"),
        ("exp(x", 3, "syntax error"),
        ("x * tanhh(x)", 4, "did you mean 'tanh'"),
        ("x * y", 4, "unknown name 'y'"),
        ("x.real", 0, "attribute"),
        ("x[0]", 0, "subscript"),
        ("x ^ 2", 0, r"\*\* for a power"),
        ("exp(x, y=1)", 9, "keyword"),
        ("1 / 0", 0, "divides by zero"),
        ("x > 0", 0, "condition"),
        ("where(x, 1, 0)", 6, "comparison"),
        ("9**9**9", 0, "too large"),
        ("ｅｘｐ(x)", 0, "ASCII"),
        ("max(x)", 0, "2 to 8"),
    ],
)
def test_errors_point_at_the_position(formula, position, match):
    with pytest.raises(FormulaError, match=match) as e:
        parse(formula)
    assert e.value.formula == formula
    assert e.value.position == position
    lines = str(e.value).splitlines()
    assert lines[1].strip() == formula and lines[2].index("^") - 2 == position  # the caret under the spot


def test_grammar_features():
    import sympy

    x = sympy.Symbol("x", real=True)
    assert parse("x if x > 0 else -x") == sympy.Piecewise((x, x > 0), (-x, True))
    assert parse("piecewise((1, x > 1), (x, x > -1), (-1, True))").is_Piecewise
    assert parse("where((x > 0) and (x < 1), x, 0)").has(sympy.And)
    assert parse("where(not x > 0, 0, x)").is_Piecewise
    assert parse("where(0 < x < 1, x, 0)").has(sympy.And)
    assert parse("pi * e * x") == sympy.pi * sympy.E * x
    assert parse("  x  ") == x
    assert len(FUNCTIONS) >= 30
    for name in (
        "exp",
        "log",
        "log1p",
        "expm1",
        "tanh",
        "sigmoid",
        "softplus",
        "erf",
        "abs",
        "max",
        "min",
        "sqrt",
        "sin",
        "cos",
        "where",
        "piecewise",
    ):
        assert name in FUNCTIONS


# --- numerical trouble -------------------------------------------------------------------------


def test_naive_softplus_overflow_is_reported(fresh):
    with pytest.warns(NumericalWarning, match=r"overflows in float64 for x in \[7\d\d") as w:
        act = fresh("log(1 + exp(x))", check_range=(-800, 800), warn=True)
    assert "softplus" in str(w[0].message)  # the hint
    info = formula_info(act)
    f64 = [i for i in info.issues if i.what == "f" and i.dtype == "float64" and i.kind == "overflow"]
    assert len(f64) == 1 and 709 < f64[0].lo < 712 and f64[0].hi == 800
    f32 = [i for i in info.issues if i.what == "f" and i.dtype == "float32" and i.kind == "overflow"]
    assert f32 and 88 < f32[0].lo < 91
    # the stable spelling has no trouble at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stable = fresh("softplus(x)", check_range=(-800, 800), warn=True)
    assert formula_info(stable).issues == []


def test_cancellation_is_reported_with_a_hint(fresh):
    with pytest.warns(NumericalWarning, match="expm1"):
        act = fresh("(exp(x) - 1) / x", warn=True)
    kinds = {(i.what, i.kind) for i in formula_info(act).issues}
    assert ("f", "nan") in kinds and ("f", "precision") in kinds  # nan at 0; precision lost near 0
    near = [i for i in formula_info(act).issues if i.kind == "precision" and i.dtype == "float64"]
    assert all(abs(i.lo) < 1e-3 and abs(i.hi) < 1e-3 for i in near)


def test_check_numerics_on_other_ranges_and_catalog_entries(fresh):
    act = fresh("exp(x)", check_range=None)
    assert formula_info(act).issues == []
    issues = check_numerics(act, (-10, 100))
    assert any(i.dtype == "float32" and i.kind == "overflow" and 88 < i.lo < 89.5 for i in issues)
    assert not [i for i in issues if i.dtype == "float64"]
    assert check_numerics("tanh", (-50, 50)) == []
    with pytest.raises(ActlabError):
        check_numerics(act, (1, 1))


def test_define_is_fast_enough(fresh):
    import time

    fresh("x")  # imports
    t = time.perf_counter()
    fresh("x * tanh(softplus(x)) + where(x > 1, x, 0)")
    assert time.perf_counter() - t < 20  # generous: a loaded CI machine; typically well under a second


def test_symbolic_work_has_a_time_limit(monkeypatch):
    import signal
    import threading

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        pytest.skip("no SIGALRM timer here")
    import actlab.functions.formula as fm

    monkeypatch.setattr(fm, "TIME_LIMIT", 0.001)
    nested = "x"
    for i in range(10):
        nested = f"where(x > {i}, max({nested}, {i}), exp(x) * {i})"
    with pytest.raises(FormulaError, match="too complex"):
        define(nested, register=False, check_range=None)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)  # restored
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
