"""`evalharness` command line. Heavy modules are imported inside commands so --help is instant."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # plain click help: importing rich's help renderer alone costs ~0.3 s
    no_args_is_help=True,
    help="Evaluate models behind OpenAI-compatible endpoints with declarative suites, and gate CI on the results.",
)

EXIT_CONFIG = 2  # evalharness/exitcodes.py: ExitCode.CONFIG (kept as a plain int: --help must not import more)


@app.callback()
def _startup(ctx: typer.Context) -> None:
    # `run` turns garbage collection back on itself, once its start-up is over (evalharness/startup.py)
    if ctx.invoked_subcommand != "run":
        from evalharness import startup

        startup.done()


def _fail_config(err: Exception) -> None:
    from rich.console import Console

    c = Console(stderr=True)
    problems = getattr(err, "problems", None)
    if problems:
        c.print(f"[bold red]invalid configuration: {len(problems)} problem(s)[/]")
        for p in problems:
            print(str(p), file=sys.stderr)
    else:
        c.print(f"[bold red]error:[/] {err}", highlight=False)
    raise typer.Exit(EXIT_CONFIG)


@app.command()
def run(
    paths: List[str] = typer.Argument(None, help="suite files or directories (default with --resume: the run's own)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"),
    model: Optional[str] = typer.Option(None, "--model", help="model name to send (with --base-url)"),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="environment variable holding the API key"),
    targets_file: Optional[str] = typer.Option(None, "--targets", help="targets YAML file"),
    target: List[str] = typer.Option([], "--target", help="target name (repeatable); built-ins: local, recorded, guarded"),
    serve: List[str] = typer.Option([], "--serve", help="start a server for the run: llamacpp:/path.gguf or vllm:/path"),
    out: str = typer.Option("reports", "--out", help="directory for run folders"),
    repeats: int = typer.Option(1, "--repeats", min=1, help="sample each case N times"),
    stream: bool = typer.Option(False, "--stream", help="stream responses and record time to first token"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the response cache"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="cache directory (default ~/.cache/evalharness)"),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="override concurrency per target"),
    timeout_s: Optional[float] = typer.Option(None, "--timeout", help="override per-request timeout (seconds)"),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", min=0, help="override retries per request"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N cases of each suite"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="finish an interrupted run folder"),
    batch_rows: int = typer.Option(1000, "--batch-rows", min=1, help="rows per Parquet part written during the run"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="judge endpoint (overrides the suites' `default` judge)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="judge model name"),
    judge_api_key_env: Optional[str] = typer.Option(None, "--judge-api-key-env", help="env var holding the judge's API key"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="an earlier run folder, or `pinned`: the regression gate and `pairwise: {against: baseline}` compare with it"),
    baseline_target: Optional[str] = typer.Option(None, "--baseline-target", help="the baseline's target every target is compared with (default: same name, else the baseline's only target)"),
    guard_policy: Optional[str] = typer.Option(None, "--guard-policy", help="policy for the built-in `guarded` target"),
    junit: Optional[str] = typer.Option(None, "--junit", help="write JUnit XML (one testcase per case x target)"),
    summary_md: Optional[str] = typer.Option(None, "--summary", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)"),
    shard: Optional[str] = typer.Option(None, "--shard", help="run shard i/n of the cases (or `auto` from K8s/Slurm/env)"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Run suites against one or more targets, write Parquet, and gate. Exit 0 pass, 1 gate fail, 2 bad config, 3 infrastructure."""
    from evalharness.engine.session import EXIT_INFRA, InfraError, RunOptions, execute
    from evalharness.exitcodes import RunFailed, report_unexpected
    from evalharness.suite.errors import SuiteError

    if resume is not None:
        from evalharness.results.manifest import read_manifest

        from evalharness.engine.session import saved_options

        try:
            opts = saved_options(read_manifest(resume)["options"])
        except (OSError, KeyError, ValueError, TypeError) as e:
            _fail_config(ValueError(f"--resume {resume}: not a run folder with a readable run.json ({e})"))
        if paths:
            opts.paths = list(paths)
    else:
        if not paths:
            _fail_config(ValueError("give suite files or directories, e.g. `evalharness run suites/`"))
        opts = RunOptions(
            paths=list(paths), base_url=base_url, model=model, api_key_env=api_key_env, targets_file=targets_file,
            target_names=list(target), serve=list(serve), out=out, repeats=repeats, stream=stream, cache=not no_cache,
            cache_dir=cache_dir, concurrency=concurrency, timeout_s=timeout_s, max_retries=max_retries, limit=limit,
            batch_rows=batch_rows, judge_base_url=judge_base_url, judge_model=judge_model,
            judge_api_key_env=judge_api_key_env, baseline=baseline, baseline_target=baseline_target,
            guard_policy=guard_policy, junit=junit,
            summary_md=summary_md, shard=shard, suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints,
        )
    import signal

    def _term(signum, frame):  # CI runners cancel with SIGTERM: stop like Ctrl-C, keeping what is stored
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        outcome = execute(opts, resume_dir=resume)
    except SuiteError as e:
        _fail_config(e)
    except InfraError as e:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]infrastructure error:[/] {e}", highlight=False)
        raise typer.Exit(EXIT_INFRA)
    except RunFailed as e:
        raise typer.Exit(report_unexpected(e))
    except KeyboardInterrupt:
        print("\ninterrupted: stored results are kept; finish with `evalharness run --resume <run folder>`",
              file=sys.stderr)
        raise typer.Exit(130)
    from evalharness.report.console import print_outcome

    print_outcome(outcome)
    raise typer.Exit(outcome.exit_code)


