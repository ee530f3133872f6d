"""Model surgery: find the activations a model uses, and swap them in one call.

>>> import torch, actlab.torch as at
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True), torch.nn.Linear(8, 2))
>>> report = at.swap(model, to="mish")
>>> [(r.path, r.old, r.new) for r in report.replaced]
[('1', 'relu', "Mish()")]

What is recognised:

- activation modules: torch's own (``nn.ReLU``, ``nn.GELU``, ``nn.SiLU``, ...),
  Hugging Face transformers' (``GELUActivation``, ``NewGELUActivation``, ...),
  timm's (by class name, without importing timm: ``Swish``, ``MishMe``, ...) and
  actlab's;
- activation *functions* held in an attribute (``self.activation = F.relu``, as
  in ``nn.TransformerEncoderLayer``): swapped by setting the attribute to the
  new module (and turning off the layer's fused fast path that would ignore it);
- activation calls written inside a ``forward`` (``F.gelu(x)``): found by reading
  the source of ``forward`` and of the methods it calls on ``self``, and listed in
  the report as **not swapped**. Module replacement cannot reach them; actlab does
  not rewrite code (no torch.fx).

Vector-valued activations (softmax and friends, usually attention normalisers)
and identity "activations" are listed but left alone unless named in ``only``.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import actlab

from ..core import Activation as _Bound
from ..core.errors import ParameterError

__all__ = ["ActivationSite", "Left", "Replacement", "SwapReport", "activations_in", "swap"]


@dataclass(frozen=True)
class ActivationSite:
    """One place a model applies an activation.

    - ``path``: the module's dotted path (``""`` for the root); for a call inside
      code, ``"<module path>::<method>:<line>"``.
    - ``module``: the activation module (None for a function).
    - ``name``: the actlab catalog name (``"gelu_tanh"``), or a descriptive name
      where the catalog has no such entry (``"clipped_gelu"``).
    - ``kind``: ``"module"`` or ``"functional"``.
    - ``source``: the class or function found (``"transformers.activations.NewGELUActivation"``).
    - ``params``: catalog parameter values read from the module (``negative_slope``...).
    - ``owner``: the module holding the attribute or the code (functional sites).
    - ``attribute``: the attribute name for a function held in an attribute (swappable),
      None for a call inside code (not swappable).
    """

    path: str
    module: nn.Module | None
    name: str
    kind: str
    source: str = ""
    params: Mapping[str, float] = field(default_factory=dict)
    owner: nn.Module | None = field(default=None, repr=False, compare=False)
    attribute: str | None = None
    inplace: bool = False

    @property
    def vector(self) -> bool:
        return self.name in _VECTOR_NAMES or _is_vector(self.name)

    @property
    def identity(self) -> bool:
        return self.name == "identity"


@dataclass(frozen=True)
class Replacement:
    path: str
    old: str  # catalog name of what was there
    new: str  # repr of the module put there
    source: str  # class / function that was there
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Left:
    path: str
    name: str
    kind: str
    source: str
    reason: str


@dataclass
class SwapReport:
    """What :func:`swap` replaced, and what it left (and why). ``len(report)`` counts replacements."""

    replaced: list[Replacement] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.replaced)

    def __bool__(self) -> bool:
        return bool(self.replaced or self.left)

    def to_dict(self) -> dict[str, Any]:
        return {"replaced": [r.__dict__ for r in self.replaced], "left": [x.__dict__ for x in self.left]}

    def __str__(self) -> str:
        if not self:
            return "SwapReport: no activations found"
        lines = [f"SwapReport: {len(self.replaced)} replaced, {len(self.left)} left"]
        for r in self.replaced:
            note = f"  ({'; '.join(r.notes)})" if r.notes else ""
            lines.append(f"  replaced {r.path or '<root>'}: {r.old} [{r.source}] -> {r.new}{note}")
        for x in self.left:
            lines.append(f"  left     {x.path or '<root>'}: {x.name} [{x.source}] - {x.reason}")
        return "\n".join(lines)

    __repr__ = __str__


# --- recognising activation modules ----------------------------------------------------------

Reader = Callable[[Any], tuple[str, dict[str, float]]]


def _fixed(name: str) -> Reader:
    return lambda m: (name, {})


def _gelu(m: nn.Module) -> tuple[str, dict[str, float]]:
    return ("gelu_tanh" if getattr(m, "approximate", "none") == "tanh" else "gelu"), {}


def _hf_gelu(m: nn.Module) -> tuple[str, dict[str, float]]:
    # GELUActivation(use_gelu_python=...) is exact either way
    return "gelu", {}


_TORCH: dict[str, Reader] = {
    "ReLU": _fixed("relu"), "ReLU6": _fixed("relu6"), "SELU": _fixed("selu"), "SiLU": _fixed("silu"),
    "Mish": _fixed("mish"), "Sigmoid": _fixed("sigmoid"), "Tanh": _fixed("tanh"),
    "Hardsigmoid": _fixed("hardsigmoid"), "Hardswish": _fixed("hardswish"), "Softsign": _fixed("softsign"),
    "Tanhshrink": _fixed("tanhshrink"), "LogSigmoid": _fixed("log_sigmoid"), "GELU": _gelu,
    "LeakyReLU": lambda m: ("leaky_relu", {"negative_slope": float(m.negative_slope)}),
    "PReLU": lambda m: ("prelu", {"a": float(m.weight.detach().float().mean())}),
    "RReLU": lambda m: ("rrelu", {"lower": float(m.lower), "upper": float(m.upper)}),
    "ELU": lambda m: ("elu", {"alpha": float(m.alpha)}),
    "CELU": lambda m: ("celu", {"alpha": float(m.alpha)}),
    "Hardtanh": lambda m: ("hardtanh", {"min_val": float(m.min_val), "max_val": float(m.max_val)}),
    "Softplus": lambda m: ("softplus", {"beta": float(m.beta)}),
    "Softshrink": lambda m: ("softshrink", {"lambd": float(m.lambd)}),
    "Hardshrink": lambda m: ("hardshrink", {"lambd": float(m.lambd)}),
    "Threshold": lambda m: ("threshold", {"threshold": float(m.threshold), "value": float(m.value)}),
    "Softmax": _fixed("softmax"), "LogSoftmax": _fixed("log_softmax"), "Softmin": _fixed("softmin"),
    "Softmax2d": _fixed("softmax"), "GLU": _fixed("glu"),
}

_TRANSFORMERS: dict[str, Reader] = {
    "GELUActivation": _hf_gelu, "NewGELUActivation": _fixed("gelu_tanh"), "GELUTanh": _fixed("gelu_tanh"),
    "PytorchGELUTanh": _fixed("gelu_tanh"), "FastGELUActivation": _fixed("gelu_tanh"),
    "AccurateGELUActivation": _fixed("gelu_tanh"), "QuickGELUActivation": _fixed("quick_gelu"),
    "SiLUActivation": _fixed("silu"), "MishActivation": _fixed("mish"),
    "ClippedGELUActivation": _fixed("clipped_gelu"), "LaplaceActivation": _fixed("laplace"),
    "ReLUSquaredActivation": _fixed("squared_relu"), "SqrtSoftplusActivation": _fixed("sqrt_softplus"),
    "XIELUActivation": _fixed("xielu"), "LinearActivation": _fixed("identity"),
}

_TIMM: dict[str, Reader] = {
    **{k: _fixed("silu") for k in ("Swish", "SwishMe", "SwishJit", "SiLU")},
    **{k: _fixed("mish") for k in ("Mish", "MishMe", "MishJit")},
    **{k: _fixed("hardswish") for k in ("HardSwish", "HardSwishMe", "HardSwishJit")},
    **{k: _fixed("hardsigmoid") for k in ("HardSigmoid", "HardSigmoidMe", "HardSigmoidJit")},
    **{k: _fixed("hard_mish") for k in ("HardMish", "HardMishMe", "HardMishJit")},
    "GELU": _fixed("gelu"), "GELUTanh": _fixed("gelu_tanh"), "QuickGELU": _fixed("quick_gelu"),
    "Sigmoid": _fixed("sigmoid"), "Tanh": _fixed("tanh"),
    "PReLU": lambda m: ("prelu", {"a": float(m.weight.detach().float().mean())}),
}

_LIBRARIES = {"torch": _TORCH, "transformers": _TRANSFORMERS, "timm": _TIMM}
_VECTOR_NAMES = frozenset({"softmax", "log_softmax", "softmin", "glu", "sparsemax"})


def _is_vector(name: str) -> bool:
    try:
        return actlab.spec(name).kind == "vector"
    except KeyError:
        return False


def _qualname(obj: Any) -> str:
    mod = getattr(obj, "__module__", "") or ""
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__))
    if mod.startswith("torch.nn.modules."):
        mod = "torch.nn"
    return f"{mod}.{name}" if mod else name


def recognise(m: nn.Module) -> tuple[str, dict[str, float], str] | None:
    """(name, params, source) if ``m`` is an activation module, else None."""
    from .learnable import LearnedCombination, Rational
    from .modules import Activation

    if isinstance(m, Activation):
        return m.name, dict(m.params), _qualname(type(m))
    if isinstance(m, Rational):
        return "rational", {}, _qualname(type(m))
    if isinstance(m, LearnedCombination):
        return "learned_combination", {}, _qualname(type(m))
    cls = type(m)
    for base in cls.__mro__:
        if base is nn.Module or base is object:
            break
        table = _LIBRARIES.get((base.__module__ or "").split(".")[0])
        reader = table.get(base.__name__) if table else None
        if reader is None:
            continue
        if base is not cls and getattr(cls, "forward", None) is not getattr(base, "forward", None):
            return None  # a subclass with its own forward: not the library's function any more
        name, params = reader(m)
        return name, params, _qualname(base)
    return None


# --- functions: held in attributes, or called in code ----------------------------------------

def _function_table() -> dict[Any, tuple[str, str]]:
    """torch function -> (catalog name, its public dotted name)."""
    out: dict[Any, tuple[str, str]] = {}
    for prefix, mod in (("torch", torch), ("torch.nn.functional", torch.nn.functional)):
        for attr, name in _CALL_NAMES.items():
            fn = getattr(mod, attr, None)
            if fn is not None and callable(fn):
                out.setdefault(fn, (name, f"{prefix}.{attr}"))
    return out


_FUNCS: dict[Any, tuple[str, str]] | None = None

# attribute names in calls like F.gelu(x) / torch.tanh(x) / x.relu() -> catalog name
_CALL_NAMES = {
    "relu": "relu", "relu_": "relu", "relu6": "relu6", "gelu": "gelu", "silu": "silu", "mish": "mish",
    "elu": "elu", "elu_": "elu", "selu": "selu", "celu": "celu", "leaky_relu": "leaky_relu",
    "leaky_relu_": "leaky_relu", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid",
    "hardtanh": "hardtanh", "softplus": "softplus", "softsign": "softsign", "tanhshrink": "tanhshrink",
    "logsigmoid": "log_sigmoid", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
    "tanh_": "tanh", "glu": "glu", "softmax": "softmax", "log_softmax": "log_softmax", "softmin": "softmin",
    "prelu": "prelu", "rrelu": "rrelu", "softshrink": "softshrink", "hardshrink": "hardshrink",
}
_TENSOR_METHODS = {"relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "softmax", "log_softmax"}
_FUNCTIONAL_BASES = {"F", "functional", "nn.functional", "torch.nn.functional", "torch", "torch.special"}


def _function_name(value: Any) -> tuple[str, dict[str, float], str] | None:
    """(catalog name, params, dotted source) for a torch activation function (or a partial of one)."""
    global _FUNCS
    if _FUNCS is None:
        _FUNCS = _function_table()
    kw: dict[str, Any] = {}
    if isinstance(value, functools.partial):
        kw = dict(value.keywords or {})
        value = value.func
    try:
        hit = _FUNCS.get(value)
    except TypeError:  # unhashable
        return None
    if hit is None:
        return None
    name, source = hit
    if name == "gelu" and kw.get("approximate") == "tanh":
        return "gelu_tanh", {}, source
    params = {}
    if name == "leaky_relu" and "negative_slope" in kw:
        params["negative_slope"] = float(kw["negative_slope"])
    return name, params, source


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


_CALLS: dict[type, tuple[tuple[str, int, str, str], ...]] = {}


def _calls_in_class(cls: type) -> tuple[tuple[str, int, str, str], ...]:
    """(method, line, call text, catalog name) for activation calls in ``cls``'s own code (cached)."""
    if cls not in _CALLS:
        _CALLS[cls] = _scan_class(cls)
    return _CALLS[cls]


