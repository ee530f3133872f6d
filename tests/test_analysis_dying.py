"""Born-dead probability of ReLU nets: closed form for one point against Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

import actlab.analysis as aa


def test_closed_form():
    assert aa.born_dead_probability(2, 5) == 1 - 0.75**5
    assert aa.born_dead_probability([3, 3, 2]) == 1 - (7 / 8) ** 2 * 0.75
    assert aa.born_dead_probability(1, 1) == 0.5
    # deeper is deadlier (Lu et al. 2019: -> 1 as depth -> inf), wider is safer
    assert aa.born_dead_probability(4, 200) > 0.99 > aa.born_dead_probability(16, 200)
    with pytest.raises(ValueError):
        aa.born_dead_probability(3)


@pytest.mark.parametrize(
    "width,depth,weights,bias",
    [
        (2, 5, "normal", "zero"),
        (3, 10, "uniform", "normal"),
        (1, 3, "laplace", "uniform"),
        ([4, 2, 3], None, "normal", "normal"),
    ],
)
def test_monte_carlo_agrees_with_the_closed_form_within_its_standard_error(width, depth, weights, bias):
    x = np.random.default_rng(0).normal(size=(4, 3))
    r = aa.born_dead_monte_carlo(x, width, depth, trials=40000, weights=weights, bias=bias, seed=7)
    z = (r.dead_at_point - r.analytic_point) / r.dead_at_point_se
    assert np.all(np.abs(z) < 4.0), z
    # a set of points is at least as hard to keep alive: dead everywhere <= dead at any one point
    assert r.collapsed <= r.dead_everywhere + 1e-12 <= r.dead_at_point.min() + 1e-12
    assert r.as_dict()["trials"] == 40000


def test_zero_input_without_bias_is_refused():
    with pytest.raises(ValueError, match="dead by construction"):
        aa.born_dead_monte_carlo([[0.0, 0.0]], 2, 2)
