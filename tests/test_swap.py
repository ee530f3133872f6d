"""Model surgery: actlab.torch.swap / activations_in on toy models and on real architectures."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import actlab.torch as at
from actlab.torch.surgery import ActivationSite


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 8), nn.GELU(),
                         nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3), nn.Softmax(dim=-1))


def test_swap_replaces_every_elementwise_activation_and_reports():
    model = mlp()
    report = at.swap(model, to="mish")
    assert [(r.path, r.old, r.new) for r in report.replaced] == [
        ("1", "relu", "Mish()"), ("3", "gelu", "Mish()"), ("5", "leaky_relu", "Mish()")]
    assert [(x.path, x.name) for x in report.left] == [("7", "softmax")]
    assert "vector-valued" in report.left[0].reason
    assert "was in-place" in report.replaced[0].notes[0]
    assert len(report) == 3 and "3 replaced, 1 left" in str(report)
    x = torch.randn(5, 4, requires_grad=True)
    model(x).sum().backward()
    assert all(isinstance(model[i], at.Mish) for i in (1, 3, 5))
    assert report.to_dict()["replaced"][0]["path"] == "1"


def test_inplace_relu_is_handled():
    ref, model = mlp(), mlp()
    at.swap(model, to="relu", only="relu")  # relu -> relu: stays in place (its backward reads a mask)
    assert model[1].inplace and isinstance(model[1], at.ReLU)
    x = torch.randn(6, 4)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.testing.assert_close(model(xa), ref(xb))
    model(xa).sum().backward()
    ref(xb).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    at.swap(model, to="elu", only="relu")  # its backward needs the input: not in place any more
    assert not model[1].inplace
    model(torch.randn(2, 4)).sum().backward()


def test_model_without_activations_gives_an_empty_report():
    report = at.swap(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)), to="mish")
    assert len(report) == 0 and not report and report.left == []
    assert str(report) == "SwapReport: no activations found"
    assert at.activations_in(nn.Linear(2, 2)) == []


def test_only_and_exclude_selectors():
    model = mlp()
    r = at.swap(model, "tanh", only=["gelu", "LeakyReLU"])
    assert [x.path for x in r.replaced] == ["3", "5"]
    assert {x.reason for x in r.left} == {"not selected by only="}
    model = mlp()
    r = at.swap(model, "tanh", exclude="1")  # a path pattern
    assert [x.path for x in r.replaced] == ["3", "5"]
    model = mlp()
    r = at.swap(model, "tanh", only=lambda site: site.path in ("1", "5"))
    assert [x.path for x in r.replaced] == ["1", "5"]
    model = mlp()
    r = at.swap(model, "sparsemax", only="softmax")  # naming a vector activation allows swapping it
    assert [x.path for x in r.replaced] == ["7"] and isinstance(model[7], at.Sparsemax)
    with pytest.raises(ValueError, match="only"):
        at.swap(mlp(), "tanh", only=[3])


def test_parameters_targets_and_devices():
    model = mlp().double()
    r = at.swap(model, to="leaky_relu", negative_slope=0.3)
    assert r.replaced[1].new == "LeakyRelu(negative_slope=0.3)"
    assert r.replaced[0].new == "LeakyRelu(negative_slope=0.3, inplace=True)"  # was an in-place ReLU
    model = mlp().double()
    at.swap(model, to="prelu")  # learnable: one parameter per site, in the model's dtype
    assert model[1].a.dtype == torch.float64 and model[1].a is not model[3].a
    template = at.Snake(a=2.0)
    model = mlp()
    at.swap(model, to=template)
    assert model[1] is not template and model[1].params == {"a": 2.0}
    model = mlp()
    at.swap(model, to=lambda site: nn.Identity() if site.name == "gelu" else at.Tanh())
    assert isinstance(model[3], nn.Identity) and isinstance(model[1], at.Tanh)
    with pytest.raises(ValueError, match="to"):
        at.swap(mlp(), to=3.0)
    with pytest.raises(KeyError, match="did you mean"):
        at.swap(mlp(), to="mishh")


def test_root_activation_and_actlab_modules():
    r = at.swap(nn.ReLU(), "mish")
    assert len(r) == 0 and "the model itself" in r.left[0].reason
    model = nn.Sequential(nn.Linear(2, 2), at.Mish(), at.LearnedCombination(["relu", "tanh"]), at.Rational())
    sites = at.activations_in(model)
    assert [(s.path, s.name) for s in sites] == [
        ("1", "mish"), ("2", "learned_combination"), ("3", "rational")]
    at.swap(model, "relu", only="mish")
    assert isinstance(model[1], at.Relu)


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.nn.functional.silu(self.fc(x)) + self._skip(x)

    def _skip(self, x):
        return x.tanh()

    def unused(self, x):  # never called from forward: not a site
        return torch.relu(x)


def test_functional_calls_in_forward_are_listed_not_swapped():
    model = nn.Sequential(_Block(), nn.ReLU())
    sites = at.activations_in(model)
    fn = [s for s in sites if s.kind == "functional"]
    assert [(s.name, s.source, s.module) for s in fn] == [("silu", "torch.nn.functional.silu", None),
                                                          ("tanh", "Tensor.tanh", None)]
    assert fn[0].path.startswith("0::forward:") and fn[1].path.startswith("0::_skip:")
    assert fn[0].owner is model[0]
    r = at.swap(model, "mish")
    assert [x.path for x in r.replaced] == ["1"]
    assert all("forward code" in x.reason for x in r.left) and len(r.left) == 2


def test_timm_activations_by_class_name_without_timm():
    def timm_class(name, base=nn.Module, body=None):
        return type(name, (base,), {"__module__": "timm.layers.activations",
                                    "forward": body or (lambda self, x: x * torch.sigmoid(x))})

    model = nn.Sequential(timm_class("Swish")(), timm_class("GELUTanh")(), timm_class("HardMishMe")(),
                          timm_class("Unknown")())
    assert [(s.path, s.name) for s in at.activations_in(model)] == [
        ("0", "silu"), ("1", "gelu_tanh"), ("2", "hard_mish")]
    r = at.swap(model, "relu")
    assert len(r) == 3 and type(model[3]).__name__ == "Unknown"


def test_subclass_with_its_own_forward_is_not_taken_for_the_library_class():
    class Odd(nn.ReLU):
        def forward(self, x):
            return x * 2

    class Plain(nn.ReLU):
        pass

    sites = at.activations_in(nn.Sequential(Odd(), Plain()))
    assert [s.path for s in sites] == ["1"]


def test_activation_site_api():
    model = mlp()
    sites = at.activations_in(model)
    s = sites[0]
    assert isinstance(s, ActivationSite)
    assert (s.path, s.module, s.name, s.kind) == ("1", model[1], "relu", "module")
    assert s.inplace and s.source == "torch.nn.ReLU"
    assert sites[2].params == {"negative_slope": 0.2}
    assert ActivationSite("a", None, "relu", "functional").kind == "functional"  # positional fields


# --- real architectures (random weights, no download) -----------------------------------------

def _outputs_close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _differ(a, b):
    return (a - b).abs().max().item() > 1e-4


@pytest.fixture(scope="module")
def transformers():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import transformers
        transformers.logging.set_verbosity_error()
    return transformers


def _bert(tf):
    torch.manual_seed(0)
    cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                        vocab_size=100, max_position_embeddings=32)
    return tf.BertModel(cfg).eval()


def _gpt2(tf):
    torch.manual_seed(0)
    cfg = tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=32,
                        bos_token_id=0, eos_token_id=0)
    return tf.GPT2Model(cfg).eval()


def _vit(tf):
    torch.manual_seed(0)
    cfg = tf.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                       image_size=16, patch_size=8, num_channels=3)
    return tf.ViTModel(cfg).eval()


def _text_input():
    return {"input_ids": torch.randint(0, 100, (2, 7), generator=torch.Generator().manual_seed(1))}


def _image_input():
    return {"pixel_values": torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))}


MODELS = {"bert": (_bert, _text_input, "gelu"), "gpt2": (_gpt2, _text_input, "gelu_tanh"),
          "vit": (_vit, _image_input, "gelu")}


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_transformers_models(transformers, arch):
    build, inputs, act = MODELS[arch]
    ref = build(transformers)
    sites = [s for s in at.activations_in(ref) if s.kind == "module" and s.name == act]
    assert len(sites) == 2, at.activations_in(ref)  # one per layer
    kw = inputs()
    with torch.no_grad():
        base = ref(**kw, output_hidden_states=True)

    same = build(transformers)  # the same function, actlab's implementation: outputs unchanged
    r = at.swap(same, to=act, only=act)
    assert len(r) == 2
    with torch.no_grad():
        out = same(**kw, output_hidden_states=True)
    _outputs_close(out.last_hidden_state, base.last_hidden_state)

    other = build(transformers)  # another function: outputs change
    at.swap(other, to="mish", only=act)
    with torch.no_grad():
        assert _differ(other(**kw).last_hidden_state, base.last_hidden_state)

    # only the second layer: everything before it is unchanged, everything after it changes
    one = build(transformers)
    r = at.swap(one, to="mish", only=sites[1].path)
    assert [x.path for x in r.replaced] == [sites[1].path]
    with torch.no_grad():
        out = one(**kw, output_hidden_states=True)
    for i in range(2):  # embeddings and the first layer's output
        _outputs_close(out.hidden_states[i], base.hidden_states[i])
    assert _differ(out.hidden_states[2], base.hidden_states[2])

    # forward and backward through the swapped model, in training mode
    other.train()
    out = other(**kw).last_hidden_state
    out.pow(2).mean().backward()
    grads = [p.grad for p in other.parameters() if p.grad is not None]
    assert len(grads) > len(list(other.parameters())) // 2
    assert all(torch.isfinite(g).all() for g in grads)


def test_transformer_encoder_layer_functional_activation():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    sites = at.activations_in(layer)
    assert [(s.path, s.name, s.kind, s.module) for s in sites] == [("activation", "relu", "functional", None)]
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        base = layer(x)
    same = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    same.load_state_dict(layer.state_dict())
    r = at.swap(same, "relu")
    assert [x.path for x in r.replaced] == ["activation"] and "fast path" in r.replaced[0].notes[0]
    assert isinstance(same.activation, at.ReLU) and same.activation_relu_or_gelu == 0
    with torch.no_grad():
        _outputs_close(same(x), base)
    at.swap(same, "gelu")  # now a module site
    with torch.no_grad():
        assert _differ(same(x), base)
    same.train()
    xg = x.clone().requires_grad_()
    same(xg).sum().backward()
    assert xg.grad is not None and same.linear1.weight.grad is not None
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2,
                                enable_nested_tensor=False)
    assert [s.path for s in at.activations_in(enc)] == ["layers.0.activation", "layers.1.activation"]
