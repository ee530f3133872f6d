"""Numerically derived properties, Gaussian moments, init gains, signal propagation,
self-normalizing constants, dying-ReLU probabilities and live-model diagnostics.

>>> import actlab.analysis as aa
>>> p = aa.properties("tanh")
>>> p.range, p.smoothness_name, p.zero_centred
((-1.0, 1.0), 'C∞', True)
>>> round(aa.init_gain("relu"), 12)
1.414213562373

Importing this package loads numpy only; scipy, sympy and mpmath load on first
use, torch only in :func:`init_` and :func:`diagnose`, matplotlib only to plot.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    # properties
    "properties": "derived",
    "check_metadata": "derived",
    "breakpoints": "derived",
    "DerivedProperties": "derived",
    "Discontinuity": "derived",
    "Disagreement": "derived",
    # quadrature
    "gauss_hermite": "quadrature",
    "gaussian_expectation": "quadrature",
    "gaussian_expectation_2d": "quadrature",
    "expect": "quadrature",
    "moments": "quadrature",
    "GaussianMoments": "quadrature",
    "INTEGRANDS": "quadrature",
    # init
    "init_gain": "init",
    "init_": "init",
    "torch_gain": "init",
    "InitReport": "init",
    # mean field
    "variance_map": "meanfield",
    "fixed_point": "meanfield",
    "chi1": "meanfield",
    "correlation_map": "meanfield",
    "depth_scales": "meanfield",
    "edge_of_chaos": "meanfield",
    "MeanField": "meanfield",
    "mean_field": "meanfield",
    "propagate": "meanfield",
    "Propagation": "meanfield",
    "plot_propagation": "meanfield",
    # self-normalizing
    "self_normalizing": "selfnorm",
    "SelfNormalizing": "selfnorm",
    "selu_constants": "selfnorm",
    "moment_map": "selfnorm",
    "moment_map_jacobian": "selfnorm",
    # dying relu
    "born_dead_probability": "dying",
    "born_dead_monte_carlo": "dying",
    "BornDead": "dying",
    # diagnostics
    "diagnose": "diagnostics",
    "Diagnosis": "diagnostics",
    "LayerDiagnosis": "diagnostics",
    "Monitor": "diagnostics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'actlab.analysis' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
