"""The examples in actlab.analysis docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["__init__", "quadrature", "derived", "init", "meanfield", "selfnorm", "dying", "diagnostics"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in ("init", "diagnostics"):
        pytest.importorskip("torch")
    mod = importlib.import_module("actlab.analysis" if name == "__init__" else f"actlab.analysis.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
