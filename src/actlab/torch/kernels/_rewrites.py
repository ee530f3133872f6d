"""Algebraic rewrites: faster forms of catalog entries, kept only where measured faster.

Each rewrite is written against ``ops`` exactly like a catalog entry, so the same
tracer turns it into the C and Triton kernels, and tests/test_kernels.py checks it
against the catalog's own forward and derivative on the extreme grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rewrite:
    forward: Callable
    derivative: Callable
    grad_from: str = "input"
    why: str = ""


REWRITES: dict[str, Rewrite] = {}
