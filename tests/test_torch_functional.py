"""actlab.torch.functional: every registry entry, its autograd, dtypes, in-place, saved tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import actlab
import actlab.torch as at
from actlab.torch import _autograd
from actlab.torch import functional as af
from actlab.torch._plan import fallback_plan, native_table, plan_for, slopes

ALL = actlab.names()


@pytest.fixture(autouse=True)
def generic_path():
    """These tests check actlab's own autograd path; fused kernels are tested in test_fused_kernels_*."""
    at.set_kernels(False)
    yield
    at.set_kernels(True)

ELEMENTWISE = actlab.names(kind="elementwise")
VECTOR = actlab.names(kind="vector")


def points(name: str, n: int = 8, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """n points in [-4, 4] where f and f' are finite, away from the declared kinks."""
    act = actlab.get(name)
    rng = np.random.default_rng(seed)
    cand = rng.uniform(-4.0, 4.0, 400)
    kinks = np.array([k.at for k in act.properties.kinks])
    if kinks.size:
        cand = cand[np.min(np.abs(cand[:, None] - kinks[None, :]), axis=1) > 0.05]
    with np.errstate(all="ignore"):
        ok = np.isfinite(act(cand)) & np.isfinite(act.derivative(cand))
    cand = cand[ok][:n]
    assert cand.size == n, f"{name}: not enough regular points in [-4, 4]"
    return torch.tensor(cand, dtype=dtype)


def vector_input(name: str, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 4, generator=g, dtype=torch.float64)


def call(name: str, x: torch.Tensor) -> torch.Tensor:
    return af.apply(name, x, dim=-1) if actlab.spec(name).kind == "vector" else af.apply(name, x)


# --- gradients across the registry ----------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_gradcheck_float64(name):
    x = (vector_input(name) if name in VECTOR else points(name)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: call(name, t), (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_double_backward_float64(name):
    x = (vector_input(name, seed=1) if name in VECTOR else points(name, seed=1)).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: call(name, t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_is_the_analytic_derivative(name):
    act = actlab.get(name)
    x = torch.tensor([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0], dtype=torch.float64, requires_grad=True)
    af.apply(name, x).sum().backward()
    want = act.derivative(x.detach().numpy())
    # torch-native entries (NATIVE) compute f' from their own f: the catalog's accuracy bar
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("name", ALL)
def test_forward_matches_catalog(name):
    act = actlab.get(name)
    x = vector_input(name) if name in VECTOR else torch.linspace(-5, 5, 41, dtype=torch.float64)
    got = call(name, x)
    want = act(x.numpy())
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, atol=1e-300, equal_nan=True)


# --- dtypes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ALL)
def test_dtypes_on_cpu(name, dtype):
    x64 = vector_input(name) if name in VECTOR else points(name, n=6)
    x = x64.to(dtype).requires_grad_()
    y = call(name, x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype
    # fp16/bf16 are computed in fp32: the result is the fp32 result rounded once
    ref = call(name, x.detach().double()).to(dtype) if dtype.itemsize < 4 else call(name, x.detach().double())
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}[dtype]
    torch.testing.assert_close(y.detach().double(), ref.double(), rtol=tol, atol=tol, equal_nan=True)


def test_integer_and_bool_inputs_are_promoted_and_complex_raises():
    y = af.relu(torch.tensor([-1, 2]))
    assert y.dtype == torch.get_default_dtype() and y.tolist() == [0.0, 2.0]
    assert af.sigmoid(torch.tensor([True])).dtype == torch.get_default_dtype()
    assert af.tanh([0.0, 1.0]).dtype == torch.get_default_dtype()  # lists become tensors
    with pytest.raises(TypeError, match="mish"):
        af.mish(torch.tensor([1 + 1j]))


# --- what the backward saves ------------------------------------------------------------------

def saved_by(fn, x):
    packed = []

    def pack(t):
        packed.append((t.dtype, tuple(t.shape)))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(x)
    return y, packed


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_saves_one_tensor(name):
    x = points(name, n=5, dtype=torch.float32).requires_grad_()
    _, packed = saved_by(lambda t: af.apply(name, t), x)
    plan = plan_for(actlab.get(name))
    expected = {"none": 0, "both": 2}.get(plan.saves, 1)
    assert len(packed) == expected, (plan.saves, packed)
    if plan.saves == "mask":
        assert packed[0][0] == torch.uint8  # 1 byte per element, not a float tensor


def test_piecewise_linear_entries_save_a_byte_mask():
    pwl = actlab.names(piecewise_linear=True, kind="elementwise")
    assert {"relu", "leaky_relu", "hardtanh", "relu6", "threshold"} <= set(pwl)
    for name in pwl:
        plan = plan_for(actlab.get(name))
        assert plan.saves in ("mask", "none"), (name, plan.saves)
    assert slopes(actlab.get("leaky_relu", negative_slope=0.2)) == (0.2, 1.0)
    assert slopes(actlab.get("hardsigmoid")) == (0.0, 1 / 6)
    assert plan_for(actlab.get("identity")).saves == "none"


@pytest.mark.parametrize("name", actlab.names(piecewise_linear=True, kind="elementwise"))
def test_mask_backward_equals_float_backward(name):
    act = actlab.get(name)
    x = torch.linspace(-8, 8, 161, dtype=torch.float64)  # includes the kinks exactly
    x = torch.cat([x, torch.tensor([math.inf, -math.inf, math.nan, 0.5, -0.5, 6.0, -3.0, 3.0],
                                         dtype=torch.float64)])
    a = x.clone().requires_grad_()
    _autograd._Elementwise.apply(a, plan_for(act), False, None).sum().backward()
    b = x.clone().requires_grad_()
    _autograd._Elementwise.apply(b, fallback_plan(act), False, None).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, equal_nan=True, rtol=0, atol=0)


# --- in place ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "leaky_relu", "hardtanh", "sigmoid", "tanh", "identity"])
def test_inplace_where_safe(name):
    base = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    ref = base.detach().clone().requires_grad_()
    af.apply(name, ref * 1.0).pow(2).sum().backward()
    h = base * 1.0  # a non-leaf the in-place op may overwrite
    y = af.apply(name, h, inplace=True)
    assert y.data_ptr() == h.data_ptr()
    y.pow(2).sum().backward()
    torch.testing.assert_close(base.grad, ref.grad)


def test_inplace_refused_where_the_backward_reads_the_input():
    with pytest.raises(ValueError, match="inplace"):
        af.mish(torch.randn(3), inplace=True)
    with pytest.raises(ValueError, match="inplace"):
        at.Activation("gelu", inplace=True)


def test_inplace_without_grad_and_on_a_leaf():
    x = torch.tensor([-1.0, 2.0])
    assert af.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    leaf = torch.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        af.relu(leaf, inplace=True)


# --- torch-native dispatch and fused kernels --------------------------------------------------

@pytest.mark.parametrize("name", sorted(native_table()))
def test_native_matches_generic(name):
    """Each NATIVE row agrees with the catalog path on the accuracy grid, ±inf and nan included."""
    from reference import EXTREMES

    if name not in ALL:
        pytest.skip(f"{name} is not registered")
    act = actlab.get(name)
    assert plan_for(act).native is not None
    for dtype, (rtol, atol) in ((torch.float64, (1e-12, 1e-15)), (torch.float32, (1e-5, 5e-7))):
        x = torch.tensor(EXTREMES + np.linspace(-30, 30, 241).tolist(), dtype=dtype)
        a = x.clone().requires_grad_()
        ya = af.apply(name, a)
        ya.sum().backward()
        b = x.clone().requires_grad_()
        yb = _autograd._Elementwise.apply(b, fallback_plan(act), False, None)
        yb.sum().backward()
        scale = x.abs().clamp(min=1).nan_to_num(posinf=1.0)
        for u, v in ((ya.detach(), yb.detach()), (a.grad, b.grad)):
            close = (u - v).abs() <= torch.maximum(rtol * v.abs(), atol * scale)
            close |= (u == v) | (u.isnan() & v.isnan())
            assert bool(close.all()), (name, dtype, x[~close], u[~close], v[~close])


def test_describe_reports_the_torch_path():
    d = at.describe("relu")["torch"]
    assert d["native"] is None and d["backward_saves"] == "1-byte slope code" and d["slopes"] == [0.0, 1.0]
    assert d["inplace"] is True
    t = at.describe("tanh")["torch"]
    assert t["native"] == "torch.tanh" and t["backward_saves"] == "output"
    assert at.describe("mish")["torch"]["backward_saves"] == "input"
    assert at.NATIVE["sigmoid"] == "torch.sigmoid"
    assert at.describe("elu", alpha=0.5)["params"]["alpha"]["value"] == 0.5


class _FakeKernel:
    """Stands in for a fused kernel from actlab.torch.kernels (same interface)."""

    def __init__(self, saves):
        self.saves, self.calls = saves, []

    def save(self, x, y, **p):
        return {"input": x, "output": y}.get(self.saves, x > 0)

    def forward(self, x, **p):
        self.calls.append("forward")
        return actlab.get("mish")(x) if self.saves != "mask" else torch.relu(x)

    def backward(self, saved, g, **p):
        self.calls.append("backward")
        if self.saves == "mask":
            return g * saved
        return g * actlab.get("mish").derivative(saved)


@pytest.mark.parametrize("saves", ["input", "output", "mask"])
def test_fused_kernel_hook(monkeypatch, saves):
    kernel = _FakeKernel(saves)
    name = "relu" if saves == "mask" else "mish"
    monkeypatch.setitem(_autograd._KERNELS, "fused", lambda n, x: kernel if n == name else None)
    monkeypatch.setitem(_autograd._KERNELS, "looked", True)
    at.set_kernels(True)
    x = torch.linspace(-2, 2, 9, dtype=torch.float64, requires_grad=True)
    af.apply(name, x).sum().backward()
    assert kernel.calls == ["forward", "backward"]
    want = actlab.get(name).derivative(x.detach().numpy())
    if saves != "output":
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
    # double backward: the generic derivative where the saved tensor allows, a clear error otherwise
    x2 = x.detach().clone().requires_grad_()
    if saves == "output":
        with pytest.raises(RuntimeError, match="set_kernels"):
            torch.autograd.grad(af.apply(name, x2).sum(), x2, create_graph=True)
    else:
        (g,) = torch.autograd.grad(af.apply(name, x2).sum(), x2, create_graph=True)
        np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-12)
        if saves == "mask":
            assert not g.requires_grad  # piecewise linear: f'' = 0, g depends on the upstream grad only
        else:
            g.sum().backward()
            assert torch.isfinite(x2.grad).all()
    at.set_kernels(False)
    kernel.calls.clear()
    af.apply(name, x.detach()).sum()
    assert kernel.calls == []


def test_kernels_absent_or_declining_use_generic_path(monkeypatch):
    at.set_kernels(True)
    monkeypatch.setitem(_autograd._KERNELS, "fused", None)
    monkeypatch.setitem(_autograd._KERNELS, "looked", True)
    x = torch.tensor([-1.0, 1.0], requires_grad=True)
    af.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]


