"""How one bound activation runs on torch: what its backward saves, and whether torch's own kernel runs it.

A :class:`Plan` is computed once per (activation, parameter values) and cached.
It decides:

- ``saves``: the one thing the backward pass keeps.
  ``"input"`` / ``"output"``: the float tensor the analytic derivative reads
  (``spec.grad_from``); ``"both"`` where a derivative needs both;
  ``"mask"``: for a piecewise-linear entry, a 1-byte code per element that
  indexes the entry's few slopes (``table``); ``"none"``: the derivative is a
  constant (identity, a step), so nothing is kept.
- ``native``: torch's own fused kernel for the same function, when it is as
  accurate as ours, keeps one tensor for its backward, and has the same
  gradient convention (see :data:`NATIVE`). Then torch runs the whole op.
- ``inplace_safe``: the backward never reads the input, so the output may
  overwrite it.

Slopes of a piecewise-linear entry come from its exact sympy expression: the
kink locations are the roots of its conditions, and the analytic derivative is
evaluated at every kink, between kinks and beyond them. A spec whose expression
cannot be analysed that way keeps a float tensor instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import Activation

MAX_SLOPES = 8  # more distinct slopes than this and a float tensor is kept instead


@dataclass(frozen=True)
class Native:
    """torch's own implementation of a catalog entry.

    ``fn(x, **p)`` receives the parameters named in ``takes``; every other
    parameter of the entry must be at its catalog default for the native kernel
    to apply.
    """

    call: str  # the torch function, for describe()
    fn: Callable[..., Any]
    takes: tuple[str, ...] = ()

    def accepts(self, act: Activation) -> bool:
        defaults = act.spec.defaults
        return all(v == defaults[k] for k, v in act.params.items() if k not in self.takes)

    def __call__(self, x: Any, params: dict[str, float]) -> Any:
        return self.fn(x, **{k: params[k] for k in self.takes})


def _native_table() -> dict[str, Native]:
    import torch
    from torch.nn import functional

    return {
        "sigmoid": Native("torch.sigmoid", torch.sigmoid),
        "tanh": Native("torch.tanh", torch.tanh),
        "elu": Native("torch.nn.functional.elu", functional.elu, takes=("alpha",)),
        "celu": Native("torch.nn.functional.celu", functional.celu, takes=("alpha",)),
        "selu": Native("torch.nn.functional.selu", functional.selu),
    }


_NATIVE: dict[str, Native] | None = None


def native_table() -> dict[str, Native]:
    """Catalog name -> torch's own kernel. Only names present in the registry are ever used.

    Criteria for a row: the same function (same parameterisation), agreement with
    the catalog's forward and derivative within its accuracy bar on its test grid
    (+-inf and nan included), one tensor saved for backward, the same gradient
    convention, and double backward supported. Not here: silu, mish, gelu,
    gelu_tanh and hardswish (torch returns nan at -inf or for the gradient at
    +-inf, where the limits are 0 and 1), softplus (torch switches to x above a
    threshold), log_sigmoid (saves a second buffer on CPU), and the
    piecewise-linear entries (actlab's 1-byte slope code saves more memory).
    ``tests/test_torch_functional.py::test_native_matches_generic`` checks each row.
    """
    global _NATIVE
    if _NATIVE is None:
        _NATIVE = _native_table()
    return _NATIVE


@dataclass(frozen=True, eq=False)
class Plan:
    act: Activation
    saves: str  # "input" | "output" | "both" | "mask" | "none"
    table: tuple[float, ...] = ()
    native: Native | None = None

    @property
    def name(self) -> str:
        return self.act.name

    @property
    def params(self) -> dict[str, float]:
        return self.act.params

    @property
    def inplace_safe(self) -> bool:
        return self.act.is_elementwise and self.saves in ("output", "mask", "none")


_PLANS: dict[tuple[Any, ...], Plan] = {}


def _key(act: Activation) -> tuple[Any, ...]:
    return (act.name, id(act.spec), tuple(act.params.items()))


def plan_for(act: Activation) -> Plan:
    """The cached plan for a bound activation (computing it the first time)."""
    key = _key(act)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _make_plan(act)
    return plan


def cached_plan(act: Activation) -> Plan | None:
    return _PLANS.get(_key(act))


def fallback_plan(act: Activation) -> Plan:
    """A plan that needs no analysis (used while compiling, before a plan is cached)."""
    s = act.spec
    return Plan(act, s.grad_from if s.kind == "elementwise" else _vector_saves(act))


def _vector_saves(act: Activation) -> str:
    return act.spec.grad_from


def _make_plan(act: Activation) -> Plan:
    s = act.spec
    if s.kind != "elementwise":
        return Plan(act, _vector_saves(act))
    nat = native_table().get(s.name)
    if nat is not None and nat.accepts(act):
        return Plan(act, s.grad_from, native=nat)
    if s.piecewise_linear:
        table = slopes(act)
        if table is not None:
            # a constant slope needs no saved tensor, unless f'(nan) = nan must still be told apart
            constant = len(table) == 1 and not _nan_derivative(act)
            return Plan(act, "none" if constant else "mask", table=table)
    return Plan(act, s.grad_from)


def _nan_derivative(act: Activation) -> bool:
    import numpy as np

    with np.errstate(all="ignore"):
        return bool(np.isnan(act.derivative(np.array([math.nan]))).all())


def slopes(act: Activation) -> tuple[float, ...] | None:
    """The distinct values f' takes (at kinks included), for a piecewise-linear activation.

    None where the expression's kinks cannot be located exactly or there are too many.
    """
    import numpy as np
    import sympy

    try:
        x = sympy.Symbol("x", real=True)
        expr = act.sympy().rewrite(sympy.Piecewise)
        points: set[float] = set()
        zeros = [r.lhs - r.rhs for r in expr.atoms(sympy.core.relational.Relational)]
        zeros += [f.args[0] for f in expr.atoms(sympy.Heaviside, sympy.sign)]
        for z in zeros:
            sol = sympy.solveset(z, x, sympy.S.Reals)
            if sol is sympy.S.EmptySet:
                continue
            if not isinstance(sol, sympy.FiniteSet):
                return None
            points |= {float(p) for p in sol}
    except Exception:  # an expression sympy cannot take apart: keep a float tensor
        return None
    kinks = sorted(p for p in points if math.isfinite(p))
    probes = list(kinks)
    probes += [(a + b) / 2 for a, b in zip(kinks, kinks[1:])]
    probes += [kinks[0] - 1.0, kinks[-1] + 1.0] if kinks else [-1.0, 0.0, 1.0]
    probes += [math.inf, -math.inf, math.nan]  # whatever the derivative says there is a code too
    with np.errstate(all="ignore"):
        d = np.asarray(act.derivative(np.asarray(probes, dtype=np.float64)), dtype=np.float64)
    values = sorted({float(v) for v in d.tolist() if not math.isnan(v)})
    if not values or len(values) > MAX_SLOPES:
        return None
    return tuple(values)
