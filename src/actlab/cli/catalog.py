"""``actlab list``, ``actlab info`` and ``actlab define``."""

from __future__ import annotations

from typing import Any

import typer

from ..core import Activation
from ..core.spec import SMOOTHNESS_NAMES
from ._common import (
    CLIError,
    console,
    define_formula,
    examples,
    fmt_num,
    fmt_range,
    parse_params,
    print_json,
    resolve_all,
)

KINDS = ("elementwise", "vector")


def summary(act: Activation) -> dict[str, Any]:
    """One catalog row as plain data."""
    p = act.properties
    return {
        "name": act.name,
        "family": act.family,
        "kind": act.spec.kind,
        "description": act.spec.description,
        "aliases": list(act.spec.aliases),
        "range": list(p.range),
        "bounded": p.bounded,
        "bounded_above": p.bounded_above,
        "bounded_below": p.bounded_below,
        "monotonic": p.monotonic,
        "smoothness": SMOOTHNESS_NAMES[p.smoothness],
        "zero_centred": p.zero_centred,
        "learnable": act.spec.learnable,
        "piecewise_linear": act.spec.piecewise_linear,
        "params": dict(act.params),
        "kinks": [{"at": k.at, "grad": k.grad} for k in p.kinks],
        "paper": act.spec.paper,
        "year": act.spec.year,
    }


def _init_gain(act: Activation) -> tuple[float | None, str]:
    try:
        from ..analysis import init_gain
    except Exception as e:  # noqa: BLE001 - the analysis layer is optional here
        return None, f"unavailable (actlab.analysis.init_gain could not be imported: {type(e).__name__})"
    try:
        return float(init_gain(act)), "1 / sqrt(E f(z)^2), z ~ N(0, 1) (actlab.analysis.init_gain)"
    except Exception as e:  # noqa: BLE001 - e.g. vector-valued entries
        return None, f"unavailable ({str(e).splitlines()[0] if str(e) else type(e).__name__})"


def details(act: Activation, trouble: list[str] | None = None) -> dict[str, Any]:
    """Everything ``actlab info`` shows, as plain data."""
    import sympy

    from ..functions.formula import formula_info
    from ..plot._site import formulas

    d = act.describe()
    f_tex, d_tex, f_expr, d_expr = formulas(act)
    d["formula"] = {"latex": f_tex, "text": sympy.sstr(f_expr) if f_expr is not None else None}
    d["derivative"] = (
        {"latex": d_tex, "text": sympy.sstr(d_expr) if d_expr is not None else None} if d_tex else None
    )
    gain, how = _init_gain(act)
    d["init_gain"] = gain
    d["init_gain_note"] = how
    d["paper_citation"] = act.paper
    info = formula_info(act)
    if info is not None:
        d["defined_by_formula"] = info.formula
        d["numerical_trouble"] = trouble if trouble is not None else [str(i) for i in info.issues]
        d["numerical_trouble_range"] = list(info.check_range) if info.check_range else None
    return d


