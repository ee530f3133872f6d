"""Self-normalizing solver: SELU's constants, the moment map and its Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

import actlab
import actlab.analysis as aa

ALPHA, LAMBDA = 1.6732632423543772, 1.0507009873554805  # Klambauer et al. 2017


def test_solver_reproduces_selu_constants_to_1e_9():
    s = aa.self_normalizing("elu")
    assert s.param == "alpha"
    assert abs(s.alpha - ALPHA) < 1e-9
    assert abs(s.scale - LAMBDA) < 1e-9
    assert abs(s.mean) < 1e-14 and abs(s.variance - 1) < 1e-14


def test_closed_form_matches_published_constants_and_the_catalog():
    a, lam = aa.selu_constants()
    assert abs(float(a) - ALPHA) < 1e-15 and abs(float(lam) - LAMBDA) < 1e-15
    selu = actlab.get("selu")
    assert selu.params["alpha"] == pytest.approx(float(a), rel=1e-15)
    assert selu.params["scale"] == pytest.approx(float(lam), rel=1e-15)


def test_jacobian_at_the_fixed_point_and_its_spectral_norm():
    s = aa.self_normalizing("elu")
    # at normalized weights (omega = 0) nothing depends on the incoming mean
    assert s.jacobian[0, 0] == 0 and s.jacobian[1, 0] == 0
    assert s.spectral_norm == pytest.approx(np.linalg.norm(s.jacobian, 2))
    assert s.spectral_norm == pytest.approx(0.7877, abs=5e-5)  # Klambauer et al.: 0.7877 < 1
    assert s.attracting and "spectral norm" in str(s) and s.as_dict()["attracting"]


@pytest.mark.parametrize(
    "mu,nu,omega,tau", [(0.0, 1.0, 0.0, 1.0), (0.1, 0.9, 0.05, 1.05), (-0.2, 1.3, -0.1, 0.95)]
)
def test_jacobian_matches_finite_differences(mu, nu, omega, tau):
    j = aa.moment_map_jacobian("selu", mu, nu, omega, tau)
    h = 1e-6
    fd = np.zeros((2, 2))
    for k, (dm, dn) in enumerate(((h, 0.0), (0.0, h))):
        up = np.array(aa.moment_map("selu", mu + dm, nu + dn, omega, tau))
        dn_ = np.array(aa.moment_map("selu", mu - dm, nu - dn, omega, tau))
        fd[:, k] = (up - dn_) / (2 * h)
    np.testing.assert_allclose(j, fd, atol=1e-8)


def test_selu_is_a_fixed_point_of_the_moment_map():
    m, v = aa.moment_map("selu", 0.0, 1.0)
    assert abs(m) < 1e-14 and abs(v - 1) < 1e-14


def test_no_solution_is_reported():
    with pytest.raises(ValueError, match="does not change sign"):
        aa.self_normalizing("celu")  # alpha (e^(x/alpha) - 1) -> x: E celu -> 0 only as alpha -> inf
    with pytest.raises(ValueError, match="no parameter"):
        aa.self_normalizing("elu", "beta")
