"""Parameter specifications: default, valid interval, learnability."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ParameterError


@dataclass(frozen=True)
class Param:
    """One scalar parameter of an activation.

    The valid interval is ``[low, high]``; ``open_low`` / ``open_high`` make an
    end exclusive. ``learnable`` says whether the paper trains it.
    """

    name: str
    default: float
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    learnable: bool = False
    doc: str = ""

    @property
    def interval(self) -> str:
        left = "(" if self.open_low or math.isinf(self.low) else "["
        right = ")" if self.open_high or math.isinf(self.high) else "]"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def contains(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def validate(self, value: object, owner: str) -> float:
        """Return ``value`` as a float, or raise ``ParameterError`` naming it."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:  # numpy / torch / jax scalars
                value = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ParameterError(
                    f"{owner}: parameter {self.name!r} must be a real number in {self.interval}, "
                    f"got {value!r}"
                ) from None
        value = float(value)
        if not self.contains(value):
            raise ParameterError(
                f"{owner}: parameter {self.name!r} must lie in {self.interval}, got {value!r}"
            )
        return value


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:g}"
