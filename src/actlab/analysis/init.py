"""Weight-init gains for every activation, and initialising a model with them.

**Definition.** ``init_gain(f) = 1 / sqrt(E[f(z)^2])`` for z ~ N(0, 1). A layer
``y = W x`` whose weights have variance ``gain^2 / fan_in`` then maps inputs
``x = f(h)`` with ``h ~ N(0, 1)`` to pre-activations with ``E[y^2] = 1``: the
second moment of a unit-variance pre-activation is preserved from layer to
layer, which is what He init does for ReLU (E relu(z)^2 = 1/2, gain sqrt 2).

It agrees with ``torch.nn.init.calculate_gain`` where torch's value is derived
the same way, and differs where torch's is a heuristic:

==============  ===================  ====================  =====================================
activation      ours                 torch                 torch's reason
==============  ===================  ====================  =====================================
identity        1                    1                     exact
relu            sqrt 2 = 1.41421     sqrt 2                exact (He et al. 2015)
leaky_relu(a)   sqrt(2 / (1 + a^2))  sqrt(2 / (1 + a^2))   exact
tanh            1.59254              5/3 = 1.66667         heuristic (keeps activations in the
                                                           non-saturated range; not a moment)
sigmoid         1.84623              1                     none (torch has no gain for it)
selu            1.00000              3/4                   chosen to favour a stable gradient
                                                           flow (PyTorch docs); SELU's own
                                                           theory wants 1 with LeCun init
elu             1.24520              (none: 1)             -
gelu            1.53353              (none: 1)             -
silu            1.67653              (none: 1)             -
mish            1.48685              (none: 1)             -
==============  ===================  ====================  =====================================

(Our column is computed by :func:`init_gain`; ``tests/test_analysis_init.py``
checks this table against it and the torch column against torch.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._common import elementwise

__all__ = ["InitReport", "LayerInit", "init_", "init_gain", "torch_gain"]


def init_gain(act: Any, **params: Any) -> float:
    """The gain that preserves the second moment of a unit-variance pre-activation.

    ``gain = 1 / sqrt(E[f(z)^2])``, z ~ N(0, 1), by quadrature split at the
    activation's kinks. Use it as ``std = gain / sqrt(fan_in)``.

    >>> round(init_gain("relu"), 12), round(init_gain("leaky_relu", negative_slope=0.2), 12)
    (1.414213562373, 1.386750490563)
    >>> round(init_gain("tanh"), 5), round(init_gain("selu"), 9)   # torch: 5/3 and 3/4
    (1.59254, 1.0)
    """
    from .quadrature import expect

    a = elementwise(act, "init_gain", **params)
    m2 = expect(a, "f**2")
    if not (m2 > 0 and math.isfinite(m2)):
        raise ValueError(f"init_gain: E[{a.name}(z)^2] = {m2} for z ~ N(0, 1); no finite gain preserves it")
    return 1.0 / math.sqrt(m2)


def torch_gain(act: Any, **params: Any) -> float | None:
    """What ``torch.nn.init.calculate_gain`` returns for this activation (None: torch has no entry,
    its fallback is 1). Computed here, without importing torch."""
    from ._common import resolve

    a = resolve(act, **params)
    name = a.name
    if name in ("identity", "linear") and a.params.get("c", 1.0) == 1.0:
        return 1.0
    if name == "sigmoid":
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        s = a.params["negative_slope"]
        return math.sqrt(2.0 / (1.0 + s * s))
    if name == "selu":
        return 3.0 / 4.0
    return None


# --- initialising a model ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerInit:
    """How :func:`init_` initialised one layer."""

    path: str
    layer: str  # class name
    activation: str  # the activation that follows it ("identity" where none does)
    gain: float
    std: float
    fan: int


@dataclass
class InitReport:
    layers: list[LayerInit] = field(default_factory=list)
    method: str = ""  # "fx" (traced data flow) or "module-order"
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "notes": list(self.notes),
            "layers": [layer.__dict__.copy() for layer in self.layers],
        }

    def __str__(self) -> str:
        lines = [f"init_: {len(self.layers)} layer(s), activations found by {self.method}"]
        for r in self.layers:
            lines.append(
                f"  {r.path or '<root>':30s} {r.layer:12s} -> {r.activation:14s} "
                f"gain {r.gain:.5f}  std {r.std:.5g}  fan {r.fan}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    __repr__ = __str__


def _weight_layers(torch: Any) -> tuple[type, ...]:
    nn = torch.nn
    return (
        nn.Linear,
        nn.Bilinear,
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
    )


_TRANSPARENT_MODULES = (
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "Identity",
    "Flatten",
    "Unflatten",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "RMSNorm",
)
_TRANSPARENT_CALLS = {
    "view",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "contiguous",
    "squeeze",
    "unsqueeze",
    "add",
    "iadd",
    "__add__",
    "__iadd__",
    "dropout",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "max_pool1d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "to",
    "float",
}
_CALL_ALIASES = {"logsigmoid": "log_sigmoid", "gelu": "gelu"}


def _call_activation(node: Any) -> tuple[str, dict[str, float]] | None:
    """(catalog name, params) for an fx call_function / call_method node applying an activation."""
    import actlab

    target = node.target
    raw = target if isinstance(target, str) else getattr(target, "__name__", "")
    name = _CALL_ALIASES.get(raw.rstrip("_"), raw.rstrip("_"))
    if not name or name in _TRANSPARENT_CALLS:
        return None
    try:
        spec = actlab.spec(name)
    except (KeyError, TypeError):
        return None
    kw = dict(node.kwargs)
    if spec.name == "gelu" and kw.get("approximate") == "tanh":
        return "gelu_tanh", {}
    params: dict[str, float] = {}
    key = {
        "leaky_relu": "negative_slope",
        "elu": "alpha",
        "celu": "alpha",
        "softplus": "beta",
        "hardshrink": "lambd",
        "softshrink": "lambd",
    }.get(spec.name)
    if key is not None:
        v = kw.get(key, node.args[1] if len(node.args) > 1 else None)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            params[key] = float(v)
    return spec.name, params


def _follow_fx(model: Any, torch: Any) -> dict[str, tuple[str, dict[str, float]] | None] | None:
    """For each weight layer (by path): the activation its output reaches through shape/norm/dropout
    ops, from a torch.fx trace; None where it reaches none. None overall if tracing fails."""
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - dynamic control flow etc.: fall back to module order
        return None
    from actlab.torch.surgery import recognise

    modules = dict(gm.named_modules())
    weight_types = _weight_layers(torch)
    out: dict[str, tuple[str, dict[str, float]] | None] = {}
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), weight_types):
            continue
        found = None
        frontier, seen = [node], set()
        while frontier and found is None:
            nxt = []
            for n in frontier:
                for u in n.users:
                    if u in seen:
                        continue
                    seen.add(u)
                    if u.op == "call_module":
                        m = modules.get(u.target)
                        hit = recognise(m) if m is not None else None
                        if hit is not None:
                            found = (hit[0], dict(hit[1]))
                            break
                        if type(m).__name__ in _TRANSPARENT_MODULES:
                            nxt.append(u)
                    elif u.op in ("call_function", "call_method"):
                        hit2 = _call_activation(u)
                        if hit2 is not None:
                            found = hit2
                            break
                        raw = u.target if isinstance(u.target, str) else getattr(u.target, "__name__", "")
                        if raw in _TRANSPARENT_CALLS or raw.rstrip("_") in _TRANSPARENT_CALLS:
                            nxt.append(u)
                if found is not None:
                    break
            frontier = nxt
        out[str(node.target)] = found
    return out


def _follow_module_order(model: Any, torch: Any, notes: list[str]) -> dict[str, tuple[str, dict] | None]:
    """For each weight layer: the activation module that comes next in module order (None if another
    weight layer, or the end, comes first)."""
    from actlab.torch.surgery import activations_in

    sites = activations_in(model)
    by_path = {s.path: s for s in sites if s.kind == "module"}
    functional = [s for s in sites if s.kind == "functional"]
    if functional:
        notes.append(
            "activations called in forward code ("
            + ", ".join(sorted({s.name for s in functional}))
            + ") cannot be placed without tracing; the layers before them got gain 1 unless a module "
            "activation follows them"
        )
    weight_types = _weight_layers(torch)
    out: dict[str, tuple[str, dict] | None] = {}
    pending: str | None = None
    for path, m in model.named_modules():
        if isinstance(m, weight_types):
            if pending is not None:
                out.setdefault(pending, None)
            pending = path
            continue
        site = by_path.get(path)
        if site is not None and pending is not None:
            out[pending] = (site.name, dict(site.params))
            pending = None
    if pending is not None:
        out.setdefault(pending, None)
    return out


def init_(
    model: Any,
    *,
    mode: str = "fan_in",
    distribution: str = "normal",
    bias: float = 0.0,
    output_gain: float = 1.0,
    generator: Any = None,
) -> InitReport:
    """Initialise every Linear / Conv layer of ``model`` with the gain of the activation that follows it.

    Weights get std ``gain / sqrt(fan)`` (``mode="fan_in"`` preserves the forward
    second moment, ``"fan_out"`` the backward one), drawn from a normal or, with
    ``distribution="uniform"``, a uniform of the same variance; biases are set to
    ``bias``. The activation after each layer is found from a ``torch.fx`` trace
    (through norm, dropout, pooling, reshape and residual adds); models that
    cannot be traced fall back to module order (``actlab.torch.activations_in``).
    A layer no activation follows (an output layer, or one feeding another layer
    directly) gets ``output_gain`` (default 1, LeCun). Returns a report of what was done.

    Also available as ``actlab.torch.init_``.

    >>> import torch, actlab.analysis as aa
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> [(r.activation, round(r.gain, 4)) for r in aa.init_(net)]
    [('relu', 1.4142), ('identity', 1.0)]
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"init_: expected a torch.nn.Module, got {type(model).__name__}")
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"init_: distribution must be 'normal' or 'uniform', got {distribution!r}")
    report = InitReport()
    follow = _follow_fx(model, torch)
    report.method = "fx"
    if follow is None:
        report.method = "module-order"
        follow = _follow_module_order(model, torch, report.notes)
    gains: dict[tuple[str, tuple], float] = {}
    modules = dict(model.named_modules())
    for path, act in follow.items():
        layer = modules[path]
        if act is None:
            name, gain = "identity", float(output_gain)
        else:
            name, params = act
            key = (name, tuple(sorted(params.items())))
            if key not in gains:
                try:
                    gains[key] = init_gain(name, **params)
                except (KeyError, ValueError, TypeError) as e:
                    report.notes.append(f"{path}: no gain for {name!r} ({e}); used 1")
                    gains[key] = 1.0
            gain = gains[key]
        w = layer.weight
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        fan = fan_in if mode == "fan_in" else fan_out
        std = gain / math.sqrt(fan)
        with torch.no_grad():
            if distribution == "normal":
                w.normal_(0.0, std, generator=generator)
            else:
                bound = math.sqrt(3.0) * std
                w.uniform_(-bound, bound, generator=generator)
            if getattr(layer, "bias", None) is not None:
                layer.bias.fill_(bias)
        report.layers.append(LayerInit(path, type(layer).__name__, name, gain, std, int(fan)))
    return report
