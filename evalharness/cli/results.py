"""Commands over finished runs: compare, sign-off, reports, snapshot, baseline, routing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from evalharness.cli.common import app, fail_config


@app.command()
def compare(
    run_a: Path = typer.Argument(..., help="the baseline run folder"),
    run_b: Path = typer.Argument(..., help="the candidate run folder"),
    significance: float = typer.Option(0.05, "--significance", help="McNemar p below which a change is significant"),
    max_regression: float = typer.Option(0.0, "--max-regression", help="pass-rate drop tolerated even when significant"),
    top: int = typer.Option(10, "--top", help="flipped cases to list per suite"),
    baseline_target: Optional[str] = typer.Option(None, "--baseline-target", help="run A's target every target of run B is compared with (default: same name, else A's only target)"),
) -> None:
    """Compare two runs: delta with a 95% bootstrap CI, exact McNemar, flipped cases. Exit 1 on a significant regression."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from evalharness import api

    try:
        cmp = api.compare(run_a, run_b, significance=significance, max_regression=max_regression,
                          baseline_target=baseline_target)
    except api.ConfigError as e:
        fail_config(e)
    deltas, pairs, unpaired = cmp.deltas, cmp.pairs, cmp.unpaired
    c = Console(width=200 if not sys.stdout.isatty() else None)
    t = Table(title=f"{run_a.name} -> {run_b.name}")
    for col in ("suite", "target (B vs A)", "scope", "n", "pass A", "pass B", "delta", "95% CI", "McNemar p",
                "pass->fail", "fail->pass", "verdict"):
        t.add_column(col)
    for d in deltas:
        verdict = "REGRESSION" if d.significant_regression else ("worse, not significant" if d.delta < 0 else "ok")
        t.add_row(Text(d.suite), Text(f"{d.target} vs {d.baseline_target}"), Text(d.scope), str(d.n),
                  f"{d.pass_a:.1%}", f"{d.pass_b:.1%}", f"{d.delta:+.3f}",
                  f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]", f"{d.p_value:.4f}", str(len(d.regressed)), str(len(d.improved)),
                  verdict)
    c.print(t)
    for d in cmp.overall:
        for label, ids in (("pass->fail", d.regressed), ("fail->pass", d.improved)):
            for cid in ids[:top]:
                row = pairs[(pairs.suite == d.suite) & (pairs.target == d.target) & (pairs.case_id == cid)].iloc[0]
                c.print(Text(f"{label} {d.suite}/{cid}: A={str(row.output_a)[:80]!r} B={str(row.output_b)[:80]!r}"))
    for t_ in unpaired:  # never silently left out: a target compared with nothing cannot pass
        c.print(Text(f"NOT COMPARED: target '{t_}' of {run_b.name}: no target of {run_a.name} pairs with it "
                     "(choose one with --baseline-target)", style="bold red"))
    for s in cmp.only_in_a:  # a suite the candidate did not run is not a pass
        c.print(Text(f"NOT COMPARED: suite '{s}' is in {run_a.name} but has no responses in {run_b.name}",
                     style="bold red"))
    for s in cmp.only_in_b:
        c.print(Text(f"new suite '{s}': only in {run_b.name}, nothing to compare it with"))
    raise typer.Exit(cmp.exit_code)


@app.command()
def signoff(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    approver: str = typer.Option(..., "--approver", help="who signs off"),
    note: str = typer.Option("", "--note"),
    output: Path = typer.Option(Path("signoff.json"), "-o", "--output"),
) -> None:
    """Write a sign-off bundle: sha256 of the run's files, suite hashes, gate verdicts, approver."""
    from evalharness.signoff import make_signoff, write_signoff

    try:
        bundle = make_signoff(run_dir, approver, note)
    except (OSError, ValueError, KeyError) as e:
        fail_config(e)
    write_signoff(bundle, output)
    print(f"signed off {bundle['run_id']} by {approver}: {output}")


@app.command()
def verify(
    bundle: Path = typer.Argument(..., help="a signoff.json"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="where the run is now (default: as recorded)"),
) -> None:
    """Re-check a sign-off bundle's hashes against the files. Exit 1 if anything changed."""
    from evalharness.signoff import verify_signoff

    try:
        problems = verify_signoff(json.loads(bundle.read_text()), run_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        fail_config(ValueError(f"{bundle}: not a readable sign-off bundle ({e})"))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    print("ok: every file matches the sign-off")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    fmt: str = typer.Option("html", "--format", help="html"),
    output: Path = typer.Option(..., "-o", "--output"),
) -> None:
    """Render a run as a static HTML report (summary, gates, categories, failed cases; output escaped)."""
    if fmt != "html":
        fail_config(ValueError(f"unknown --format {fmt!r}; supported: html"))
    from evalharness.report.html import render_html

    try:
        from evalharness.redact import redact

        output.write_text(redact(render_html(run_dir)), encoding="utf-8")
    except (OSError, KeyError) as e:
        fail_config(ValueError(f"{run_dir}: cannot render ({e})"))
    print(f"wrote {output}")