def _scan_class(cls: type) -> tuple[tuple[str, int, str, str], ...]:
    """Read ``forward`` and the methods it calls as ``self.name(...)`` (transitively); torch's own
    code (``torch.*``) is not read."""
    found = []
    queue, seen = ["forward"], set()
    while queue:
        method = queue.pop(0)
        if method in seen:
            continue
        seen.add(method)
        fn = inspect.getattr_static(cls, method, None)
        fn = getattr(fn, "__func__", fn)  # staticmethod / classmethod
        if not inspect.isfunction(fn) or (fn.__module__ or "").startswith("torch."):
            continue
        try:
            lines, first = inspect.getsourcelines(fn)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            base = _dotted(node.func.value)
            if base == "self":
                queue.append(attr)  # a helper method of the module: read it too
            name = _CALL_NAMES.get(attr)
            if name is None:
                continue
            if base in _FUNCTIONAL_BASES:
                text = f"{base}.{attr}"
            elif base is not None and base.split(".")[0] != "self" and attr in _TENSOR_METHODS:
                text = f"Tensor.{attr}"  # x.relu()
            else:
                continue
            if name == "gelu" and any(k.arg == "approximate" and isinstance(k.value, ast.Constant)
                                      and k.value.value == "tanh" for k in node.keywords):
                name = "gelu_tanh"
            found.append((fn.__name__, first + node.lineno - 1, text, name))
    return tuple(found)


