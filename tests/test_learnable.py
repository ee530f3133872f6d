"""Learnable activations: parameter gradients (gradcheck), PAU fitting, combinations, a small training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
import actlab.torch as at
from actlab.torch import _autograd
from actlab.torch.learnable import rational_reference, rational_torch

LEARNABLE = actlab.names(learnable=True)


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one intra-op thread is fastest, and immune to a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_the_papers_learnable_activations_are_in_the_catalog():
    assert {"prelu", "apl", "srelu", "snake", "star_relu", "pelu", "acon_c", "soft_exponential",
            "rational", "silu"} <= set(LEARNABLE)


def _inputs(name: str, shape=(2, 3, 4), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 6 - 3).requires_grad_()


def _gradcheck_module(m: at.Activation, x: torch.Tensor) -> None:
    names = m.learnable
    attrs = [m._attrs[n] for n in names]
    params = [getattr(m, a).detach().clone().requires_grad_() for a in attrs]

    def f(x, *ps):
        return torch.func.functional_call(m, dict(zip(attrs, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", LEARNABLE)
def test_parameter_gradients_gradcheck(name, channels):
    """d/dx (analytic) and d/dparams (autograd of the catalog forward) against finite differences."""
    m = at.Activation(name, learnable=True, num_parameters=channels).double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the defaults, still inside the valid ranges
        for n in m.learnable:
            p = m.parameter(n)
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    _gradcheck_module(m, _inputs(name))


@pytest.mark.parametrize("name", ["prelu", "snake", "star_relu", "acon_c", "srelu"])
def test_double_backward_through_learnable_parameters(name):
    m = at.Activation(name, learnable=True, num_parameters=3).double()
    x = _inputs(name)
    attrs = [m._attrs[n] for n in m.learnable]
    params = [getattr(m, a).detach().clone().requires_grad_() for a in attrs]
    assert torch.autograd.gradgradcheck(
        lambda x, *ps: torch.func.functional_call(m, dict(zip(attrs, ps)), (x,)), (x, *params),
        eps=1e-6, atol=1e-5, rtol=1e-4)


def test_per_channel_matches_per_layer_channel_by_channel():
    m = at.Snake(num_parameters=3).double()
    with torch.no_grad():
        m.a.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = _inputs("snake").detach()
    y = m(x)
    for c, a in enumerate((0.5, 1.0, 2.0)):
        torch.testing.assert_close(y[:, c], at.functional.snake(x[:, c], a=a))


def test_entries_needing_scalar_parameters_run_channel_by_channel():
    m = at.Activation("apl", num_parameters=3).double()
    assert not _autograd.tensor_params_ok(m._plan)  # its forward reads float(a1) for the limit at -inf
    x = _inputs("apl")
    m(x).sum().backward()
    assert m.a1.grad.shape == (3,) and x.grad.shape == x.shape


def test_learned_values_are_clamped_into_range():
    m = at.Pelu()
    with torch.no_grad():
        m.a.fill_(-1.0)  # pelu needs a > 0
    x = torch.tensor([-1.0, 1.0])
    y = m(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert m.a.grad.item() == 0.0  # clamped: no gradient pushes it further out


def test_learnable_parameters_train():
    torch.manual_seed(0)
    m = at.PReLU(num_parameters=2)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    x = torch.randn(256, 2)
    target = torch.where(x > 0, x, torch.tensor([0.1, 0.7]) * x)
    for _ in range(200):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
    torch.testing.assert_close(m.a.detach(), torch.tensor([0.1, 0.7]), atol=1e-3, rtol=0)


# --- Swish-beta -------------------------------------------------------------------------------

def test_swish_beta_gradients_and_channels():
    m = at.SwishBeta(beta=1.5, num_parameters=3).double()
    assert m.name == "silu" and m.learnable == ("beta",)
    _gradcheck_module(m, _inputs("silu"))
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(at.SwishBeta(1.5).double()(x), x * torch.sigmoid(1.5 * x))


# --- learned combinations ---------------------------------------------------------------------

@pytest.mark.parametrize("form", ["affine", "convex", "linear"])
def test_learned_combination_forms(form):
    m = at.LearnedCombination(["relu", "tanh", "elu", "prelu"], form=form, num_parameters=3).double()
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=torch.Generator().manual_seed(0)))
    alpha = m.alpha
    if form in ("affine", "convex"):
        torch.testing.assert_close(alpha.sum(-1), torch.ones(3, dtype=torch.float64))
    if form == "convex":
        assert (alpha >= 0).all()
    x = _inputs("relu")
    y = m(x)
    ref = sum(alpha[:, i].view(1, 3, 1) * at.functional.apply(b, x) for i, b in
              enumerate(["relu", "tanh", "elu"])) + alpha[:, 3].view(1, 3, 1) * at.functional.prelu(x)
    torch.testing.assert_close(y, ref)
    w = m.weight.detach().clone().requires_grad_()
    a = m.bases[3].a.detach().clone().requires_grad_()  # the PReLU base learns too
    assert torch.autograd.gradcheck(
        lambda x, w, a: torch.func.functional_call(m, {"weight": w, "bases.3.a": a}, (x,)), (x, w, a),
        eps=1e-6, atol=1e-6, rtol=1e-5)


def test_learned_combination_starts_at_the_mean():
    m = at.LearnedCombination(["relu", "identity"])
    x = torch.tensor([-2.0, 2.0])
    torch.testing.assert_close(m(x), torch.tensor([-1.0, 2.0]))
    with pytest.raises(ValueError, match="form"):
        at.LearnedCombination(["relu"], form="weird")
    with pytest.raises(ValueError, match="vector-valued"):
        at.LearnedCombination(["relu", "softmax"])


# --- rational / PAU ---------------------------------------------------------------------------

def test_rational_default_is_the_catalog_entry():
    r = at.Rational().double()  # parameters are created in float32 (torch's default dtype), like nn.Linear's
    x = torch.linspace(-6, 6, 49, dtype=torch.float64)
    np.testing.assert_allclose(r(x).detach().numpy(), actlab.get("rational")(x.numpy()), rtol=1e-6, atol=1e-7)
    assert r.fit_error["rms"] < 0.006 and r.fit_error["max_abs"] < 0.031
    assert "leaky_relu" in r.fit_error["target"]


@pytest.mark.parametrize("target,degrees,denominator,rms", [
    ("tanh", (3, 2), "safe", 0.01), ("sigmoid", (4, 4), "abs", 1e-4), ("elu", (5, 4), "safe", 1e-3),
    ("leaky_relu", (5, 4), "abs", 0.01),
])
def test_rational_fits_any_catalog_activation(target, degrees, denominator, rms):
    r = at.Rational(target, degrees=degrees, denominator=denominator).double()
    assert r.fit_error["rms"] < rms, r.fit_error
    x = torch.linspace(-3, 3, 301, dtype=torch.float64)
    err = (r(x) - at.functional.apply(target, x)).abs().max().item()
    assert err == pytest.approx(r.fit_error["max_abs"], rel=0.05, abs=1e-6)


def test_rational_composite_is_overflow_free_and_matches_numpy():
    a, b = np.array([0.1, 1.0, -0.5, 0.3, 0.02, 0.01]), np.array([0.5, -0.2, 0.1, 0.05])
    x = np.array([0.0, 0.5, -0.9, 1.0, -1.0, 2.5, -7.0, 40.0])
    for denominator in ("safe", "abs"):
        got = rational_torch(torch.tensor(x), list(torch.tensor(a)), list(torch.tensor(b)), denominator)
        np.testing.assert_allclose(got.numpy(), rational_reference(x, a, b, denominator), rtol=1e-12)
    a32, b32 = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    big = rational_torch(torch.tensor([1e30, -1e30, float("inf")], dtype=torch.float32), list(a32), list(b32))
    assert torch.isfinite(big[:2]).all() and big[2] == float("inf")


@pytest.mark.parametrize("channels,denominator", [(1, "safe"), (1, "abs"), (3, "safe")])
def test_rational_coefficient_gradients(channels, denominator):
    r = at.Rational("tanh", degrees=(3, 2), denominator=denominator, num_parameters=channels).double()
    x = _inputs("rational")
    a = r.numerator.detach().clone().requires_grad_()
    b = r.denominator.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, a, b: torch.func.functional_call(r, {"numerator": a, "denominator": b}, (x,)), (x, a, b),
        eps=1e-6, atol=1e-6, rtol=1e-5)


def test_rational_kernel_and_composite_agree():
    r = at.Rational().double()
    x = _inputs("rational")
    y1 = r(x)
    y1.sum().backward()
    g1 = (x.grad.clone(), r.numerator.grad.clone(), r.denominator.grad.clone())
    x.grad = None
    r.zero_grad()
    at.set_kernels(False)
    try:
        y2 = r(x)
        y2.sum().backward()
    finally:
        at.set_kernels(True)
    torch.testing.assert_close(y1, y2)
    for u, v in zip(g1, (x.grad, r.numerator.grad, r.denominator.grad)):
        torch.testing.assert_close(u, v)


def test_rational_module_state_and_repr():
    import pickle

    r = at.Rational("tanh", degrees=(3, 2), num_parameters=2)
    assert r.numerator.shape == (2, 4) and r.denominator.shape == (2, 2)
    assert "degrees=(3, 2)" in repr(r) and "tanh" in repr(r)
    r2 = pickle.loads(pickle.dumps(r))
    x = torch.randn(3, 2)
    torch.testing.assert_close(r2(x), r(x))
    with pytest.raises(ValueError, match="degrees"):
        at.Rational(degrees=(-1, 2))
    with pytest.raises(ValueError, match="denominator"):
        at.Rational(denominator="plain")


def test_mlp_with_rational_activation_learns_digits():
    """A 2-layer MLP, PAU initialised to leaky ReLU, on scikit-learn's bundled digits (no download)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    Xtr, Xte = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    act = at.Rational(actlab.get("leaky_relu", negative_slope=0.01))
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), act, torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _epoch in range(15):
        perm = torch.randperm(len(Xtr))
        for i in range(0, len(Xtr), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.cross_entropy(model(Xtr), ytr).item())
    with torch.no_grad():
        acc = (model(Xte).argmax(1) == yte).float().mean().item()
    assert losses[-1] < 0.25 * losses[0], losses
    assert acc > 0.9, acc  # chance is 0.1
    assert act.numerator.grad is not None and act.numerator.grad.abs().sum() > 0
