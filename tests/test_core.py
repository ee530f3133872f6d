"""The registry, the bound Activation, errors, and import hygiene."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import actlab
from actlab.core import ActivationSpec, Param, Properties


def test_catalog_is_large_and_has_every_seed_function():
    names = actlab.names()
    assert len(names) >= 80, len(names)
    seed = ["binary_step", "linear", "identity", "sigmoid", "tanh", "arctan", "relu", "leaky_relu",
            "prelu", "elu", "selu", "softplus", "silu", "softmax", "maxout"]
    for name in seed:
        assert actlab.spec(name).name == name


def test_aliases_resolve_case_and_dash_insensitively():
    assert actlab.get("swish").name == "silu"
    assert actlab.get("Leaky-ReLU").name == "leaky_relu"
    assert actlab.get("logistic").name == "sigmoid"


def test_unknown_name_suggests_closest_names():
    with pytest.raises(actlab.UnknownActivationError) as e:
        actlab.get("reluu")
    assert "relu" in e.value.suggestions
    assert "did you mean" in str(e.value)
    assert isinstance(e.value, KeyError)


def test_leaky_relu_default_and_any_slope():
    x = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(actlab.get("leaky_relu")(x), [-0.02, 3.0])
    np.testing.assert_array_equal(actlab.get("leaky_relu", negative_slope=-0.5)(x), [1.0, 3.0])


def test_parameter_errors_name_parameter_range_and_value():
    with pytest.raises(actlab.ParameterError, match=r"'n' must lie in \(0, inf\), got -1.0"):
        actlab.get("relu_n", n=-1.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        actlab.get("relu", alpha=1.0)
    with pytest.raises(ValueError, match="real number"):
        actlab.get("leaky_relu", negative_slope="big")
    with pytest.raises(ValueError, match="min_val < max_val"):
        actlab.get("hardtanh", min_val=2.0, max_val=1.0)


def test_bound_activation_value_semantics():
    a = actlab.get("leaky_relu", negative_slope=0.2)
    assert repr(a) == "Activation('leaky_relu', negative_slope=0.2)"
    assert a == actlab.get("lrelu", negative_slope=0.2)
    assert a != actlab.get("leaky_relu")
    assert a.with_params(negative_slope=0.01) == actlab.get("leaky_relu")
    assert len({a, actlab.get("leaky_relu", negative_slope=0.2)}) == 1


def test_catalog_filters():
    bounded = actlab.names(bounded=True)
    assert "sigmoid" in bounded and "relu" not in bounded
    assert set(actlab.names(family="rectified")) >= {"relu", "leaky_relu"}
    assert all(actlab.spec(n).learnable for n in actlab.names(learnable=True))
    with pytest.raises(actlab.ActlabError, match="valid families"):
        actlab.names(family="nope")
    with pytest.raises(actlab.ActlabError, match="valid filters"):
        actlab.names(shiny=True)


def test_formula_latex_and_derivative_formula():
    sig = actlab.get("sigmoid")
    assert "e^{- x}" in sig.formula
    assert sig.derivative_formula.startswith("f'(x) =")


def test_lists_and_python_scalars_are_accepted():
    relu = actlab.get("relu")
    np.testing.assert_array_equal(relu([-1, 2]), [0.0, 2.0])
    assert float(relu(-3.0)) == 0.0


def test_user_registration_round_trip():
    spec = ActivationSpec(
        name="test_double", family="linear", description="2x",
        forward=lambda x, o, k: k * x, derivative=lambda x, y, o, k: 0 * x + k,
        expression="k*x", params=(Param("k", 2.0),),
        properties=Properties(range=(-math.inf, math.inf), monotonic=True, smoothness=3, zero_centred=True),
        paper="test",
    )
    actlab.register(spec)
    try:
        assert float(actlab.get("test_double")(3.0)) == 6.0
        with pytest.raises(actlab.ActlabError, match="already registered"):
            actlab.register(spec)
    finally:
        actlab.unregister("test_double")
    assert "test_double" not in actlab.names()


def test_import_loads_neither_torch_nor_jax_nor_heavy_libraries():
    code = ("import sys, actlab; heavy = {'torch', 'jax', 'sympy', 'scipy', 'matplotlib', 'ray', "
            "'mlflow'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
