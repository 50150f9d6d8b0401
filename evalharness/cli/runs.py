"""`run`, `calibrate`, `rescore`, `merge`: the commands that produce a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from evalharness.cli.common import app, fail_config


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
    tag: List[str] = typer.Option([], "--tag", help="only cases with this tag (repeatable; the suite's tags count)"),
    case: List[str] = typer.Option([], "--case", help="only cases whose id matches (repeatable; globs such as 'xstest-*')"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="finish an interrupted run folder"),
    batch_rows: int = typer.Option(1000, "--batch-rows", min=1, help="rows per Parquet part written during the run"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="judge endpoint (overrides the suites' `default` judge)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="judge model name"),
    judge_api_key_env: Optional[str] = typer.Option(None, "--judge-api-key-env", help="env var holding the judge's API key"),
    judge_concurrency: Optional[int] = typer.Option(None, "--judge-concurrency", help="judge requests in flight, per judge"),
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
    from evalharness import api
    from evalharness.exitcodes import RunFailed, report_unexpected

    if resume is None and not paths:
        fail_config(ValueError("give suite files or directories, e.g. `evalharness run suites/`"))
    import signal

    def _term(signum, frame):  # CI runners cancel with SIGTERM: stop like Ctrl-C, keeping what is stored
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        with _api_warnings():
            if resume is not None:
                result = api.resume(resume, list(paths) if paths else None)
            else:
                endpoint = api.Endpoint(base_url, model, api_key_env) if (base_url or model) else None
                result = api.run(
                    list(paths), targets=[*([endpoint] if endpoint else []), *target, *map(api.Serve, serve)],
                    targets_file=targets_file, guard_policy=guard_policy,
                    judge=api.JudgeSpec(judge_base_url, judge_model, judge_api_key_env, judge_concurrency),
                    baseline=api.Baseline(baseline, baseline_target) if baseline or baseline_target else None,
                    select=api.Selection(limit=limit, shard=shard, repeats=repeats, tags=tuple(tag), cases=tuple(case)),
                    out=api.Output(out, junit=junit, summary_md=summary_md, batch_rows=batch_rows),
                    transport=api.Transport(concurrency, timeout_s, max_retries, stream=stream),
                    cache=api.Cache(not no_cache, cache_dir), suite_root=suite_root,
                    trust_suite_endpoints=trust_suite_endpoints)
    except api.ConfigError as e:
        fail_config(e)
    except api.InfraError as e:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]infrastructure error:[/] {e}", highlight=False)
        raise typer.Exit(3)
    except RunFailed as e:
        raise typer.Exit(report_unexpected(e))
    except KeyboardInterrupt as e:
        where = getattr(e, "run_dir", None) or resume
        how = f"evalharness run --resume {where}" if where else "evalharness run --resume <run folder>"
        print(f"\ninterrupted: stored results are kept; finish with `{how}`", file=sys.stderr)
        raise typer.Exit(130)
    from evalharness.report.console import print_outcome

    print_outcome(result)
    raise typer.Exit(result.exit_code)


class _api_warnings:
    """The API's warnings (evalharness.api.EvalHarnessWarning) as `warning: ...` lines on stderr."""

    def __enter__(self):
        import warnings

        from evalharness.api import EvalHarnessWarning

        self._shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, EvalHarnessWarning):
                print(f"warning: {message}", file=sys.stderr)
            else:
                self._shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return self

    def __exit__(self, *exc):
        import warnings

        warnings.showwarning = self._shown
        return False


@app.command()
def calibrate(
    paths: List[str] = typer.Argument(..., help="suites whose cases carry `output` and a human `label`"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="judge endpoint (default: the suites' `default` judge, else the local model)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model"),
    judge_api_key_env: Optional[str] = typer.Option(None, "--judge-api-key-env"),
    judge_concurrency: Optional[int] = typer.Option(None, "--judge-concurrency", help="judge requests in flight, per judge"),
    targets_file: Optional[str] = typer.Option(None, "--targets", help="targets YAML with `judges:`"),
    out: str = typer.Option("reports", "--out"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
    min_kappa: Optional[float] = typer.Option(None, "--min-kappa", help="exit 1 when a judge's Cohen's kappa is below this"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Prove a judge before trusting it: judge the recorded outputs and compare with the human labels."""
    from evalharness import api

    try:
        cal = api.calibrate(list(paths), judge=api.JudgeSpec(judge_base_url, judge_model, judge_api_key_env, judge_concurrency),
                            targets_file=targets_file, out=out, cache=api.Cache(not no_cache, cache_dir),
                            suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints)
    except api.ConfigError as e:
        fail_config(e)
    except api.InfraError as e:
        print(f"infrastructure error: {e}", file=sys.stderr)
        raise typer.Exit(3)
    outcome, report = cal.result, cal.report
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
        fail_config(ValueError("no case has both a judge scorer and a `label`"))
    for m in outcome.messages:  # a judge that failed its calls is infrastructure, not a verdict
        print(m, file=sys.stderr)
    if outcome.exit_code == 3:
        raise typer.Exit(3)
    if min_kappa is not None and cal.below(min_kappa):
        raise typer.Exit(1)


@app.command()
def rescore(
    run_dir: Path = typer.Argument(..., help="the run whose stored responses are scored again"),
    suite: List[str] = typer.Option([], "--suite", help="suite files/dirs with the (new) scorers; default: the run's own"),
    out: str = typer.Option("reports", "--out"),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model"),
    judge_concurrency: Optional[int] = typer.Option(None, "--judge-concurrency", help="judge requests in flight, per judge"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the judge response cache"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="cache directory (default ~/.cache/evalharness)"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="a run folder (or `pinned`) for the regression gate"),
    baseline_target: Optional[str] = typer.Option(None, "--baseline-target", help="the baseline's target to compare with"),
    suite_root: Optional[str] = typer.Option(None, "--suite-root", help="directory every path in a suite must stay in (default: the suite file's or the directory given)"),
    trust_suite_endpoints: bool = typer.Option(False, "--trust-suite-endpoints", help="let suites define judge endpoints and keys (local use only; never in CI)"),
) -> None:
    """Score a run's stored responses again without calling the model; writes a new run folder and gates it."""
    from evalharness import api
    from evalharness.report.console import print_outcome

    try:
        result = api.rescore(run_dir, list(suite) or None, out=out, judge=api.JudgeSpec(judge_base_url, judge_model, concurrency=judge_concurrency),
                             cache=api.Cache(not no_cache, cache_dir),
                             baseline=api.Baseline(baseline, baseline_target) if baseline or baseline_target else None,
                             suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints)
    except api.ConfigError as e:
        fail_config(e)
    except api.InfraError as e:
        print(f"infrastructure error: {e}", file=sys.stderr)
        raise typer.Exit(3)
    print_outcome(result)
    raise typer.Exit(result.exit_code)


@app.command()
def merge(
    runs: List[Path] = typer.Argument(..., help="shard run folders"),
    output: Path = typer.Option(..., "-o", "--output", help="the merged run folder to create"),
) -> None:
    """Merge shard runs into one run folder (one manifest, no duplicates), then gate it like a run."""
    from evalharness import api
    from evalharness.report.console import print_outcome

    try:
        result = api.merge(runs, output)
    except api.ConfigError as e:
        fail_config(e)
    print_outcome(result)
    raise typer.Exit(result.exit_code)
