"""Shared names for the catalog modules."""

import math

from array_api_compat import device as _device

from ..core import (  # noqa: F401 - re-exported for the family modules
    C0,
    C1,
    C2,
    DISCONTINUOUS,
    SMOOTH,
    ActivationSpec,
    Kink,
    Param,
    Properties,
    register,
)

inf = math.inf
pi = math.pi
SQRT2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# |x| beyond which x**2 is not needed: clip to it so that x**2 cannot overflow in
# float32 (1e36 < 3.4e38) while every correction term is far below float64 eps.
BIG = 1e18


def pick(cond, a, b, like, o):
    """``where(cond, a, b)`` for scalars a, b, in ``like``'s dtype and device."""
    dev = _device(like)
    return o.where(cond, o.asarray(a, dtype=like.dtype, device=dev), o.asarray(b, dtype=like.dtype, device=dev))


def step01(cond, like, o):
    """1 where ``cond`` holds, else 0, in ``like``'s dtype."""
    return o.astype(cond, like.dtype)
