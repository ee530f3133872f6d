"""The one error hierarchy of actlab.

Each error also derives from the builtin a caller would naturally catch
(``KeyError`` for an unknown name, ``ValueError`` for a bad value, ``TypeError``
for a bad input type), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ActlabError(Exception):
    """Base class of every error actlab raises on purpose."""


class UnknownActivationError(ActlabError, KeyError):
    """No activation is registered under that name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.suggestions = difflib.get_close_matches(name.lower(), list(known), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        super().__init__(f"unknown activation {name!r}{hint} (actlab.names() lists all)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ParameterError(ActlabError, ValueError):
    """A parameter is unknown, or outside its valid range."""


class InputTypeError(ActlabError, TypeError):
    """An input array has a dtype no activation accepts (complex, object, string)."""


class AxisError(ActlabError, ValueError):
    """An axis or split size does not fit the input's shape."""


class FormulaError(ActlabError, ValueError):
    """A formula string was rejected by the parser."""

    def __init__(self, message: str, formula: str = "", position: int | None = None) -> None:
        self.formula = formula
        self.position = position
        if position is not None and formula:
            message = f"{message}\n  {formula}\n  {' ' * position}^"
        super().__init__(message)


class ConfigError(ActlabError, ValueError):
    """A study configuration is malformed."""


class StoreError(ActlabError, RuntimeError):
    """The run store is locked, corrupt, or unreadable."""


class DatasetError(ActlabError, OSError):
    """A dataset could not be found or read."""
