"""The Typer app every command registers on, and the one way a configuration error leaves (exit 2)."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # plain click help: importing rich's help renderer alone costs ~0.3 s
    no_args_is_help=True,
    help="Evaluate models behind OpenAI-compatible endpoints with declarative suites, and gate CI on the results.",
)


def _print_version(value: bool) -> None:
    if value:
        from evalharness import __version__

        print(f"evalharness {__version__}")
        raise typer.Exit(0)


@app.callback()
def _startup(ctx: typer.Context,
             version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="print the version and exit")) -> None:
    # `run` turns garbage collection back on itself, once its start-up is over (evalharness/startup.py)
    if ctx.invoked_subcommand != "run":
        from evalharness import startup

        startup.done()


def fail_config(err: Exception) -> None:
    from rich.console import Console

    c = Console(stderr=True)
    problems = getattr(err, "problems", None)
    if problems:
        c.print(f"[bold red]invalid configuration: {len(problems)} problem(s)[/]")
        for p in problems:
            print(str(p), file=sys.stderr)
    else:
        c.print(f"[bold red]error:[/] {err}", highlight=False)
    from evalharness.exitcodes import ExitCode

    raise typer.Exit(ExitCode.CONFIG)