@app.command()
def calibrate(
    paths: List[str] = typer.Argument(..., help="suites whose cases carry `output` and a human `label`"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="judge endpoint (default: the suites' `default` judge, else the local model)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model"),
    judge_api_key_env: Optional[str] = typer.Option(None, "--judge-api-key-env"),
    targets_file: Optional[str] = typer.Option(None, "--targets", help="targets YAML with `judges:`"),
    out: str = typer.Option("reports", "--out"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
    min_kappa: Optional[float] = typer.Option(None, "--min-kappa", help="exit 1 when a judge's Cohen's kappa is below this"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Prove a judge before trusting it: judge the recorded outputs and compare with the human labels."""
    from evalharness.engine.session import EXIT_INFRA, InfraError, RunOptions, calibrate_run
    from evalharness.suite.errors import SuiteError

    opts = RunOptions(paths=list(paths), target_names=["recorded"], out=out, cache=not no_cache, cache_dir=cache_dir,
                      targets_file=targets_file, judge_base_url=judge_base_url, judge_model=judge_model,
                      judge_api_key_env=judge_api_key_env, suite_root=suite_root,
                      trust_suite_endpoints=trust_suite_endpoints)
    try:
        outcome, report = calibrate_run(opts)
    except SuiteError as e:
        _fail_config(e)
    except InfraError as e:
        print(f"infrastructure error: {e}", file=sys.stderr)
        raise typer.Exit(3)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"judge calibration ({outcome.run_dir.name})")
    for col in ("suite", "scorer", "n", "accuracy", "kappa", "tp", "fp", "fn", "tn", "judge errors"):
        t.add_column(col)
    for r in report:
        c = r["confusion"]
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        t.add_row(r["suite"], r["scorer"], str(r["n"]), fmt(r["accuracy"]), fmt(r["kappa"]), str(c["tp"]),
                  str(c["fp"]), str(c["fn"]), str(c["tn"]), str(r["judge_errors"]))
    Console(width=200 if not sys.stdout.isatty() else None).print(t)
    print(f"calibration stored in {outcome.run_dir / 'run.json'}")
    if not report:
        _fail_config(ValueError("no case has both a judge scorer and a `label`"))
    for m in outcome.messages:  # a judge that failed its calls is infrastructure, not a verdict
        print(m, file=sys.stderr)
    if outcome.exit_code == EXIT_INFRA:
        raise typer.Exit(EXIT_INFRA)
    if min_kappa is not None and any(r["kappa"] is None or r["kappa"] < min_kappa for r in report):
        raise typer.Exit(1)


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

    from evalharness.compare import PairingError, compare_runs

    for r in (run_a, run_b):
        if not (r / "responses.parquet").is_file():
            _fail_config(ValueError(f"{r} is not a finished run folder (no responses.parquet)"))
    try:
        deltas, pairs = compare_runs(run_a, run_b, significance=significance, max_regression=max_regression,
                                     baseline_target=baseline_target)
    except PairingError as e:
        _fail_config(e)
    from evalharness.compare import pair_targets, run_targets

    candidates = run_targets(run_b)
    unpaired = [t for t in candidates if t not in pair_targets(run_targets(run_a), candidates, baseline_target)]
    if not deltas:
        _fail_config(ValueError("the two runs share no (suite, case) pairs"))
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
    overall = [d for d in deltas if d.scope == "overall"]
    for d in overall:
        for label, ids in (("pass->fail", d.regressed), ("fail->pass", d.improved)):
            for cid in ids[:top]:
                row = pairs[(pairs.suite == d.suite) & (pairs.target == d.target) & (pairs.case_id == cid)].iloc[0]
                c.print(Text(f"{label} {d.suite}/{cid}: A={str(row.output_a)[:80]!r} B={str(row.output_b)[:80]!r}"))
    for t_ in unpaired:  # never silently left out: a target compared with nothing cannot pass
        c.print(Text(f"NOT COMPARED: target '{t_}' of {run_b.name}: no target of {run_a.name} pairs with it "
                     "(choose one with --baseline-target)", style="bold red"))
    raise typer.Exit(1 if unpaired or any(d.significant_regression for d in overall) else 0)


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
        _fail_config(e)
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
        _fail_config(ValueError(f"{bundle}: not a readable sign-off bundle ({e})"))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    print("ok: every file matches the sign-off")


@app.command()
def merge(
    runs: List[Path] = typer.Argument(..., help="shard run folders"),
    output: Path = typer.Option(..., "-o", "--output", help="the merged run folder to create"),
) -> None:
    """Merge shard runs into one run folder (one manifest, no duplicates), then gate it like a run."""
    from evalharness.engine.session import merge_runs
    from evalharness.report.console import print_outcome
    from evalharness.suite.errors import SuiteError

    try:
        outcome = merge_runs(runs, output)
    except SuiteError as e:
        _fail_config(e)
    print_outcome(outcome)
    raise typer.Exit(outcome.exit_code)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    fmt: str = typer.Option("html", "--format", help="html"),
    output: Path = typer.Option(..., "-o", "--output"),
) -> None:
    """Render a run as a static HTML report (summary, gates, categories, failed cases; output escaped)."""
    if fmt != "html":
        _fail_config(ValueError(f"unknown --format {fmt!r}; supported: html"))
    from evalharness.report.html import render_html

    try:
        from evalharness.redact import redact

        output.write_text(redact(render_html(run_dir)), encoding="utf-8")
    except (OSError, KeyError) as e:
        _fail_config(ValueError(f"{run_dir}: cannot render ({e})"))
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
    import pandas as pd
    import yaml

    from evalharness.results.manifest import read_manifest
    from evalharness.suite.errors import SuiteError
    from evalharness.suite.loader import load_suite

    try:
        manifest = read_manifest(run_dir)
    except (OSError, ValueError) as e:
        _fail_config(ValueError(f"{run_dir}: not a run folder with a readable run.json ({e})"))
    meta = next((s for s in manifest.get("suites", []) if s["name"] == suite), None)
    if meta is None:
        _fail_config(ValueError(f"suite {suite!r} is not in {run_dir}"))
    try:
        original = load_suite(meta["path"])
    except SuiteError as e:
        _fail_config(e)
    r = pd.read_parquet(run_dir / "responses.parquet")
    r = r[(r.suite == suite) & r.error.isna() & (r.repeat == 0)]
    tgt = target or (r.target.iloc[0] if len(r) else None)
    outputs = dict(zip(r[r.target == tgt].case_id, r[r.target == tgt].output))
    spec = {"type": scorer}
    if scorer == "rubric":
        spec.update(criteria="The answer says the same as the reference answer.", scale=[1, 5])
    if threshold is not None:
        spec["threshold"] = threshold
    cases = []
    for lc in original.cases:
        if lc.case.id not in outputs:
            continue
        c = lc.case.model_dump(exclude_none=True, exclude_defaults=True,
                               include={"id", "input", "messages", "context", "tags", "params", "metadata", "tools"})
        c["expected"] = outputs[lc.case.id]
        cases.append(c)
    doc = {"name": f"{suite}-golden", "category": "regression",
           "description": f"Approved outputs of {suite} from run {manifest['run_id']} (target {tgt}).",
           "defaults": original.suite.defaults.model_dump(exclude_none=True), "scorers": [spec], "cases": cases}
    output.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    print(f"wrote {len(cases)} golden cases to {output}")


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
            _fail_config(ValueError(f"no baseline pinned ({pointer} does not exist)"))
        print(pointer.read_text())
        return
    if action != "set" or run_dir is None:
        _fail_config(ValueError("usage: evalharness baseline set RUN | evalharness baseline show"))
    try:
        run_id = read_manifest(run_dir)["run_id"]
    except (OSError, KeyError, ValueError) as e:
        _fail_config(ValueError(f"{run_dir}: not a run folder ({e})"))
    reports.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps({"run_id": run_id, "path": str(run_dir.resolve()), "set_at": utcnow()}, indent=2))
    print(f"baseline pinned: {run_id} ({pointer})")


@app.command()
def rescore(
    run_dir: Path = typer.Argument(..., help="the run whose stored responses are scored again"),
    suite: List[str] = typer.Option([], "--suite", help="suite files/dirs with the (new) scorers; default: the run's own"),
    out: str = typer.Option("reports", "--out"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the judge response cache"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="cache directory (default ~/.cache/evalharness)"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="a run folder (or `pinned`) for the regression gate"),
    baseline_target: Optional[str] = typer.Option(None, "--baseline-target", help="the baseline's target to compare with"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Score a run's stored responses again without calling the model; writes a new run folder and gates it."""
    from evalharness.engine.rescore import rescore_run
    from evalharness.engine.session import InfraError, RunOptions
    from evalharness.report.console import print_outcome
    from evalharness.suite.errors import SuiteError

    opts = RunOptions(paths=list(suite), out=out, judge_base_url=judge_base_url, judge_model=judge_model,
                      cache=not no_cache, cache_dir=cache_dir, baseline=baseline, baseline_target=baseline_target,
                      suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints)
    try:
        outcome = rescore_run(run_dir, list(suite) or None, out, opts)
    except SuiteError as e:
        _fail_config(e)
    except (OSError, KeyError) as e:
        _fail_config(ValueError(f"{run_dir}: not a finished run folder ({e})"))
    except InfraError as e:
        print(f"infrastructure error: {e}", file=sys.stderr)
        raise typer.Exit(3)
    print_outcome(outcome)
    raise typer.Exit(outcome.exit_code)


@app.command()
def validate(
    paths: List[str] = typer.Argument(..., help="suite files or directories"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Check suites without running them. Exit 2 on any problem, listing every one."""
    from evalharness.suite.errors import SuiteError
    from evalharness.suite.loader import load_suites

    try:
        suites = load_suites(paths, root=suite_root, trust_endpoints=trust_suite_endpoints)
    except SuiteError as e:
        _fail_config(e)
    for s in suites:
        print(f"ok  {s.path}  suite={s.name} category={s.category} cases={len(s.cases)}")


@app.command("list")
def list_(what: str = typer.Argument(..., help="what to list: scorers or mutators")) -> None:
    """List registered components (scorers, mutators) with their descriptions and arguments."""
    if what == "mutators":
        from evalharness.mutators import MUTATORS

        for m in MUTATORS.values():
            print(f"{m.name:20} {m.description}")
        print(f"{'paraphrase':20} an LLM writes N rewrites of each seed (evalharness generate --paraphrase N ...)")
        return
    if what != "scorers":
        _fail_config(ValueError(f"cannot list {what!r}; try `evalharness list scorers` or `list mutators`"))
    from rich.console import Console
    from rich.table import Table

    from evalharness.scorers.base import all_scorers

    t = Table(title="scorers", show_lines=True)
    for col in ("name", "description", "arguments", "needs judge"):
        t.add_column(col)
    for name, info in all_scorers().items():
        args = []
        for fname, f in info.args.model_fields.items():
            key = f.alias or fname
            default = "required" if f.is_required() else f"default {f.get_default(call_default_factory=True)!r}"
            args.append(f"{key} ({default})" + (f": {f.description}" if f.description else ""))
        t.add_row(name, info.description, "\n".join(args) or "-", "yes" if info.needs_judge else "no")
    Console().print(t)


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
    import yaml

    from evalharness.suite.errors import SuiteError
    from evalharness.suite.loader import load_suite

    try:
        loaded = load_suite(suite)
    except SuiteError as e:
        _fail_config(e)
    from evalharness.mutators import UnknownMutator, mutate_case

    names = [n.strip() for n in mutators.split(",") if n.strip()]
    cases = []
    for lc in loaded.cases:
        base = lc.case.model_dump(exclude_none=True, exclude_defaults=True)
        base["scorers"] = [b.config for b in lc.scorers]  # suite-level and case-level, written out per case
        cases.append(base)
        for n in names:
            try:
                cases.append(mutate_case(base, n, seed))
            except UnknownMutator as e:
                _fail_config(e)
    if paraphrase:
        if not (paraphrase_base_url and paraphrase_model):
            _fail_config(ValueError("--paraphrase needs --paraphrase-base-url and --paraphrase-model"))
        from evalharness.engine.loop import loop_factory, run as run_loop

        try:
            loop_factory()
        except ValueError as e:
            _fail_config(e)
        from evalharness.paraphrase import paraphrase_all

        seeds = [c for c in cases if "~" not in c["id"]]
        extra, errors = run_loop(paraphrase_all(seeds, paraphrase, paraphrase_base_url, paraphrase_model, cache_dir))
        for e in errors:
            print(f"paraphrase failed: {e}", file=sys.stderr)
        cases += extra
    doc = loaded.suite.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True,
                                  exclude={"cases", "dataset", "fields", "prompt", "scorers", "mutate", "mutate_seed"})
    doc.setdefault("category", loaded.suite.category)
    doc["name"] = f"{loaded.suite.name}-expanded"
    doc["cases"] = cases
    output.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    print(f"wrote {len(cases)} cases from {len(loaded.cases)} seeds to {output}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the suite format (for editor autocompletion)."""
    from evalharness.suite.schema import suite_json_schema

    print(json.dumps(suite_json_schema(), indent=2))


@app.command()
def guard(
    upstream: str = typer.Option(..., "--upstream", help="OpenAI-compatible base URL to protect, e.g. http://127.0.0.1:8000/v1"),
    policy: str = typer.Option(..., "--policy", help="guard policy YAML (input_rails, output_rails, ...)"),
    port: int = typer.Option(8080, "--port"),
    host: str = typer.Option("127.0.0.1", "--host", help="bind address (loopback by default)"),
    log_dir: Optional[str] = typer.Option(None, "--log-dir", help="decision log folder (overrides the policy's log_dir)"),
) -> None:
    """Serve an OpenAI-compatible proxy that applies the policy's input and output rails around --upstream."""
    from evalharness.guard.server import serve
    from evalharness.suite.errors import SuiteError

    try:
        serve(upstream, policy, host=host, port=port, log_dir=log_dir)
    except SuiteError as e:
        _fail_config(e)
    except RuntimeError as e:
        _fail_config(e)


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
        _fail_config(ValueError(f"--bar must be between 0 and 1, got {bar}"))
    for r in runs:
        row = catalog.read_run(r)
        if not row["readable"]:
            _fail_config(ValueError(f"{r}: {row['problem']}"))
    verdicts, _ = tables.load_verdicts(list(runs))
    try:
        qc = sizing.quality_cost(verdicts, by, cost)
    except ValueError as e:
        _fail_config(e)
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


@app.command()
def ui(
    reports: Path = typer.Option(Path("reports"), "--reports", help="the reports directory to read"),
    port: int = typer.Option(8501, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind; anything but loopback exposes the UI"),
) -> None:
    """Start the comparison UI (Streamlit) on 127.0.0.1. It reads reports/ and never calls a model."""
    import importlib.util
    import os
    import subprocess

    app_file = Path(__file__).resolve().parents[1] / "app" / "main.py"
    if importlib.util.find_spec("streamlit") is None:
        _fail_config(RuntimeError("the UI needs Streamlit: pip install -e '.[ui]'"))
    if not app_file.is_file():
        _fail_config(RuntimeError(f"the app is not at {app_file} (run evalharness ui from a checkout)"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: binding to {host}: the UI will be reachable from other machines", err=True)
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.address", host,
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--global.developmentMode", "false",
           "--client.toolbarMode", "minimal"]
    env = {**os.environ, "EVALHARNESS_REPORTS": str(reports.resolve())}
    typer.echo(f"evalharness UI on http://{host}:{port}/ reading {reports.resolve()}")
    raise typer.Exit(subprocess.call(cmd, env=env))


@app.command("serve")
def serve_(
    what: str = typer.Argument("local", help="what to serve: local (the embedded Gemma 3 270M)"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Run the embedded llama.cpp server in the foreground on 127.0.0.1 (Ctrl-C stops it)."""
    import subprocess

    from evalharness.engine.session import LOCAL_MODEL_NAME
    from evalharness.targets.serve import ServeError, embedded_model_path, llamacpp_command

    if what != "local":
        _fail_config(ValueError(f"cannot serve {what!r}; only `local` (use `run --serve` for your own model)"))
    try:
        cmd = llamacpp_command(embedded_model_path(), port, alias=LOCAL_MODEL_NAME)
    except ServeError as e:
        _fail_config(e)
    print(f"serving {LOCAL_MODEL_NAME} at http://127.0.0.1:{port}/v1", file=sys.stderr)
    try:
        raise typer.Exit(subprocess.call(cmd))
    except KeyboardInterrupt:
        raise typer.Exit(0)


def _click_kind(e: Exception) -> str | None:
    """"ClickException" or "Abort" when `e` is one of click's (typer 0.29+ vendors its own copy of click,
    so the classes are recognised by name), else None."""
    names = {c.__name__ for c in type(e).__mro__}
    return next((k for k in ("Abort", "ClickException") if k in names), None)


def main() -> None:
    """Entry point. Exit codes mean one thing each (evalharness/exitcodes.py): click runs outside its
    standalone mode so that neither an interrupt nor a usage error can become 1 ("a gate failed"), and
    any unexpected error is one line on stderr, its traceback in a log file, and exit 3.

    Once a command has finished, every result file is closed and only the standard streams need
    flushing, so the interpreter's own teardown (finalising pyarrow, pandas, pydantic and the rest:
    about 0.5 s on a 2-core machine) is skipped with os._exit."""
    from evalharness import startup
    from evalharness.exitcodes import ExitCode, report_unexpected

    startup.begin()
    from evalharness.redact import RedactingStream

    # No credential the process learns reaches the terminal or a CI log, whatever prints it.
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        rv = app(standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else ExitCode.CONFIG)
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the one place an unexpected error becomes exit 3
        kind = _click_kind(e)
        if kind == "Abort":
            print("\ninterrupted", file=sys.stderr)
            code = ExitCode.INTERRUPTED
        elif kind == "ClickException":  # usage: an unknown option, a bad value, a missing argument
            e.show()
            code = ExitCode.CONFIG
        else:
            code = report_unexpected(e)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing left to flush
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
