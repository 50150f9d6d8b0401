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



@app.callback()
def _startup(ctx: typer.Context) -> None:
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
