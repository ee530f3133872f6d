"""The activation spec (one definition per function) and its bound form.

An ``ActivationSpec`` is what a catalog module registers. ``Activation`` is a
spec with validated parameter values: the object users call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import array_api_compat

from .backend import prepare, restore
from .errors import AxisError, ParameterError
from .params import Param

# Smoothness classes, ordered: f discontinuous, C0, C1, C2, C-infinity.
DISCONTINUOUS, C0, C1, C2, SMOOTH = -1, 0, 1, 2, 3
SMOOTHNESS_NAMES = {DISCONTINUOUS: "discontinuous", C0: "C0", C1: "C1", C2: "C2", SMOOTH: "C∞"}

GradFrom = Literal["input", "output", "both"]


@dataclass(frozen=True)
class Kink:
    """A point where f' jumps (or f does); ``grad`` is what ``derivative`` returns there."""

    at: float
    grad: float


@dataclass(frozen=True)
class Properties:
    """Declared metadata, at the default parameters; ``actlab.analysis`` checks each field.

    - ``range``: (inf f, sup f) over the real line.
    - ``monotonic``: f is non-decreasing.
    - ``smoothness``: DISCONTINUOUS, C0, C1, C2 or SMOOTH (C-infinity).
    - ``zero_centred``: |E f(z)| <= 0.05 * sqrt(E f(z)^2) for z ~ N(0, 1).
    - ``kinks``: the points where f' is discontinuous, with the gradient convention there.
    """

    range: tuple[float, float]
    monotonic: bool
    smoothness: int
    zero_centred: bool
    kinks: tuple[Kink, ...] = ()

    @property
    def bounded_above(self) -> bool:
        return math.isfinite(self.range[1])

    @property
    def bounded_below(self) -> bool:
        return math.isfinite(self.range[0])

    @property
    def bounded(self) -> bool:
        return self.bounded_above and self.bounded_below

    def as_dict(self) -> dict[str, Any]:
        return {
            "range": list(self.range),
            "bounded_above": self.bounded_above,
            "bounded_below": self.bounded_below,
            "monotonic": self.monotonic,
            "smoothness": SMOOTHNESS_NAMES[self.smoothness],
            "zero_centred": self.zero_centred,
            "kinks": [{"at": k.at, "grad": k.grad} for k in self.kinks],
        }


@dataclass(frozen=True, eq=False)
class ActivationSpec:
    """One activation, defined once.

    Elementwise entries give ``forward(x, ops, **params)`` and
    ``derivative(x, y, ops, **params)``; ``grad_from`` says which of ``x`` (input)
    and ``y`` (output) the derivative reads, the other being passed as ``None``.
    ``expression`` is sympy source text in ``x`` and the parameter names.

    Vector-valued entries (``kind="vector"``) take an ``axis`` and give
    ``forward(x, ops, axis, **params)``, ``vjp(x, y, g, ops, axis, **params)``
    and, optionally, ``jacobian``; their exact form is ``vector_expression(sympy,
    xs, **params)`` returning one sympy expression per output, or an mpmath
    ``reference(xs, **params)`` where no closed form exists.

    ``peers`` maps "torch" / "jax" to ``fn(module, x, **params)`` calling that
    library's own implementation of the same function.
    """

    name: str
    family: str
    description: str
    forward: Callable[..., Any]
    properties: Properties
    expression: str = ""
    derivative: Callable[..., Any] | None = None
    grad_from: GradFrom = "input"
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    paper: str = ""
    year: int | None = None
    notes: str = ""
    piecewise_linear: bool = False
    peers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    kind: Literal["elementwise", "vector"] = "elementwise"
    vjp: Callable[..., Any] | None = None
    jacobian: Callable[..., Any] | None = None
    vector_expression: Callable[..., list[Any]] | None = None
    reference: Callable[..., list[Any]] | None = None
    latex: str = ""
    integer_params: tuple[str, ...] = ()
    check: Callable[..., str | None] | None = None  # cross-parameter constraint: message or None
    sympy_expression: Any = None  # a ready sympy expression, used instead of parsing `expression`

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}

    @property
    def learnable(self) -> bool:
        return any(p.learnable for p in self.params)

    def sympy(self, **params: float) -> Any:
        """The sympy expression; parameters given by value are substituted."""
        import sympy

        if not self.expression:
            raise NotImplementedError(f"{self.name} is vector-valued; use vector_expression")
        symbols = {p: sympy.Symbol(p, real=True) for p in self.param_names}
        x = sympy.Symbol("x", real=True)
        if self.sympy_expression is not None:  # e.g. a formula entry: never re-parsed from text
            expr = self.sympy_expression
        else:
            expr = sympy.parse_expr(self.expression, local_dict={"x": x, **symbols, **_SYMPY_EXTRAS()})
        # exact binary value of each float, so the reference sees the same numbers we compute with
        return expr.subs({symbols[k]: sympy.Rational(v) for k, v in params.items()})

    def bind(self, **params: Any) -> Activation:
        return Activation(self, params)