@app.command()
def snapshot(
    run_dir: Path = typer.Argument(..., help="the run whose outputs are approved"),
    suite: str = typer.Option(..., "--suite", help="suite name in that run"),
    output: Path = typer.Option(..., "-o", "--output", help="golden suite to write, e.g. suites/S.golden.yaml"),
    scorer: str = typer.Option("rouge_l", "--scorer", help="how later runs are compared: exact, rouge_l, or rubric"),
    threshold: Optional[float] = typer.Option(None, "--threshold"),
    target: Optional[str] = typer.Option(None, "--target", help="which target's outputs (default: the first)"),
) -> None:
    """Freeze a run's approved outputs as a regression suite (category: regression, expected = the output)."""
    from evalharness import api

    try:
        written = api.snapshot(run_dir, suite, output, scorer=scorer, threshold=threshold, target=target)
    except api.ConfigError as e:
        fail_config(e)
    print(f"wrote {written.cases} golden cases to {written.path}")


@app.command("baseline")
def baseline_cmd(
    action: str = typer.Argument(..., help="set | show"),
    run_dir: Optional[Path] = typer.Argument(None, help="the run to pin (for `set`)"),
    reports: Path = typer.Option(Path("reports"), "--reports"),
) -> None:
    """Pin a baseline run (`baseline set RUN`); `run --baseline pinned` then compares against it."""
    from evalharness.results.manifest import read_manifest, utcnow

    pointer = reports / "baseline.json"
    if action == "show":
        if not pointer.is_file():
            fail_config(ValueError(f"no baseline pinned ({pointer} does not exist)"))
        print(pointer.read_text())
        return
    if action != "set" or run_dir is None:
        fail_config(ValueError("usage: evalharness baseline set RUN | evalharness baseline show"))
    try:
        run_id = read_manifest(run_dir)["run_id"]
    except (OSError, KeyError, ValueError) as e:
        fail_config(ValueError(f"{run_dir}: not a run folder ({e})"))
    reports.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps({"run_id": run_id, "path": str(run_dir.resolve()), "set_at": utcnow()}, indent=2))
    print(f"baseline pinned: {run_id} ({pointer})")


@app.command()
def route(
    runs: List[Path] = typer.Argument(..., help="run folder(s); several runs are compared as target @ run"),
    bar: float = typer.Option(..., "--bar", help="pass rate a target must reach in a category to be routed there"),
    by: str = typer.Option("category", "--by", help="overall, category, suite or tag"),
    cost: str = typer.Option("latency", "--cost", help="what 'cheapest' means: latency (p50 ms) or tokens (per case)"),
    conservative: bool = typer.Option(False, "--conservative", help="compare the lower end of the 95% CI with the bar"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the routing table as YAML here"),
) -> None:
    """Routing table: per category (or tag), the cheapest target that meets the bar. Exit 1 if one has none."""
    import yaml
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from evalharness.views import catalog, sizing, tables

    if not 0 <= bar <= 1:
        fail_config(ValueError(f"--bar must be between 0 and 1, got {bar}"))
    for r in runs:
        row = catalog.read_run(r)
        if not row["readable"]:
            fail_config(ValueError(f"{r}: {row['problem']}"))
    verdicts, _ = tables.load_verdicts(list(runs))
    try:
        qc = sizing.quality_cost(verdicts, by, cost)
    except ValueError as e:
        fail_config(e)
    table = sizing.routing(qc, bar, conservative)
    t = Table(title=f"cheapest target with pass rate >= {bar:g} per {by} (cost: {sizing.COSTS[cost]})")
    for col in ("scope", "target", "pass rate", "95% CI low", "cost", "n", "note"):
        t.add_column(col)
    for r in table.itertuples():
        t.add_row(Text(str(r.scope)), Text(str(r.target or "-")), f"{r.pass_rate:.3f}", f"{r.ci_low:.3f}",
                  f"{r.cost:.1f}", str(r.n), Text(r.note))
    Console(width=200 if not sys.stdout.isatty() else None).print(t)
    if output is not None:
        doc = sizing.routing_document(table, bar=bar, scope=by, cost=cost, conservative=conservative,
                                      runs=[r.name for r in runs])
        output.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        typer.echo(f"wrote {output}")
    raise typer.Exit(0 if table["meets_bar"].all() else 1)
