"""``python -m actlab.study [study|runs|show|export] ...``: the study commands without the full CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    import typer

    from ..cli.study import register

    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help="actlab comparison studies (the same commands as `actlab study/runs/show/export`).",
    )
    register(app)
    app(args=argv if argv is not None else sys.argv[1:], prog_name="python -m actlab.study")


if __name__ == "__main__":
    main()
