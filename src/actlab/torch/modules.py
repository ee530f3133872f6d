"""``nn.Module`` forms: :class:`Activation` and one named class per catalog entry.

>>> import torch, actlab.torch as at
>>> at.Activation("leaky_relu", negative_slope=0.1)
LeakyRelu(negative_slope=0.1)
>>> at.Mish()(torch.zeros(2))
tensor([0., 0.])
>>> at.Prelu(num_parameters=3)      # learnable entries get nn.Parameters
Prelu(a=0.25, learnable=('a',), num_parameters=3)

Named classes are generated from the registry: the entry name in CamelCase
(``leaky_relu`` -> ``LeakyRelu``, ``star_relu`` -> ``StarRelu``), plus the usual
spellings of well-known acronyms (``ReLU``, ``PReLU``, ``GELU``, ``SiLU`` ...).
Positional arguments are the entry's parameters in order.

Learnable entries (a parameter marked ``learnable`` in the catalog: PReLU, APL,
SReLU, Snake, StarReLU, PELU, ACON-C, soft exponential, ...) hold those
parameters as ``nn.Parameter``s of shape ``(num_parameters,)``: one value per
layer (``num_parameters=1``, the default) or one per channel, the channel being
axis ``channel_dim`` of the input (1, as in ``nn.PReLU``; use -1 for
features-last tensors). The papers' choices: PReLU per channel (or shared),
SReLU, ACON-C and Snake per channel / feature, APL and soft exponential per
unit, StarReLU, PELU and the PAU per layer; pass ``num_parameters`` accordingly.
``learnable=False`` freezes them to plain floats.
With ``constrain=True`` (default) a learned value is clamped into the entry's
valid range in the forward pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

import actlab

from ..core import Activation as _Bound
from ..core.errors import ParameterError
from ..core.registry import _key
from . import _autograd
from ._plan import fallback_plan, plan_for

__all__ = ["Activation", "class_name", "module_class"]

# Entries with learnable parameters that are, at their defaults, a standard fixed activation:
# their modules learn only with learnable=True (silu: use SwishBeta for swish-beta).
FIXED_BY_DEFAULT = frozenset({"silu"})

_RESERVED = frozenset(dir(nn.Module)) | {"dim", "inplace", "learnable", "num_parameters", "channel_dim",
                                         "constrain", "name", "params"}


class Activation(nn.Module):
    """Any catalog activation as a module: ``Activation("mish")``, ``Activation("softmax", dim=1)``.

    Args:
        name: a catalog name or alias (or a bound :class:`actlab.Activation`).
        dim: the axis of a vector-valued entry (softmax, GLU, maxout, ...).
        inplace: overwrite the input where the backward does not read it
            (output- or mask-saving entries); raises otherwise.
        learnable: make the entry's learnable parameters ``nn.Parameter``s
            (default: True where the entry has any, except entries in
            :data:`FIXED_BY_DEFAULT` such as ``silu``, whose learnable form is
            :class:`~actlab.torch.SwishBeta`).
        num_parameters: values per learnable parameter: 1 (per layer) or the
            number of channels.
        channel_dim: the input axis the per-channel values run along.
        constrain: clamp learned values into their valid range.
        **params: parameter values (initial values for learnable ones).
    """

    def __init__(self, name: str | _Bound, *args: float, dim: int = -1, inplace: bool = False,
                 learnable: bool | None = None, num_parameters: int = 1, channel_dim: int = 1,
                 constrain: bool = True, **params: Any) -> None:
        super().__init__()
        if isinstance(name, _Bound):
            params = {**name.params, **params}
            name = name.name
        spec = actlab.spec(name)
        if args:
            if len(args) > len(spec.params):
                raise ParameterError(
                    f"{spec.name}: takes at most {len(spec.params)} positional parameter(s) "
                    f"({', '.join(spec.param_names) or 'none'}), got {len(args)}"
                )
            for p, v in zip(spec.params, args):
                if p.name in params:
                    raise ParameterError(f"{spec.name}: parameter {p.name!r} given twice")
                params[p.name] = v
        bound = actlab.get(spec.name, **params)  # validates
        learnable_names = tuple(p.name for p in spec.params if p.learnable)
        if learnable is None:
            learnable = learns_by_default(spec)
        if learnable and not learnable_names:
            raise ParameterError(f"{spec.name}: has no learnable parameter (learnable=True given)")
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ParameterError(
                f"{spec.name}: num_parameters must be a positive int, got {num_parameters!r}")
        if num_parameters != 1 and not learnable:
            raise ParameterError(f"{spec.name}: num_parameters={num_parameters} needs learnable parameters")
        self.name = spec.name
        self.params = dict(bound.params)
        self.dim = dim
        self.inplace = bool(inplace)
        self.learnable = learnable_names if learnable else ()
        self.num_parameters = num_parameters
        self.channel_dim = channel_dim
        self.constrain = bool(constrain)
        self._attrs = {n: (n if n not in _RESERVED else f"param_{n}") for n in self.learnable}
        for n in self.learnable:
            self.register_parameter(self._attrs[n], nn.Parameter(
                torch.full((num_parameters,), float(self.params[n]), dtype=torch.get_default_dtype())))
        self._bind()
        if self.inplace and (self.learnable or not self._plan.inplace_safe):
            why = "its parameters are learned" if self.learnable else "its backward reads the input"
            raise ParameterError(f"{self.name}: inplace=True is not supported: {why}; use inplace=False")

    # --- pickling: the spec (with its lambdas) is looked up again by name -------------------
    def _bind(self) -> None:
        self._act = actlab.get(self.name, **self.params)
        self._plan = fallback_plan(self._act) if self.learnable else plan_for(self._act)
        if self.learnable and self.num_parameters > 1:
            _autograd.tensor_params_ok(self._plan)  # probe now, not inside a compiled graph

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_act", None)
        state.pop("_plan", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._bind()

    # --- evaluation ------------------------------------------------------------------------
    @property
    def activation(self) -> _Bound:
        """The bound catalog activation (learnable parameters at their initial values)."""
        return self._act

    def parameter(self, name: str) -> torch.Tensor:
        """The current value of a learnable parameter, as stored (shape ``(num_parameters,)``)."""
        return getattr(self, self._attrs[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = {n: self._shaped(n, x) for n in self.learnable} if self.learnable else None
        return _autograd.run(self._act, x, dim=self.dim, inplace=self.inplace, plan=self._plan,
                             tensors=tensors)

    def _shaped(self, name: str, x: torch.Tensor) -> torch.Tensor:
        p = self.parameter(name)
        if self.constrain:
            p = _clamp(p, self._act.spec.params[self._act.spec.param_names.index(name)])
        if self.num_parameters == 1:
            return p.reshape(())
        if x.ndim == 0:
            raise ValueError(f"{self.name}: per-channel parameters need an input with a channel axis")
        axis = self.channel_dim if x.ndim > 1 else 0
        axis = axis % x.ndim if -x.ndim <= axis < x.ndim else -1
        if axis < 0 or x.shape[axis] != self.num_parameters:
            raise ValueError(
                f"{self.name}: num_parameters={self.num_parameters} but the input has "
                f"{'no axis ' + str(self.channel_dim) if axis < 0 else str(x.shape[axis]) + ' channels'} "
                f"along channel_dim={self.channel_dim} (input shape {tuple(x.shape)})"
            )
        shape = [1] * x.ndim
        shape[axis] = self.num_parameters
        return p.reshape(shape)

    def extra_repr(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.params.items()]
        if self.learnable:
            parts.append(f"learnable={self.learnable!r}")
            if self.num_parameters != 1:
                parts.append(f"num_parameters={self.num_parameters}")
            if self.num_parameters != 1 and self.channel_dim != 1:
                parts.append(f"channel_dim={self.channel_dim}")
        if not self._act.is_elementwise:
            parts.append(f"dim={self.dim}")
        if self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)

    def _get_name(self) -> str:  # the repr's class name: the entry's named class
        return class_name(self.name) if type(self) is Activation else type(self).__name__


def learns_by_default(spec: Any) -> bool:
    """Whether ``Activation(name)`` makes the entry's learnable parameters trainable by default."""
    return any(p.learnable for p in spec.params) and spec.name not in FIXED_BY_DEFAULT


