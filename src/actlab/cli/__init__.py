"""The ``actlab`` command.

    actlab list [--family F] [--bounded] [--monotonic] [--smooth] [--learnable] [--kind K] [--json]
    actlab info NAME[:param=value,...] | --formula TEXT [--param NAME=VALUE] [--json]
    actlab plot NAME[:param=value] ... [--formula TEXT] [--derivative] [--range LO HI] [-o out.png|svg|pdf]
    actlab gallery -o site/
    actlab recommend --task binary|multiclass|multilabel|regression --layer hidden|output
                     [--store DB] [--json]
    actlab define FORMULA [--param NAME=VALUE] [--range LO HI] [--json]
    actlab study | runs | show | export      (the comparison study; see actlab study --help)

Bad input gives one line on stderr, ``actlab: error: ...``, and exit status 1
(2 for a malformed command line). :func:`main` is the entry point.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from ..core import ActlabError
from ._common import fail, one_line

app = typer.Typer(
    name="actlab",
    help="Activation functions: look them up, plot them, choose one, and compare them on your data.",
    epilog="[bold]Examples[/bold]\n\n  [cyan]$ actlab list --family rectified[/cyan]\n\n"
    "  [cyan]$ actlab info gelu[/cyan]\n\n  [cyan]$ actlab plot relu elu:alpha=0.5 --derivative -o relu.png"
    "[/cyan]\n\n  [cyan]$ actlab recommend --task multiclass --layer output[/cyan]\n\n"
    "  [cyan]$ actlab gallery -o site/[/cyan]\n\n  [cyan]$ actlab study[/cyan]\n\n"
    "Run [bold]actlab COMMAND --help[/bold] for a command's options and examples.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"actlab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version"
    ),
) -> None:
    """Activation functions: look them up, plot them, choose one, and compare them on your data."""


def _register_all() -> None:
    from . import advice, catalog, plotting

    catalog.register(app)
    plotting.register(app)
    advice.register(app)
    try:
        from . import study
    except ImportError:  # the study commands are optional
        study = None  # type: ignore[assignment]
    if study is not None:
        study.register(app)


_register_all()


def _usage_error(e: BaseException) -> bool:
    """A click/typer usage error (typer vendors click; match by behaviour, not by class)."""
    return hasattr(e, "format_message") and hasattr(e, "exit_code") and hasattr(e, "show")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status. Errors are one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="actlab", standalone_mode=False)
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        print("actlab: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("actlab: interrupted", file=sys.stderr)
        return 130
    except ActlabError as e:
        try:
            fail(str(e).replace("(actlab.names() lists all)", "(actlab list shows all)"))
        except typer.Exit as x:
            return int(x.exit_code)
    except Exception as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # the help was printed
            return 0
        if _usage_error(e):
            ctx = getattr(e, "ctx", None)
            cmd = ctx.command_path if ctx is not None else "actlab"
            message = e.format_message()  # type: ignore[attr-defined]
            print(f"actlab: error: {one_line(message)} (see {cmd} --help)", file=sys.stderr)
            return int(getattr(e, "exit_code", 2) or 2)
        raise
    except SystemExit as e:  # a command may still call sys.exit
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return int(result) if isinstance(result, int) else 0


__all__ = ["app", "main"]