# --- the walk --------------------------------------------------------------------------------

def _walk(model: nn.Module, prefix: str = "") -> Iterator[ActivationSite]:
    hit = recognise(model)
    if hit is not None:
        name, params, source = hit
        yield ActivationSite(prefix, model, name, "module", source, params,
                             inplace=bool(getattr(model, "inplace", False)))
        return  # an activation's insides are not sites of their own
    for attr, value in list(vars(model).items()):
        if attr.startswith("_") or isinstance(value, nn.Module) or not callable(value):
            continue
        fn = _function_name(value)
        if fn is not None:
            path = f"{prefix}.{attr}" if prefix else attr
            yield ActivationSite(path, None, fn[0], "functional", fn[2], fn[1], owner=model, attribute=attr,
                                 inplace=fn[2].endswith("_"))
    for method, line, text, name in _calls_in_class(type(model)):
        yield ActivationSite(f"{prefix}::{method}:{line}", None, name, "functional", text, {}, owner=model)
    for child_name, child in model.named_children():
        yield from _walk(child, f"{prefix}.{child_name}" if prefix else child_name)


def activations_in(model: nn.Module) -> list[ActivationSite]:
    """Every activation ``model`` applies: modules, functions held in attributes, and calls in code.

    Sites come in module order (``model.named_modules()``). A recognised
    activation module is not searched inside.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"activations_in: expected an nn.Module, got {type(model).__name__}")
    return list(_walk(model))


# --- swapping --------------------------------------------------------------------------------

Selector = None | str | Iterable[str] | Callable[[ActivationSite], bool]


def _matcher(sel: Selector, arg: str) -> Callable[[ActivationSite], bool] | None:
    if sel is None:
        return None
    if callable(sel) and not isinstance(sel, str):
        return sel
    pats = [sel] if isinstance(sel, str) else list(sel)
    for p in pats:
        if not isinstance(p, str):
            raise ParameterError(f"swap: {arg} takes names, class names or path patterns (str), got {p!r}")

    def canonical(p: str) -> str:
        try:
            return actlab.spec(p).name
        except KeyError:
            return p

    names = {canonical(p) for p in pats}

    def match(site: ActivationSite) -> bool:
        cls = site.source.rsplit(".", 1)[-1]
        return (site.name in names or cls in pats or site.source in pats
                or any(fnmatch.fnmatchcase(site.path, p) for p in pats))

    return match


def _factory(to: Any, params: dict[str, Any]) -> Callable[[ActivationSite], nn.Module]:
    from .modules import Activation, learns_by_default, module_class

    if isinstance(to, (str, _Bound)):
        act = actlab.get(to, **params)  # validate now, once
        cls = module_class(act.name)
        named = issubclass(cls, Activation)

        can_inplace = _inplace_safe(act) and not learns_by_default(act.spec)

        def make(site: ActivationSite) -> nn.Module:
            inplace = site.inplace and can_inplace
            if named:  # the entry's named class: actlab.torch.Mish, ...
                return cls(**act.params, inplace=inplace)
            if act.params == act.spec.defaults and not inplace:
                return cls()  # a class of its own (actlab.torch.Rational)
            return Activation(act, inplace=inplace)

        return make
    if params:
        raise ParameterError("swap: parameters are only accepted with a catalog name for `to`")
    if isinstance(to, nn.Module):
        import copy

        return lambda site: copy.deepcopy(to)
    if callable(to):
        return to
    raise ParameterError(f"swap: `to` must be a catalog name, an actlab.Activation, an nn.Module or a "
                         f"callable(site) -> nn.Module; got {type(to).__name__}")


def _inplace_safe(act: _Bound) -> bool:
    from ._plan import plan_for

    return plan_for(act).inplace_safe


def _is_target_vector(to: Any) -> bool | None:
    if isinstance(to, _Bound):
        return not to.is_elementwise
    if isinstance(to, str):
        return actlab.spec(to).kind == "vector"
    return None


def _place(model: nn.Module, site: ActivationSite, new: nn.Module) -> list[str]:
    """Put ``new`` where ``site`` is; returns notes."""
    notes = []
    old = site.module
    if site.kind == "module":
        parent_path, _, attr = site.path.rpartition(".")
        parent = model.get_submodule(parent_path)
    else:
        assert site.owner is not None and site.attribute is not None
        parent, attr = site.owner, site.attribute
    ref = next(iter(old.parameters()), None) if old is not None else None
    if ref is None:
        ref = next(iter(parent.parameters()), None)
    if ref is not None and any(True for _ in new.parameters()):
        new = new.to(device=ref.device, dtype=ref.dtype)
    new.train(parent.training)
    setattr(parent, attr, new)
    if getattr(parent, "activation_relu_or_gelu", 0):
        # nn.TransformerEncoderLayer: its fused fast path would ignore the new activation
        setattr(parent, "activation_relu_or_gelu", 0)  # noqa: B010
        notes.append("fused fast path of the layer turned off")
    if site.inplace and not getattr(new, "inplace", False):
        notes.append("was in-place; the new activation is not (its backward needs its input)")
    if old is not None and any(True for _ in old.parameters()):
        dropped = ", ".join(n for n, _ in old.named_parameters())
        notes.append(f"learned parameters of the old module dropped ({dropped})")
    return notes


def swap(model: nn.Module, to: Any = "mish", only: Selector = None, exclude: Selector = None,
         **params: Any) -> SwapReport:
    """Replace the activations of ``model`` in place; returns a :class:`SwapReport`.

    Args:
        model: any ``nn.Module``.
        to: a catalog name (``"mish"``; ``**params`` are its parameters), a bound
            ``actlab.get(...)``, an ``nn.Module`` (deep-copied per site) or a
            ``callable(site) -> nn.Module``.
        only: swap only these sites: catalog names (``"gelu"``, aliases work),
            class names (``"GELUActivation"``), path patterns (``"encoder.layer.1.*"``)
            or a ``callable(site) -> bool``. Naming a vector-valued or identity
            activation here is what allows swapping it.
        exclude: the same kinds of selectors, for sites to leave.

    An in-place activation (``nn.ReLU(inplace=True)``) stays in place only where
    the new one's backward does not read its input. Functional calls written in
    ``forward`` code are listed in ``report.left``, not rewritten.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"swap: expected an nn.Module, got {type(model).__name__}")
    make = _factory(to, params)
    want = _matcher(only, "only")
    drop = _matcher(exclude, "exclude")
    target_vector = _is_target_vector(to)
    report = SwapReport()
    for site in activations_in(model):
        def leave(reason: str, site: ActivationSite = site) -> None:
            report.left.append(Left(site.path, site.name, site.kind, site.source, reason))

        named = want is not None and want(site)
        if want is not None and not named:
            leave("not selected by only=")
        elif drop is not None and drop(site):
            leave("excluded by exclude=")
        elif site.kind == "functional" and site.attribute is None:
            leave("a call written in forward code: module replacement cannot reach it (not rewritten)")
        elif site.kind == "module" and site.path == "":
            leave("the model itself is the activation: build the new one directly")
        elif (site.vector or site.identity) and not named:
            leave(("vector-valued (a normaliser such as attention softmax)" if site.vector else
                   "identity (a linear 'activation')") + ": name it in only= to swap it")
        elif target_vector is not None and target_vector != site.vector:
            leave("the new activation is " + ("vector-valued" if target_vector else "elementwise")
                  + " and this one is not")
        else:
            new = make(site)
            notes = _place(model, site, new)
            report.replaced.append(Replacement(site.path, site.name, repr(new), site.source, tuple(notes)))
    return report
