"""Every elementwise catalog entry's declared metadata against what actlab.analysis derives.

Parametrised over the registry (vector-valued entries are checked by their own tests): range
(rel 1e-7), bounded above / below, monotonic, smoothness class, zero-centring (|E f| <= 0.05
sqrt(E f^2), z ~ N(0, 1)), and the kinks with the gradient there. A failure names the field, the
declared value and the derived one; the derived values are themselves tested on functions whose
properties are known exactly in tests/test_analysis_properties.py.
"""

from __future__ import annotations

import pytest

import actlab
from actlab.analysis import check_metadata, properties

NAMES = actlab.names(kind="elementwise")


@pytest.mark.parametrize("name", NAMES)
def test_declared_metadata_agrees_with_derived_properties(name):
    derived = properties(name)
    bad = check_metadata(name, derived)
    assert not bad, f"{name}: " + "; ".join(str(b) for b in bad)


@pytest.mark.parametrize("name", NAMES)
def test_kink_gradients_are_what_the_derivative_returns(name):
    import numpy as np

    act = actlab.get(name)
    for k in properties(name).kinks:
        got = float(act.derivative(np.array([k.at]))[0])
        assert got == k.grad or (np.isnan(got) and np.isnan(k.grad)), (name, k)
