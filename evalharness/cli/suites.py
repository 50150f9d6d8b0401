"""Commands over suites and the registries: validate, list, generate, schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from evalharness.cli.common import app, fail_config


@app.command()
def validate(
    paths: List[str] = typer.Argument(..., help="suite files or directories"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Check suites without running them. Exit 2 on any problem, listing every one."""
    from evalharness.errors import ConfigError
    from evalharness.suite.loader import load_suites

    _plugin_warnings(load=False)  # installed plugins named like a built-in (read from metadata, none imported)
    try:
        suites = load_suites(paths, root=suite_root, trust_endpoints=trust_suite_endpoints)
    except ConfigError as e:
        fail_config(e)
    for s in suites:
        print(f"ok  {s.path}  suite={s.name} category={s.category} cases={len(s.cases)}")


def _plugin_warnings(load: bool, scorers: bool = True, mutators: bool = True) -> None:
    """Say on stderr which installed plugins are not used (evalharness/plugins.py): one named like a
    built-in (the built-in wins) and, with `load`, one that cannot be imported."""
    lines: list[str] = []
    if scorers:
        from evalharness.scorers.base import plugin_warnings

        lines += plugin_warnings(load)
    if mutators:
        from evalharness.mutators import plugin_warnings as mutator_warnings

        lines += mutator_warnings(load)
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


@app.command("list")
def list_(what: str = typer.Argument(..., help="what to list: scorers or mutators")) -> None:
    """List registered components (scorers, mutators) with their descriptions and arguments."""
    if what == "mutators":
        from evalharness.mutators import all_mutators

        for m in all_mutators().values():
            origin = f" (plugin: {m.plugin.dist})" if m.plugin is not None else ""
            print(f"{m.name:20} {m.description}{origin}")
        print(f"{'paraphrase':20} an LLM writes N rewrites of each seed (evalharness generate --paraphrase N ...)")
        _plugin_warnings(load=True, scorers=False)
        return
    if what != "scorers":
        fail_config(ValueError(f"cannot list {what!r}; try `evalharness list scorers` or `list mutators`"))
    from rich.console import Console
    from rich.table import Table

    from evalharness.scorers.base import all_scorers, scorer_origin

    t = Table(title="scorers", show_lines=True)
    for col in ("name", "description", "arguments", "needs judge"):
        t.add_column(col)
    for name, info in all_scorers().items():
        args = []
        for fname, f in info.args.model_fields.items():
            key = f.alias or fname
            default = "required" if f.is_required() else f"default {f.get_default(call_default_factory=True)!r}"
            args.append(f"{key} ({default})" + (f": {f.description}" if f.description else ""))
        origin = scorer_origin(name)
        description = info.description + (f" (plugin: {origin})" if origin else "")
        t.add_row(name, description, "\n".join(args) or "-", "yes" if info.needs_judge else "no")
    Console().print(t)
    _plugin_warnings(load=True, mutators=False)


@app.command()
def generate(
    suite: Path = typer.Argument(..., help="a suite file"),
    mutators: str = typer.Option("", "--mutators", help="comma-separated mutator names (see `list mutators`)"),
    seed: int = typer.Option(0, "--seed"),
    output: Path = typer.Option(..., "-o", "--output", help="where to write the expanded suite (YAML)"),
    paraphrase: int = typer.Option(0, "--paraphrase", min=0, max=20, help="also ask an LLM for N rewrites of each seed"),
    paraphrase_base_url: Optional[str] = typer.Option(None, "--paraphrase-base-url", help="endpoint that writes the rewrites"),
    paraphrase_model: Optional[str] = typer.Option(None, "--paraphrase-model"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
) -> None:
    """Write a suite with every case expanded by the mutators (and LLM paraphrases), for review before it is run."""
    from evalharness import api

    endpoint = api.Endpoint(paraphrase_base_url, paraphrase_model) if paraphrase_base_url or paraphrase_model else None
    try:
        written = api.generate(suite, output, mutators=mutators, seed=seed, paraphrase=paraphrase,
                               paraphrase_endpoint=endpoint, cache_dir=cache_dir)
    except api.ConfigError as e:
        fail_config(e)
    for e in written.errors:
        print(f"paraphrase failed: {e}", file=sys.stderr)
    print(f"wrote {written.cases} cases from {written.seeds} seeds to {written.path}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the suite format (for editor autocompletion)."""
    from evalharness.suite.schema import suite_json_schema

    print(json.dumps(suite_json_schema(), indent=2))  # plugin scorers included (scorers.base.all_scorers)
    _plugin_warnings(load=True, mutators=False)
