"""``actlab plot`` and ``actlab gallery``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from ._common import CLIError, examples, resolve_all, warn


def _default_output(labels: list[str]) -> Path:
    stem = "_".join(re.sub(r"[^A-Za-z0-9_.=-]+", "_", s).strip("_") for s in labels[:3]) or "activations"
    return Path(f"{stem[:60]}.png")


def register(app: typer.Typer) -> None:
    @app.command(
        "plot",
        epilog=examples(
            "actlab plot relu",
            "actlab plot relu leaky_relu elu:alpha=0.5 --derivative",
            "actlab plot sigmoid tanh --derivative --range -6 6 -o sigmoid_tanh.svg",
            'actlab plot --formula "x * tanh(softplus(x))" mish -d -o mish.pdf',
            'actlab plot --formula "x * sigmoid(beta * x)" --param beta=2 silu',
        ),
    )
    def plot(
        names: list[str] | None = typer.Argument(None, help="activations: NAME or NAME:param=value,..."),  # noqa: B008
        formula: list[str] | None = typer.Option(  # noqa: B008
            None, "--formula", help="an activation defined by a formula in x (repeatable)"
        ),
        param: list[str] | None = typer.Option(  # noqa: B008
            None, "--param", "-p", help="NAME=VALUE: declare a formula parameter (repeatable)"
        ),
        derivative: bool = typer.Option(
            False, "--derivative", "-d", help="also draw f' (dashed, same colour)"
        ),
        x_range: tuple[float, float] = typer.Option((-5.0, 5.0), "--range", help="x from LO to HI"),
        points: int = typer.Option(1001, "--points", help="samples along x", min=2, max=200001),
        output: Path | None = typer.Option(  # noqa: B008
            None, "--output", "-o", help="the file to write: .png, .svg or .pdf (default: NAMES.png here)"
        ),
        title: str | None = typer.Option(None, "--title", help="figure title (default: the names)"),
    ) -> None:
        """Plot activations and (with --derivative) their derivatives on one figure."""
        from ..plot import FORMATS, activation_label, curves, save

        lo, hi = x_range
        if not lo < hi:
            raise CLIError(f"--range needs LO < HI, got {lo:g} {hi:g}")
        if not names and not formula:
            raise CLIError("nothing to plot: give activation names and/or --formula (see actlab plot --help)")
        if output is not None and output.suffix.lower().lstrip(".") not in FORMATS:
            raise CLIError(f"--output must end in {', '.join('.' + f for f in FORMATS)}; got {str(output)!r}")
        resolved = resolve_all(names, formula, param, check_range=(lo, hi))
        for act, trouble in resolved:
            for line in trouble:
                warn(f"{activation_label(act)}: {line}")
        acts = [a for a, _ in resolved]
        fig = curves(acts, derivative=derivative, x_range=(lo, hi), points=points, title=title)
        path = output if output is not None else _default_output([activation_label(a) for a in acts])
        save(fig, path)
        print(f"wrote {path}")

    @app.command(
        "gallery",
        epilog=examples(
            "actlab gallery -o site/",
            "actlab gallery -o site/ --only relu --only gelu --only mish",
            "python -m http.server -d site  # or open site/index.html directly",
        ),
    )
    def gallery(
        output: Path = typer.Option(  # noqa: B008
            Path("site"),
            "--output",
            "-o",
            help="folder to write index.html and its images into (created if needed)",
        ),
        only: list[str] | None = typer.Option(None, "--only", help="only these activations (repeatable)"),  # noqa: B008
        formula: list[str] | None = typer.Option(  # noqa: B008
            None, "--formula", help="add an activation defined by a formula (repeatable)"
        ),
        param: list[str] | None = typer.Option(None, "--param", "-p", help="NAME=VALUE for --formula"),  # noqa: B008
        x_range: tuple[float, float] = typer.Option(
            (-5.0, 5.0), "--range", help="x from LO to HI in the plots"
        ),
    ) -> None:
        """Write a static, offline HTML page with every activation: plots, formulas, a sortable table."""
        from ..plot import gallery as build

        lo, hi = x_range
        if not lo < hi:
            raise CLIError(f"--range needs LO < HI, got {lo:g} {hi:g}")
        if output.exists() and not output.is_dir():
            raise CLIError(f"--output {str(output)!r} is a file; give a folder")
        names = None
        if only or formula:
            resolved = resolve_all(only, formula, param, check_range=(lo, hi))
            names = [a.name for a, _ in resolved]
            if not only:  # --formula alone adds to the whole catalog
                import actlab

                names = [*actlab.names(), *[n for n in names if n not in actlab.names()]]
        tty = sys.stderr.isatty()

        def progress(name: str) -> None:
            print(f"\r  rendering {name:<30s}", end="", file=sys.stderr, flush=True)

        index = build(
            output, names=names, x_range=(lo, hi), progress=progress if tty else None, on_problem=warn
        )
        if tty:
            print("\r" + " " * 42 + "\r", end="", file=sys.stderr)
        print(f"wrote {index}")
