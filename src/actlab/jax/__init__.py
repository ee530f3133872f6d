"""actlab on JAX: every catalog entry as a jit-compatible function with the analytic derivative.

>>> import jax, jax.numpy as jnp
>>> import actlab.jax as aj
>>> aj.leaky_relu(jnp.array([-2.0, 3.0]), negative_slope=0.1)
Array([-0.2,  3. ], dtype=float32)
>>> jax.grad(lambda x: aj.mish(x).sum())(jnp.zeros(2))       # custom_jvp: f' from the catalog
Array([0.6, 0.6], dtype=float32)
>>> aj.apply("softmax", jnp.zeros((2, 3)), axis=1).sum(1)
Array([1., 1.], dtype=float32)

Elementwise entries carry a ``jax.custom_jvp`` whose tangent is the catalog's
analytic derivative (so the gradient convention at a kink is the catalog's,
e.g. relu'(0) = 0, and nothing overflows where autodiff of the forward would);
the rule is written in jax ops, so higher derivatives work too. Vector-valued
entries (softmax, GLU, ...) take ``axis`` and carry a ``jax.custom_vjp`` from the
catalog's VJP (reverse mode only).

Parameters are Python numbers, validated like everywhere in actlab (each
value set gets its own compiled rule; pass them with ``functools.partial`` or
as static arguments under ``jax.jit``). A parameter given as a jax array (to
learn it) is differentiated by autodiff through the catalog forward instead.

Dtypes follow actlab's policy: floating inputs keep their dtype, fp16/bf16 are
computed in fp32, integers and bools are promoted, complex raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax

import actlab

from ..core import Activation, namespace, prepare, restore
from ..core.errors import ParameterError
from ..core.registry import _key

__all__ = ["apply", "function"]

_OPS = namespace("jax")
_RULES: dict[tuple[Any, ...], Callable[..., Any]] = {}


def _elementwise_rule(act: Activation) -> Callable[[Any], Any]:
    spec, params = act.spec, dict(act.params)
    deriv = spec.derivative
    assert deriv is not None, spec.name

    @jax.custom_jvp
    def f(x: Any) -> Any:
        return spec.forward(x, _OPS, **params)

    @f.defjvp
    def f_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        y = f(x)
        d = deriv(x if spec.grad_from != "output" else None,
                  y if spec.grad_from != "input" else None, _OPS, **params)
        return y, d * t

    return f


def _vector_rule(act: Activation) -> Callable[[Any, int], Any]:
    spec, params = act.spec, dict(act.params)
    vjp = spec.vjp
    assert vjp is not None, spec.name

    @partial(jax.custom_vjp, nondiff_argnums=(1,))
    def f(x: Any, axis: int) -> Any:
        return spec.forward(x, _OPS, axis, **params)

    def fwd(x: Any, axis: int) -> tuple[Any, tuple[Any, Any]]:
        y = f(x, axis)
        return y, (x, y)

    def bwd(axis: int, res: tuple[Any, Any], g: Any) -> tuple[Any]:
        x, y = res
        return (vjp(x, y, g, _OPS, axis, **params),)

    f.defvjp(fwd, bwd)
    return f


def _rule(act: Activation) -> Callable[..., Any]:
    key = (act.name, id(act.spec), tuple(act.params.items()))
    rule = _RULES.get(key)
    if rule is None:
        rule = _RULES[key] = _elementwise_rule(act) if act.is_elementwise else _vector_rule(act)
    return rule


def _is_array(v: Any) -> bool:
    return isinstance(v, jax.Array) or hasattr(v, "aval")  # arrays and tracers


def apply(name: str | Activation, x: Any, *, axis: int = -1, **params: Any) -> Any:
    """``f(x)`` for the activation ``name`` with ``params``; ``axis`` for vector-valued entries."""
    arrays = {k: v for k, v in params.items() if _is_array(v)}
    act = actlab.get(name, **{k: v for k, v in params.items() if k not in arrays})
    unknown = sorted(set(arrays) - set(act.spec.param_names))
    if unknown:
        raise ParameterError(f"{act.name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                             f"valid parameters: {', '.join(act.spec.param_names) or 'none'}")
    xc, ops, out_dtype = prepare(x, act.name)
    if not act.is_elementwise:
        ax = act._check_axis(xc, axis)
        if arrays:
            return restore(act.spec.forward(xc, ops, ax, **{**act.params, **arrays}), out_dtype)
        return restore(_rule(act)(xc, ax), out_dtype)
    if arrays:  # learnable parameters: autodiff through the catalog forward
        return restore(act.spec.forward(xc, ops, **{**act.params, **arrays}), out_dtype)
    return restore(_rule(act)(xc), out_dtype)


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def function(name: str) -> Callable[..., Any]:
    """The function ``actlab.jax.NAME`` for a catalog name or alias."""
    spec = actlab.spec(name)
    fn = _FUNCTIONS.get(spec.name)
    if fn is not None:
        return fn
    canonical = spec.name

    if spec.kind == "elementwise":
        def fn(x: Any, **params: Any) -> Any:
            return apply(canonical, x, **params)
    else:
        def fn(x: Any, axis: int = -1, **params: Any) -> Any:  # type: ignore[misc]
            return apply(canonical, x, axis=axis, **params)

    fn.__name__ = fn.__qualname__ = canonical
    fn.__module__ = __name__
    fn.__doc__ = (f"{spec.description}\n\n"
                  + "".join(f"    {p.name}: {p.doc or 'parameter'} (default {p.default:g}, "
                            f"range {p.interval})\n" for p in spec.params)
                  + f"\nSee ``actlab.get({canonical!r})`` for its formula and properties.")
    _FUNCTIONS[canonical] = fn
    return fn


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return function(_key(name))
    except KeyError:
        raise AttributeError(f"module 'actlab.jax' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *actlab.names()})