def _clamp(p: torch.Tensor, spec_param: Any) -> torch.Tensor:
    lo, hi = spec_param.low, spec_param.high
    if math.isinf(lo) and math.isinf(hi):
        return p
    if spec_param.open_low and math.isfinite(lo):
        lo = lo + 1e-6 * max(1.0, abs(lo))
    if spec_param.open_high and math.isfinite(hi):
        hi = hi - 1e-6 * max(1.0, abs(hi))
    return torch.clamp(p, min=lo if math.isfinite(lo) else None, max=hi if math.isfinite(hi) else None)


# --- named classes ---------------------------------------------------------------------------

# Conventional spellings, in addition to the CamelCase of each entry name.
ACRONYMS = {
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "RReLU": "rrelu",
    "ELU": "elu", "SELU": "selu", "CELU": "celu", "GELU": "gelu", "SiLU": "silu", "SReLU": "srelu",
    "APL": "apl", "PELU": "pelu", "ACONC": "acon_c", "AconC": "acon_c", "StarReLU": "star_relu",
    "PAU": "rational", "GLU": "glu", "ISRU": "isru", "ISRLU": "isrlu", "SQNL": "sqnl",
}

_CLASSES: dict[str, type] = {}


def class_name(name: str) -> str:
    """``leaky_relu`` -> ``LeakyRelu``: the CamelCase class name of an entry."""
    return "".join(part[:1].upper() + part[1:] for part in actlab.spec(name).name.split("_"))


