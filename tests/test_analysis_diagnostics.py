"""Live diagnostics: dead units found, outputs unchanged, in-place safe, hooks removed."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import actlab.analysis as aa  # noqa: E402


def make(inplace=True, dead=3):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(6, 16),
        nn.ReLU(inplace=inplace),
        nn.Linear(16, 16),
        nn.Tanh(),
        nn.Linear(16, 16),
        nn.GELU(),
        nn.Linear(16, 2),
    )
    with torch.no_grad():
        net[0].bias[:dead] = -1e3  # these units can never fire on normal inputs
    return net


def batches(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(32, 6, generator=g) for _ in range(n)]


def hooks(model):
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )


def test_deliberately_dead_units_are_reported_dead():
    net = make(dead=5)
    d = aa.diagnose(net, batches())
    relu = d["1"]
    assert relu.name == "relu" and relu.units == 16
    assert relu.dead == pytest.approx(5 / 16)
    assert relu.dormant >= 5 / 16  # a dead ReLU unit outputs 0: dormant for any tau >= 0
    assert d["3"].dead == 0.0 and d["5"].dead == 0.0  # tanh and gelu have no zero-derivative region
    assert 0.0 < relu.saturated < 1.0 and relu.mean > 0
    assert all(math.isfinite(r.grad_norm) and r.grad_norm > 0 for r in d.layers)


def test_all_dead_layer():
    net = make(dead=16)
    d = aa.diagnose(net, batches(2))
    assert d["1"].dead == 1.0 and d["1"].dormant == 1.0 and d["1"].mean == 0.0
    assert d["1"].grad_norm == 0.0


@pytest.mark.parametrize("inplace", [True, False])
def test_outputs_unchanged_hooks_removed_grads_untouched(inplace):
    net = make(inplace=inplace)
    xs = batches()
    with torch.no_grad():
        before = [net(x) for x in xs]
    n_hooks = hooks(net)
    with aa.Monitor(net) as mon:
        assert hooks(net) > n_hooks
        during = [net(x) for x in xs]
        loss = sum(o.sum() for o in during)
        mon.backward(loss)
    assert hooks(net) == n_hooks
    for a, b in zip(before, during):
        assert torch.equal(a, b.detach())
    aa.diagnose(net, xs)
    assert hooks(net) == n_hooks
    assert all(p.grad is None for p in net.parameters())
    with torch.no_grad():
        after = [net(x) for x in xs]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_inplace_derivative_is_taken_before_the_overwrite():
    # with in-place ReLU the input tensor is overwritten; the dead/active statistics must be the same
    a = aa.diagnose(make(inplace=True), batches())
    b = aa.diagnose(make(inplace=False), batches())
    for ra, rb in zip(a.layers, b.layers):
        assert ra.dead == rb.dead and ra.saturated == rb.saturated
        assert ra.mean_abs_derivative == pytest.approx(rb.mean_abs_derivative)
        assert ra.grad_norm == pytest.approx(rb.grad_norm, rel=1e-6)


def test_grad_norm_is_the_norm_of_dloss_dx():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(5, 3)
    d = aa.diagnose(net, [(x, None)], loss_fn=lambda out: out.pow(2).sum())
    h = net[0](x).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(net[2](torch.tanh(h)).pow(2).sum(), h)
    assert d["1"].grad_norm == pytest.approx(g.norm().item(), rel=1e-5)


def test_dormant_threshold_and_reused_modules():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.relu = (
                nn.Conv2d(3, 8, 3, padding=1),
                nn.Conv2d(8, 8, 3, padding=1),
                nn.ReLU(),
            )

        def forward(self, x):
            return self.relu(self.c2(self.relu(self.c1(x))))

    m = Block()
    with torch.no_grad():
        m.c1.weight[0] *= 1e-3  # channel 0: tiny but alive
        m.c1.bias[0] = 1e-4
    x = [torch.randn(2, 3, 8, 8)]
    d = aa.diagnose(m, x, tau=0.0)
    assert [r.path for r in d.layers] == ["relu", "relu#2"] and d["relu"].units == 8
    assert d["relu"].dormant == 0.0
    assert aa.diagnose(m, x, tau=0.05)["relu"].dormant >= 1 / 8


def test_report_forms(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    d = aa.diagnose(make(), batches(1), backward=False)
    assert math.isnan(d["1"].grad_norm)
    text = str(d)
    assert "dead" in text and "relu" in text and "18.8%" in text
    assert d.as_dict()["layers"][0]["path"] == "1"
    from rich.console import Console

    with open(tmp_path / "t.txt", "w") as fh:
        Console(file=fh).print(d.rich())
    d.plot().savefig(tmp_path / "d.png")
    import actlab.torch as at

    assert at.diagnose is aa.diagnose
    with pytest.raises(TypeError, match="nn.Module"):
        aa.diagnose(object(), [])


@pytest.mark.gpu
def test_diagnose_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    net = make(dead=4).cuda()
    xs = [x.cuda() for x in batches(2)]
    with torch.no_grad():
        before = [net(x) for x in xs]
    d = aa.diagnose(net, xs)
    assert d["1"].dead == pytest.approx(4 / 16) and math.isfinite(d["1"].grad_norm)
    with torch.no_grad():
        assert all(torch.equal(a, net(x)) for a, x in zip(before, xs))
