"""Shared pieces of the CLI: consoles, one-line errors, JSON output, resolving names and formulas."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

import typer

from ..core import Activation, ActlabError


class CLIError(ActlabError):
    """Bad input on the command line: printed as one line, exit status 1."""


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal:  # a pipe or a file: do not squeeze tables into 80 columns
        c = Console(stderr=stderr, highlight=False, width=max(c.width, 140))
    return c


def one_line(message: object) -> str:
    text = " ".join(str(message).split("\n")[0].split())
    return text or type(message).__name__


def fail(message: object, code: int = 1) -> NoReturn:
    print(f"actlab: error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(code)


def warn(message: object) -> None:
    print(f"actlab: warning: {one_line(message)}", file=sys.stderr)


def jsonable(v: Any) -> Any:
    """Plain JSON data: non-finite floats become the strings "inf", "-inf", "nan"."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    try:
        return jsonable(float(v))
    except (TypeError, ValueError):
        return str(v)


def print_json(data: Any) -> None:
    print(json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False))


def parse_params(items: list[str] | None) -> dict[str, float]:
    """``["beta=1.5", "a=2"]`` -> ``{"beta": 1.5, "a": 2.0}``."""
    out: dict[str, float] = {}
    for item in items or []:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, eq, value = part.partition("=")
            key = key.strip()
            if not eq or not key:
                raise CLIError(f"--param expects NAME=VALUE, got {part!r} (e.g. --param beta=1.5)")
            try:
                out[key] = float(value)
            except ValueError:
                raise CLIError(f"--param {key}: expected a number, got {value.strip()!r}") from None
    return out


def resolve_all(
    names: list[str] | None,
    formulas: list[str] | None,
    params: list[str] | None,
    check_range: tuple[float, float] | None = None,
) -> list[tuple[Activation, list[str]]]:
    """The activations named (``name`` or ``name:param=value,...``) and defined by ``--formula``.

    Returns ``(activation, numerical-trouble lines)`` pairs; formulas are defined
    (and registered for this process) with the ``--param`` defaults.
    """
    from ..plot import resolve

    out: list[tuple[Activation, list[str]]] = []
    for n in names or []:
        out.append((resolve(n), []))
    declared = parse_params(params)
    if declared and not formulas:
        raise CLIError(
            "--param declares parameters of a --formula; for a catalog entry write NAME:param=value"
        )
    for text in formulas or []:
        out.append(define_formula(text, declared, check_range))
    return out


def define_formula(
    text: str, declared: dict[str, float], check_range: tuple[float, float] | None, name: str | None = None
) -> tuple[Activation, list[str]]:
    from ..functions.formula import DEFAULT_CHECK_RANGE, define, formula_info, parse

    # declare only the parameters this formula uses, so one --param list serves several formulas
    used = [p for p in declared if _mentions(text, p)]
    parse(text, used)  # raises FormulaError with the position first
    act = define(
        text,
        name=name,
        params={p: declared[p] for p in used},
        check_range=check_range or DEFAULT_CHECK_RANGE,
        warn=False,
        replace=name is not None,
    )
    info = formula_info(act)
    lines = [str(i) for i in info.issues] if info else []
    if info and info.hints:
        lines.append("hint: " + "; ".join(info.hints))
    return act, lines


def _mentions(text: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def fmt_num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def fmt_range(r: tuple[float, float]) -> str:
    """(inf f, sup f), as declared."""
    return f"({fmt_num(float(r[0]))}, {fmt_num(float(r[1]))})"


def examples(*lines: str) -> str:
    """An epilog of examples (rich markup keeps lines apart only with blank lines between)."""
    body = "\n\n".join(f"  [cyan]$ {line}[/cyan]" for line in lines)
    return f"[bold]Examples[/bold]\n\n{body}"