# --- the functional namespace -----------------------------------------------------------------

def test_every_name_and_alias_is_a_function():
    for name in ALL:
        fn = getattr(af, name)
        assert fn.__name__ == name and actlab.spec(name).description in fn.__doc__
    assert af.swish is af.silu
    assert set(ALL) <= set(dir(af))
    with pytest.raises(AttributeError, match="no attribute 'reluu'"):
        af.reluu  # noqa: B018


def test_parameters_are_validated_and_tensors_flow():
    with pytest.raises(ValueError, match="negative_slope"):
        af.leaky_relu(torch.zeros(2), negative_slope="x")
    with pytest.raises(ValueError, match="unknown parameter"):
        af.relu(torch.zeros(2), alpha=1.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        af.relu(torch.zeros(2), alpha=torch.ones(()))
    a = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([-2.0, 3.0], dtype=torch.float64, requires_grad=True)
    af.prelu(x, a=a).sum().backward()
    assert a.grad.item() == -2.0 and x.grad.tolist() == [0.25, 1.0]


def test_vector_entries_take_dim():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    for dim in (0, 1, 2, -1):
        y = af.softmax(x, dim=dim)
        torch.testing.assert_close(y, torch.softmax(x, dim=dim))
    assert af.glu(x, dim=-1).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="axis"):
        af.softmax(x, dim=3)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_fused_kernels_through_the_hook(name):
    """With actlab.torch.kernels on: same values and gradients as the generic path, one tensor saved."""
    at.set_kernels(True)
    x = points(name, n=6, seed=2).requires_grad_()
    y, packed = saved_by(lambda t: af.apply(name, t), x)
    assert len(packed) <= (2 if plan_for(actlab.get(name)).saves == "both" else 1)
    y.sum().backward()
    at.set_kernels(False)
    x2 = x.detach().clone().requires_grad_()
    y2 = af.apply(name, x2)
    y2.sum().backward()
    torch.testing.assert_close(y, y2, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-15)