def _SYMPY_EXTRAS() -> dict[str, Any]:  # noqa: N802 - constant-like factory
    import sympy

    x = sympy.Symbol("_t")
    return {
        "sigmoid": sympy.Lambda(x, 1 / (1 + sympy.exp(-x))),
        "softplus": sympy.Lambda(x, sympy.log(1 + sympy.exp(x))),
        "Heaviside": sympy.Heaviside,
    }


class Activation:
    """An activation with its parameter values bound; call it on any array.

    >>> import actlab, numpy as np
    >>> elu = actlab.get("elu", alpha=0.5)
    >>> elu(np.array([-1.0, 0.0, 2.0]))
    array([-0.31606028,  0.        ,  2.        ])
    """

    def __init__(self, spec: ActivationSpec, params: Mapping[str, Any] | None = None) -> None:
        self.spec = spec
        given = dict(params or {})
        unknown = sorted(set(given) - set(spec.param_names))
        if unknown:
            valid = ", ".join(spec.param_names) or "none"
            raise ParameterError(
                f"{spec.name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid parameters: {valid}"
            )
        values: dict[str, float] = {}
        for p in spec.params:
            v = p.validate(given.get(p.name, p.default), spec.name)
            if p.name in spec.integer_params:
                if v != int(v):
                    raise ParameterError(
                        f"{spec.name}: parameter {p.name!r} must be an integer in {p.interval}, got {v!r}"
                    )
                v = int(v)
            values[p.name] = v
        if spec.check is not None and (problem := spec.check(**values)):
            raise ParameterError(f"{spec.name}: {problem}")
        self.params: dict[str, float] = values

    # --- identity -------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def properties(self) -> Properties:
        return self.spec.properties

    @property
    def paper(self) -> str:
        return f"{self.spec.paper} ({self.spec.year})" if self.spec.year else self.spec.paper

    @property
    def is_elementwise(self) -> bool:
        return self.spec.kind == "elementwise"

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and other.spec is self.spec and other.params == self.params

    def __hash__(self) -> int:
        return hash((self.spec.name, tuple(self.params.items())))

    def with_params(self, **params: Any) -> Activation:
        return Activation(self.spec, {**self.params, **params})

    # --- evaluation -----------------------------------------------------
    def __call__(self, x: Any, axis: int = -1) -> Any:
        x, ops, out_dtype = prepare(x, self.name)
        if self.is_elementwise:
            return restore(self.spec.forward(x, ops, **self.params), out_dtype)
        axis = self._check_axis(x, axis)
        return restore(self.spec.forward(x, ops, axis, **self.params), out_dtype)

    def derivative(self, x: Any) -> Any:
        """f'(x), elementwise, from the analytic derivative."""
        self._require_elementwise("derivative")
        x, ops, out_dtype = prepare(x, self.name)
        y = self.spec.forward(x, ops, **self.params) if self.spec.grad_from != "input" else None
        xin = x if self.spec.grad_from != "output" else None
        return restore(self.derivative_from(xin, y, ops), out_dtype)

    def derivative_from(self, x: Any, y: Any, ops: Any) -> Any:
        """f' from whichever of input ``x`` / output ``y`` ``grad_from`` names (no dtype policy)."""
        assert self.spec.derivative is not None, self.name
        return self.spec.derivative(x, y, ops, **self.params)

    def vjp(self, x: Any, g: Any, axis: int = -1) -> Any:
        """Vector-Jacobian product g^T J(x); elementwise entries give g * f'(x)."""
        if self.is_elementwise:
            return g * self.derivative(x)
        x, ops, out_dtype = prepare(x, self.name)
        g, _, _ = prepare(g, self.name)
        axis = self._check_axis(x, axis)
        y = self.spec.forward(x, ops, axis, **self.params)
        assert self.spec.vjp is not None
        return restore(self.spec.vjp(x, y, g, ops, axis, **self.params), out_dtype)

    def jacobian(self, x: Any, axis: int = -1) -> Any:
        """Jacobian along ``axis``: shape (..., n_out, n_in), ``axis`` moved last."""
        x, ops, out_dtype = prepare(x, self.name)
        if self.is_elementwise:
            d = self.derivative(x)
            eye = ops.eye(d.shape[-1], dtype=d.dtype, device=array_api_compat.device(d))
            return restore(d[..., None] * eye, out_dtype)
        axis = self._check_axis(x, axis)
        if self.spec.jacobian is not None:
            return restore(self.spec.jacobian(x, ops, axis, **self.params), out_dtype)
        return restore(self._jacobian_from_vjp(x, ops, axis), out_dtype)

    def _jacobian_from_vjp(self, x: Any, ops: Any, axis: int) -> Any:
        assert self.spec.vjp is not None
        y = self.spec.forward(x, ops, axis, **self.params)
        m = y.shape[axis]
        dev = array_api_compat.device(y)
        rows = []
        for i in range(m):
            e = ops.astype(ops.arange(m, device=dev) == i, y.dtype)
            shape = [1] * y.ndim
            shape[axis] = m
            g = ops.broadcast_to(ops.reshape(e, tuple(shape)), y.shape)
            rows.append(ops.moveaxis(self.spec.vjp(x, y, g, ops, axis, **self.params), axis, -1))
        return ops.stack(rows, axis=-2)

    def _require_elementwise(self, what: str) -> None:
        if not self.is_elementwise:
            raise TypeError(
                f"{self.name} is vector-valued: it has no elementwise {what}; use .vjp() or .jacobian()"
            )

    def _check_axis(self, x: Any, axis: int) -> int:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise AxisError(f"{self.name}: axis must be an int, got {axis!r}")
        if x.ndim == 0:
            raise AxisError(f"{self.name}: needs at least a 1-d array along an axis, got a 0-d array")
        if not -x.ndim <= axis < x.ndim:
            raise AxisError(
                f"{self.name}: axis {axis} is out of range for an array of {x.ndim} dimension(s) "
                f"(valid: {-x.ndim} to {x.ndim - 1})"
            )
        return axis % x.ndim

    # --- symbolic -------------------------------------------------------
    def sympy(self) -> Any:
        return self.spec.sympy(**self.params)

    @cached_property
    def formula(self) -> str:
        """LaTeX of f(x), with symbolic parameters."""
        if self.spec.latex:
            return self.spec.latex
        import sympy

        return f"f(x) = {sympy.latex(self.spec.sympy())}"

    @cached_property
    def derivative_formula(self) -> str:
        """LaTeX of f'(x), from sympy."""
        import sympy

        self._require_elementwise("derivative formula")
        x = sympy.Symbol("x", real=True)
        d = sympy.simplify(sympy.diff(self.spec.sympy(), x))
        return f"f'(x) = {sympy.latex(d)}"

    def describe(self) -> dict[str, Any]:
        """Everything declared about this activation, as plain data."""
        s = self.spec
        return {
            "name": s.name,
            "family": s.family,
            "kind": s.kind,
            "description": s.description,
            "aliases": list(s.aliases),
            "params": {
                p.name: {
                    "value": self.params[p.name],
                    "default": p.default,
                    "range": p.interval,
                    "learnable": p.learnable,
                    "doc": p.doc,
                }
                for p in s.params
            },
            "properties": s.properties.as_dict(),
            "grad_from": s.grad_from,
            "piecewise_linear": s.piecewise_linear,
            "peers": sorted(s.peers),
            "paper": s.paper,
            "year": s.year,
            "notes": s.notes,
            "expression": s.expression,
        }