def _overrides() -> dict[str, type]:
    from .learnable import Rational

    return {"rational": Rational}


def module_class(name: str) -> type:
    """The named module class of a catalog entry (generated on first use)."""
    spec = actlab.spec(name)
    cls = _CLASSES.get(spec.name)
    if cls is not None:
        return cls
    override = _overrides().get(spec.name)
    if override is not None:
        _CLASSES[spec.name] = override
        return override
    cname = class_name(spec.name)
    entry = spec.name

    def init(self: Activation, *args: float, **kwargs: Any) -> None:
        Activation.__init__(self, entry, *args, **kwargs)

    params = "".join(
        f"    {p.name}: {p.doc or 'parameter'} (default {p.default:g}, range {p.interval}"
        f"{', learnable' if p.learnable else ''})\n" for p in spec.params)
    doc = (f"{spec.description}\n\nThe module form of ``actlab.get({entry!r})``; see "
           f":class:`actlab.torch.Activation` for the keyword options.\n\n"
           + (f"Parameters:\n{params}" if params else ""))
    cls = type(cname, (Activation,), {"__init__": init, "__doc__": doc, "__module__": __name__,
                                      "__qualname__": cname, "entry": entry})
    _CLASSES[spec.name] = cls
    return cls


def _lookup(attr: str) -> type | None:
    """The class for an attribute name: an entry's CamelCase name, an acronym, or a CamelCase alias."""
    if attr in ACRONYMS:
        try:
            return module_class(ACRONYMS[attr])
        except KeyError:
            return None
    if not attr[:1].isupper():
        return None
    snake = "".join(("_" + c.lower()) if c.isupper() else c for c in attr).lstrip("_")
    for candidate in (snake, attr.lower()):
        try:
            spec = actlab.spec(_key(candidate))
        except KeyError:
            continue
        return module_class(spec.name)
    return None


def __getattr__(attr: str) -> Any:
    if not attr.startswith("_"):
        cls = _lookup(attr)
        if cls is not None:
            return cls
    raise AttributeError(f"module 'actlab.torch.modules' has no attribute {attr!r}")


def class_names() -> list[str]:
    """Every generated class name (one per catalog entry)."""
    return sorted(class_name(n) for n in actlab.names())
