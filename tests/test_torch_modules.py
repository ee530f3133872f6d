"""actlab.torch modules: one class per entry, repr, pickling, state_dict, .to(), compile."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import pytest
import torch

import actlab
import actlab.torch as at
from actlab.torch import functional as af

ALL = actlab.names()


def sample(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 4, 6, generator=g, dtype=torch.float64) * 3 + 0.1  # in every entry's domain


@pytest.mark.parametrize("name", ALL)
def test_named_class_per_entry(name):
    cls = at.module_class(name)
    assert cls is getattr(at, at.class_name(name))
    m = cls()
    x = sample(name)
    kw = {"dim": -1} if actlab.spec(name).kind == "vector" else {}
    torch.testing.assert_close(m.double()(x), af.apply(name, x, **kw))
    assert isinstance(m, torch.nn.Module)


@pytest.mark.parametrize("name", ALL)
def test_pickle_state_dict_deepcopy_and_to(name):
    m = at.Activation(name)
    x = sample(name)
    y = m.double()(x)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert type(clone) is type(m) and repr(clone) == repr(m)
        torch.testing.assert_close(clone(x), y)
    fresh = at.Activation(name)
    fresh.load_state_dict(m.state_dict())
    torch.testing.assert_close(fresh.double()(x), y)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    torch.testing.assert_close(torch.load(buf, weights_only=False)(x), y)
    m32 = m.to(torch.device("cpu"), torch.float32)
    assert m32(x.float()).dtype == torch.float32
    for p in m32.parameters():
        assert p.dtype == torch.float32


def test_repr_shows_parameters():
    assert repr(at.Activation("leaky_relu", negative_slope=0.1)) == "LeakyRelu(negative_slope=0.1)"
    assert repr(at.LeakyRelu(0.2, inplace=True)) == "LeakyRelu(negative_slope=0.2, inplace=True)"
    assert repr(at.Mish()) == "Mish()"
    assert repr(at.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(at.PReLU(num_parameters=3)) == "Prelu(a=0.25, learnable=('a',), num_parameters=3)"
    assert repr(at.Hardtanh(min_val=-2, max_val=2)) == "Hardtanh(min_val=-2.0, max_val=2.0)"


def test_acronyms_and_aliases():
    assert at.ReLU is at.Relu and at.PReLU is at.Prelu and at.GELU is at.Gelu and at.SiLU is at.Silu
    assert at.LeakyReLU is at.LeakyRelu and at.StarReLU is at.StarRelu
    assert at.Swish is at.Silu  # an alias's CamelCase gives the entry's class
    with pytest.raises(AttributeError):
        at.NoSuchActivation  # noqa: B018
    assert "Mish" in dir(at) and "LeakyRelu" in at.class_names()


def test_learnable_entries_hold_parameters():
    m = at.PReLU(num_parameters=3)
    assert [n for n, _ in m.named_parameters()] == ["a"] and m.a.shape == (3,)
    x = torch.randn(2, 3, 5)
    y = m(x)
    torch.testing.assert_close(y, torch.nn.functional.prelu(x, torch.full((3,), 0.25)))
    assert at.Silu().learnable == ()  # silu's beta is learnable only in SwishBeta / learnable=True
    assert at.Silu(learnable=True).learnable == ("beta",)
    assert at.Prelu(learnable=False).learnable == ()
    with pytest.raises(ValueError, match="channels"):
        m(torch.randn(2, 4))
    with pytest.raises(ValueError, match="no learnable parameter"):
        at.Relu(learnable=True)
    with pytest.raises(ValueError, match="num_parameters"):
        at.Prelu(num_parameters=0)
    with pytest.raises(ValueError, match="at most 1 positional"):
        at.LeakyRelu(0.1, 0.2)
    with pytest.raises(ValueError, match="inplace"):
        at.Prelu(inplace=True)


def test_learnable_state_dict_round_trip():
    m = at.Snake(num_parameters=4)
    with torch.no_grad():
        m.a.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
    fresh = at.Snake(num_parameters=4)
    fresh.load_state_dict(m.state_dict())
    x = torch.randn(3, 4)
    torch.testing.assert_close(fresh(x), m(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(m))(x), m(x))


def test_channel_dim_for_features_last():
    m = at.Prelu(num_parameters=5, channel_dim=-1)
    x = torch.randn(2, 3, 5)
    torch.testing.assert_close(m(x), torch.where(x > 0, x, 0.25 * x))


def test_inplace_module():
    m = torch.nn.Sequential(torch.nn.Linear(3, 3), at.ReLU(inplace=True))
    x = torch.randn(4, 3)
    m(x).sum().backward()


# --- torch.compile (slow on 2 cores: a representative few) -----------------------------------

COMPILE = [("relu", {}), ("leaky_relu", {"negative_slope": 0.1}), ("mish", {}), ("softmax", {"dim": -1}),
           ("tanh", {})]


@pytest.mark.slow
def test_compile_fullgraph_representative():
    torch._dynamo.reset()
    mods = torch.nn.ModuleList([at.Activation(n, **kw) for n, kw in COMPILE]
                               + [at.PReLU(num_parameters=4), at.StarRelu(), at.Rational()])

    def f(x):
        return [m(x) for m in mods]

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    x = torch.randn(3, 4, dtype=torch.float32, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # array-api-compat's lru_cache notes from dynamo
        ys = compiled(x)
        sum(y.sum() for y in ys).backward()
    g = x.grad.clone()
    x.grad = None
    for m in mods:
        m.zero_grad()
    sum(y.sum() for y in f(x)).backward()
    torch.testing.assert_close(g, x.grad)
    for y, ref in zip(ys, f(x)):
        torch.testing.assert_close(y, ref)


@pytest.mark.slow
def test_compile_inductor_one_model():
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), at.LeakyRelu(0.1), torch.nn.Linear(8, 8), at.Mish(),
                                torch.nn.Linear(8, 2))
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = compiled(x)
        y.sum().backward()
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-6)


def test_analysis_helpers_are_reexported_lazily():
    import importlib

    for name in ("init_", "diagnose"):
        try:
            want = getattr(importlib.import_module("actlab.analysis"), name)
        except (ImportError, AttributeError):
            with pytest.raises(AttributeError, match=name):
                getattr(at, name)
        else:
            assert getattr(at, name) is want


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_functions_modules_and_kernels():
    x = torch.randn(64, 8, device="cuda", requires_grad=True)
    for name in ("relu", "leaky_relu", "mish", "gelu", "softmax", "tanh"):
        y = af.apply(name, x, dim=-1) if name == "softmax" else af.apply(name, x)
        assert y.device.type == "cuda"
        (g,) = torch.autograd.grad(y.sum(), x)
        ref = x.detach().cpu().requires_grad_()
        yr = af.apply(name, ref, dim=-1) if name == "softmax" else af.apply(name, ref)
        (gr,) = torch.autograd.grad(yr.sum(), ref)
        torch.testing.assert_close(y.detach().cpu(), yr.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g.cpu(), gr, rtol=1e-5, atol=1e-6)
    m = torch.nn.Sequential(torch.nn.Linear(8, 8), at.PReLU(num_parameters=8, channel_dim=-1), at.Rational())
    m.to("cuda", torch.float64)
    m(x.double()).sum().backward()
    assert m[1].a.grad.device.type == "cuda" and m[2].numerator.grad.dtype == torch.float64
