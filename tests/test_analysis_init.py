"""Init gains (second-moment preserving) and init_ on models."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import actlab.analysis as aa
from actlab.analysis import init as init_mod


def test_gain_agrees_with_torch_where_torch_derives_it():
    torch = pytest.importorskip("torch")
    assert aa.init_gain("relu") == pytest.approx(torch.nn.init.calculate_gain("relu"), rel=1e-14)
    for a in (0.01, 0.2, 0.5, 1.0):
        assert aa.init_gain("leaky_relu", negative_slope=a) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", a), rel=1e-12
        )
    assert aa.init_gain("identity") == pytest.approx(1.0, rel=1e-15)


def test_torch_column_is_torchs_own():
    torch = pytest.importorskip("torch")
    for name, key in (
        ("relu", "relu"),
        ("tanh", "tanh"),
        ("selu", "selu"),
        ("sigmoid", "sigmoid"),
        ("identity", "linear"),
    ):
        assert aa.torch_gain(name) == pytest.approx(torch.nn.init.calculate_gain(key), rel=1e-15)
    assert aa.torch_gain("leaky_relu", negative_slope=0.3) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.3), rel=1e-15
    )
    assert aa.torch_gain("gelu") is None


def test_documented_table_matches_computed_values():
    rows = re.findall(r"^(\w+)\s+(\d\.\d{5})\s", init_mod.__doc__, flags=re.M)
    assert len(rows) >= 6
    for name, value in rows:
        assert aa.init_gain(name) == pytest.approx(float(value), abs=6e-6), name
    assert aa.init_gain("selu") == pytest.approx(1.0, abs=1e-12)  # SELU's fixed point: E selu(z)^2 = 1


def test_gain_is_one_over_root_second_moment():
    for name in ("tanh", "gelu", "softplus", "hardswish"):
        m2 = aa.moments(name).second_moment
        assert aa.init_gain(name) == pytest.approx(1 / math.sqrt(m2), rel=1e-14)


def test_no_gain_where_the_second_moment_is_undefined():
    with pytest.raises(ValueError, match="no finite gain"):
        aa.init_gain("log1mexp")  # nan below 0


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "tanh", "selu", "elu", "softplus", "sigmoid"])
def test_right_gain_preserves_second_moment_over_30_layers(name):
    p = aa.propagate(name, depth=30, width=256, init="gain", seed=1, with_mean_field=False)
    r = p.log2_ratio  # log2(q_{l+1} / q_l) of pre-activation second moments
    assert abs(r.mean()) < 0.1, r
    assert np.all(np.abs(r) < 0.5), r


def test_one_over_n_halves_relu_signal_every_layer():
    p = aa.propagate("relu", depth=30, width=256, init="lecun", seed=1, with_mean_field=False)
    assert p.log2_ratio.mean() == pytest.approx(-1.0, abs=0.1)


def test_gelu_silu_gain_point_is_an_unstable_fixed_point():
    # E[f(sqrt(q) z)^2] * gain^2 = 1 at q = 1, but the map's slope there exceeds 1: fluctuations grow
    from actlab.analysis.meanfield import _Act, _chi_q

    for name in ("gelu", "silu"):
        a = _Act(name, "test")
        assert aa.variance_map(a, 1.0, aa.init_gain(name)) == pytest.approx(1.0, rel=1e-12)
        assert _chi_q(a, aa.init_gain(name), 1.0) > 1.1
    for name in ("tanh", "selu"):
        assert _chi_q(_Act(name, "test"), aa.init_gain(name), 1.0) < 0.9


# --- init_ on models -----------------------------------------------------------------------------

torch = pytest.importorskip("torch")
nn = torch.nn


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2, self.fc3 = (
            nn.Linear(64, 256),
            nn.BatchNorm1d(256),
            nn.Linear(256, 256),
            nn.Linear(256, 3),
        )

    def forward(self, x):
        x = torch.nn.functional.leaky_relu(self.bn(self.fc1(x)), 0.2)
        return self.fc3(torch.tanh(self.fc2(x)))


class Dynamic(nn.Module):  # not traceable by torch.fx: falls back to module order
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(8, 16), nn.SiLU(), nn.Linear(16, 2)

    def forward(self, x):
        if x.sum() > 0:
            x = -x
        return self.fc2(self.act(self.fc1(x)))


def test_init_follows_data_flow_through_norms_and_functions():
    rep = aa.init_(Functional(), generator=torch.Generator().manual_seed(0))
    assert rep.method == "fx"
    got = {r.path: (r.activation, r.gain) for r in rep}
    assert got["fc1"] == ("leaky_relu", pytest.approx(aa.init_gain("leaky_relu", negative_slope=0.2)))
    assert got["fc2"] == ("tanh", pytest.approx(aa.init_gain("tanh")))
    assert got["fc3"] == ("identity", 1.0)


def test_init_module_order_fallback_and_weights_have_the_stated_std():
    model = Dynamic()
    rep = aa.init_(model, generator=torch.Generator().manual_seed(0))
    assert rep.method == "module-order"
    assert [(r.path, r.activation) for r in rep] == [("fc1", "silu"), ("fc2", "identity")]
    big = nn.Sequential(nn.Linear(400, 400), nn.GELU(), nn.Linear(400, 400))
    for dist in ("normal", "uniform"):
        rep = aa.init_(big, distribution=dist, bias=0.1, generator=torch.Generator().manual_seed(1))
        w = big[0].weight.detach()
        assert w.std().item() == pytest.approx(aa.init_gain("gelu") / 20.0, rel=0.01)
        assert torch.all(big[0].bias == 0.1)
        assert rep.layers[0].std == pytest.approx(aa.init_gain("gelu") / 20.0)


def test_init_keeps_activations_at_unit_second_moment_in_a_real_model():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [nn.Linear(256, 256), nn.Tanh()]
    model = nn.Sequential(*layers)
    aa.init_(model, generator=torch.Generator().manual_seed(0))
    h = torch.tanh(torch.randn(512, 256))  # the inputs a tanh layer would pass on
    q = []
    with torch.no_grad():
        for m in model:
            h = m(h)
            if isinstance(m, nn.Linear):
                q.append(h.pow(2).mean().item())
    assert np.allclose(q, 1.0, atol=0.1), q


def test_init_exposed_through_actlab_torch_and_bad_arguments():
    import actlab.torch as at

    assert at.init_ is aa.init_
    with pytest.raises(TypeError, match="nn.Module"):
        aa.init_(object())
    with pytest.raises(ValueError, match="mode"):
        aa.init_(nn.Linear(2, 2), mode="fan_avg")
    assert "fc1" in str(aa.init_(Functional())) and aa.init_(Functional()).as_dict()["method"] == "fx"
