"""Mean-field signal propagation: maps, fixed points, chi1, edge of chaos, Monte Carlo agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

import actlab.analysis as aa


def test_variance_map_closed_forms():
    # ReLU: V(q) = sw^2 q / 2 + sb^2 ; erf(sqrt(pi)/2 x)-like check via tanh against quadrature
    for q in (0.1, 1.0, 7.0):
        assert aa.variance_map("relu", q, 1.3, 0.2) == pytest.approx(1.3**2 * q / 2 + 0.04, rel=1e-13)
    assert aa.fixed_point("relu", 1.2, 0.1) == pytest.approx(0.01 / (1 - 0.72), rel=1e-12)
    assert aa.fixed_point("relu", math.sqrt(2), 0.0, q0=3.0) == pytest.approx(3.0)  # every q is fixed
    assert aa.fixed_point("relu", 1.5, 0.1) == math.inf
    assert aa.fixed_point("relu", 1.0, 0.0) == 0.0


def test_fixed_point_is_a_fixed_point_and_attracts():
    q = aa.fixed_point("tanh", 1.5, 0.1)
    assert aa.variance_map("tanh", q, 1.5, 0.1) == pytest.approx(q, rel=1e-13)
    qq = 3.0
    for _ in range(200):
        qq = aa.variance_map("tanh", qq, 1.5, 0.1)
    assert qq == pytest.approx(q, rel=1e-10)


def test_chi1_and_edge_of_chaos():
    assert aa.chi1("relu", math.sqrt(2)) == pytest.approx(1.0, rel=1e-14)
    assert aa.edge_of_chaos("relu") == pytest.approx(math.sqrt(2), rel=1e-12)
    assert aa.edge_of_chaos("tanh") == pytest.approx(1.0, abs=1e-6)  # q* -> 0, chi1 = sw^2 tanh'(0)^2
    for sb in (0.05, 0.3):
        sw = aa.edge_of_chaos("tanh", sb)
        assert aa.chi1("tanh", sw, sb) == pytest.approx(1.0, abs=1e-9)
    # the critical line moves to larger sigma_w as sigma_b grows (Poole et al. 2016, Fig. 1)
    assert 1.0 < aa.edge_of_chaos("tanh", 0.05) < aa.edge_of_chaos("tanh", 0.3)


def test_edge_of_chaos_reports_a_jump_instead_of_a_root():
    with pytest.raises(ValueError, match="attractor switches"):
        aa.edge_of_chaos("silu", 0.0)


def test_mean_field_phases_and_depth_scales():
    ordered = aa.mean_field("tanh", 0.8, 0.1)
    chaotic = aa.mean_field("tanh", 1.5, 0.1)
    assert ordered.phase == "ordered" and ordered.c_star == 1.0 and ordered.chi_c == ordered.chi1
    assert chaotic.phase == "chaotic" and 0.0 < chaotic.c_star < 1.0 and chaotic.chi_c < 1.0
    # the correlation fixed point is one
    assert aa.correlation_map("tanh", chaotic.c_star, 1.5, 0.1) == pytest.approx(chaotic.c_star, abs=1e-9)
    # chi_q is V'(q*), by finite differences of the map
    q, h = chaotic.q_star, 1e-5
    fd = (aa.variance_map("tanh", q + h, 1.5, 0.1) - aa.variance_map("tanh", q - h, 1.5, 0.1)) / (2 * h)
    assert chaotic.chi_q == pytest.approx(fd, rel=1e-7)
    assert chaotic.xi_q == pytest.approx(-1 / math.log(chaotic.chi_q))
    assert aa.depth_scales("tanh", 1.5, 0.1)["xi_c"] == pytest.approx(chaotic.xi_c)
    assert set(chaotic.as_dict()) >= {"q_star", "chi1", "xi_q", "xi_c", "xi_grad", "phase"}


def test_monte_carlo_agrees_with_mean_field():
    p = aa.propagate("tanh", depth=20, width=512, init=(1.5, 0.1), batch=128, seed=3)
    # forward: the pre-activation second moment follows the variance map
    np.testing.assert_allclose(p.pre_second_moment[1:], p.q_mean_field[1:], rtol=0.08)
    # backward: the gradient grows by chi1 per layer on average
    assert p.grad_log2_ratio[5:].mean() == pytest.approx(np.log2(p.chi1_per_layer[5:-1]).mean(), abs=0.05)
    d = p.as_dict()
    assert len(d["pre_second_moment"]) == 21 and d["name"] == "tanh"


def test_propagate_options_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    a = aa.propagate("relu", depth=5, width=64, init="he", weights="uniform", seed=0)
    b = aa.propagate("relu", depth=5, width=64, init="critical", seed=0)
    assert a.sigma_w == pytest.approx(math.sqrt(2)) and b.sigma_w == pytest.approx(math.sqrt(2))
    fig = aa.plot_propagation([a, b])
    fig.savefig(tmp_path / "prop.png")
    assert (tmp_path / "prop.png").stat().st_size > 0
    with pytest.raises(ValueError, match="init must be"):
        aa.propagate("relu", init="orthogonal")
