"""`import lm-eval`: results of another harness become an evalharness run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from evalharness.cli.common import app, fail_config

imports = typer.Typer(no_args_is_help=True, help="Turn another harness's results into a run folder.")
app.add_typer(imports, name="import")


@imports.command("lm-eval")
def lm_eval(
    output_dir: Path = typer.Argument(..., help="lm-eval's --output_path (run with --log_samples)"),
    out: str = typer.Option("reports", "--out", help="directory for run folders"),
    target: str | None = typer.Option(None, "--target", help="target name (default: lm-eval's model name)"),
    suite: list[Path] = typer.Option([], "--suite", help="a suite with `lm_eval:` for the same task: its name, case "
                                                         "ids and gate (repeatable)"),
) -> None:
    """lm-eval's samples_*.jsonl + results_*.json → run.json, responses.parquet, scores.parquet; gated like a run."""
    from evalharness.errors import ConfigError
    from evalharness.lifecycle.imports import import_lm_eval
    from evalharness.report.console import print_outcome
    from evalharness.results.run import RunResult

    try:
        outcome = import_lm_eval(output_dir, Path(out), target=target, suites=list(suite))
    except ConfigError as e:
        fail_config(e)
    result = RunResult.from_outcome(outcome)
    print_outcome(result)
    raise typer.Exit(result.exit_code)