def register(app: typer.Typer) -> None:
    @app.command(
        "list",
        epilog=examples(
            "actlab list",
            "actlab list --family rectified",
            "actlab list --bounded --monotonic",
            "actlab list --smooth --non-monotonic --json",
            "actlab list --kind vector",
        ),
    )
    def list_(
        family: str | None = typer.Option(None, "--family", "-f", help="only this family (e.g. rectified)"),
        kind: str | None = typer.Option(None, "--kind", help="elementwise or vector"),
        bounded: bool | None = typer.Option(None, "--bounded/--unbounded", help="bounded above and below"),
        monotonic: bool | None = typer.Option(None, "--monotonic/--non-monotonic", help="non-decreasing"),
        smooth: bool | None = typer.Option(None, "--smooth/--non-smooth", help="C-infinity"),
        learnable: bool | None = typer.Option(None, "--learnable/--fixed", help="has learnable parameters"),
        zero_centred: bool | None = typer.Option(
            None, "--zero-centred/--not-zero-centred", help="E f(z) ~ 0 for z ~ N(0, 1)"
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ) -> None:
        """List the catalog as a table, filtered by family and properties."""
        import actlab

        filters: dict[str, Any] = {}
        if kind is not None:
            if kind not in KINDS:
                raise CLIError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
            filters["kind"] = kind
        for key, value in (
            ("bounded", bounded),
            ("monotonic", monotonic),
            ("smooth", smooth),
            ("learnable", learnable),
            ("zero_centred", zero_centred),
        ):
            if value is not None:
                filters[key] = value
        acts = actlab.catalog(family, **filters)
        rows = [summary(a) for a in acts]
        if as_json:
            print_json(rows)
            return
        from rich.table import Table
        from rich.text import Text

        t = Table(title=Text(f"{len(rows)} activation(s)"), title_justify="left")
        for col in (
            "name",
            "family",
            "range (inf, sup)",
            "monotonic",
            "smoothness",
            "zero-centred",
            "learnable",
            "parameters",
            "year",
        ):
            t.add_column(col, overflow="fold")
        yn = {True: "yes", False: "no"}
        for r in rows:
            params = ", ".join(f"{k}={fmt_num(v)}" for k, v in r["params"].items())
            t.add_row(
                Text(r["name"]),
                Text(r["family"] + ("" if r["kind"] == "elementwise" else " (vector)")),
                Text(fmt_range(r["range"])),
                yn[r["monotonic"]],
                r["smoothness"],
                yn[r["zero_centred"]],
                yn[r["learnable"]],
                Text(params),
                str(r["year"] or ""),
            )
        console().print(t)

    @app.command(
        "info",
        epilog=examples(
            "actlab info relu",
            "actlab info elu:alpha=0.5",
            "actlab info swish --json",
            'actlab info --formula "x * tanh(softplus(x))"',
            'actlab info --formula "x * sigmoid(beta * x)" --param beta=1.5',
        ),
    )
    def info(
        name: str | None = typer.Argument(None, help="a catalog name, optionally NAME:param=value,..."),
        formula: str | None = typer.Option(None, "--formula", help="an activation defined by a formula in x"),
        param: list[str] | None = typer.Option(  # noqa: B008
            None, "--param", "-p", help="NAME=VALUE: declare a formula parameter (repeatable)"
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Show one activation: formula, derivative, parameters, properties, init gain, paper."""
        if (name is None) == (formula is None):
            raise CLIError("give either an activation NAME or --formula TEXT (see actlab info --help)")
        [(act, trouble)] = resolve_all([name] if name else None, [formula] if formula else None, param)
        d = details(act, trouble)
        if as_json:
            print_json(d)
            return
        _print_details(d)

    @app.command(
        "define",
        epilog=examples(
            'actlab define "x * tanh(softplus(x))"',
            'actlab define "x * sigmoid(beta * x)" --param beta=1.0 --name my_swish',
            'actlab define "log(1 + exp(x))" --range -100 100',
            'actlab define "(exp(x) - 1) / x" --json',
        ),
    )
    def define_cmd(
        formula: str = typer.Argument(..., help="the formula, in x and the declared parameters"),
        name: str | None = typer.Option(None, "--name", help="a name to show it under"),
        param: list[str] | None = typer.Option(  # noqa: B008
            None, "--param", "-p", help="NAME=VALUE: declare a parameter (repeatable)"
        ),
        x_range: tuple[float, float] = typer.Option(
            (-30.0, 30.0), "--range", help="check numerical trouble over LO HI"
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Check a formula the way actlab.define() and a study's \\[\\[activation]] table read it.

        The grammar: numbers, x, the parameters, pi, e, + - * / **, comparisons
        inside where(cond, a, b), piecewise((a, cond), ..., (b, True)) or
        'a if cond else b', and the functions listed below. Prints the parsed
        formula, its derivative, derived properties, and where the formula as
        written overflows or loses precision.
        """
        from ..functions.formula import FUNCTIONS

        lo, hi = x_range
        if not lo < hi:
            raise CLIError(f"--range needs LO < HI, got {lo:g} {hi:g}")
        declared = parse_params(param)
        act, trouble = define_formula(formula, declared, (lo, hi), name=name)
        d = details(act, trouble)
        d["checked_range"] = [lo, hi]
        if as_json:
            print_json(d)
            return
        _print_details(d)
        c = console()
        c.print(f"[dim]functions: {', '.join(sorted(FUNCTIONS))}[/dim]")


def _print_details(d: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    c = console()
    head = Text(d["name"], style="bold")
    vector = "" if d["kind"] == "elementwise" or d["family"] == "vector" else ", vector-valued"
    head.append(f"  {d['family']}{vector}", style="dim")
    c.print(head)
    c.print(Text(d["description"]))
    if d.get("defined_by_formula"):
        c.print(Text(f"defined by formula: {d['defined_by_formula']}"))
    if d["aliases"]:
        c.print(Text("aliases: " + ", ".join(d["aliases"])))
    c.print()
    f = d["formula"]
    if f.get("text"):
        c.print(Text(f"f(x)  = {f['text']}"))
    c.print(Text(f"        LaTeX: {f['latex']}", style="dim"))
    der = d.get("derivative")
    if der:
        if der.get("text"):
            c.print(Text(f"f'(x) = {der['text']}"))
        c.print(Text(f"        LaTeX: {der['latex']}", style="dim"))
    if d["params"]:
        t = Table(title=Text("parameters"), title_justify="left")
        for col in ("name", "value", "default", "valid", "learnable", "meaning"):
            t.add_column(col)
        for k, p in d["params"].items():
            t.add_row(
                Text(k),
                fmt_num(p["value"]),
                fmt_num(p["default"]),
                Text(p["range"]),
                "yes" if p["learnable"] else "no",
                Text(p["doc"] or ""),
            )
        c.print(t)
    pr = d["properties"]
    changed = any(p["value"] != p["default"] for p in d["params"].values())
    c.print(Text("properties" + (" (declared at the default parameters)" if changed else ""), style="bold"))
    lines = [
        ("range (inf, sup)", fmt_range(pr["range"])),
        (
            "bounded",
            "above and below"
            if pr["bounded_above"] and pr["bounded_below"]
            else "above"
            if pr["bounded_above"]
            else "below"
            if pr["bounded_below"]
            else "no",
        ),
        ("monotonic", "yes (non-decreasing)" if pr["monotonic"] else "no"),
        ("smoothness", pr["smoothness"]),
        ("zero-centred", "yes" if pr["zero_centred"] else "no"),
        ("piecewise linear", "yes" if d["piecewise_linear"] else "no"),
    ]
    if pr["kinks"]:
        lines.append(
            ("kinks", ", ".join(f"x = {fmt_num(k['at'])} (f' = {fmt_num(k['grad'])})" for k in pr["kinks"]))
        )
    if d["kind"] == "elementwise":
        lines.append(("backward reads", d["grad_from"]))
    gain = d.get("init_gain")
    lines.append(
        ("init gain", f"{gain:.6g}  [{d['init_gain_note']}]" if gain is not None else d["init_gain_note"])
    )
    if d["peers"]:
        lines.append(("same as", ", ".join(d["peers"])))
    for k, v in lines:
        c.print(Text(f"  {k:18s} {v}"))
    if d.get("paper_citation"):
        c.print(Text(f"paper: {d['paper_citation']}"))
    if d.get("notes"):
        c.print(Text(f"notes: {d['notes']}", style="dim"))
    trouble = d.get("numerical_trouble")
    if trouble is not None:
        rng = d.get("checked_range") or d.get("numerical_trouble_range")
        where = f" inside [{fmt_num(float(rng[0]))}, {fmt_num(float(rng[1]))}]" if rng else ""
        if trouble:
            c.print(Text(f"numerical trouble{where}:", style="bold yellow"))
            for line in trouble:
                c.print(Text(f"  - {line}", style="yellow"))
        else:
            c.print(
                Text(f"numerical trouble{where}: none found (float64 and float32, f and f')", style="green")
            )
