"""One run from start to the gate: load and configure, start targets and judges, generate and score,
conclude. A failure keeps what is stored and marks run.json (the run stays resumable)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path

from evalharness import __version__
from evalharness.conclude import RunOutcome, conclude
from evalharness.errors import ConfigError, InfraError, Problem
from evalharness.lifecycle.configure import (
    check_baseline_target, event_loop_name, load_baseline, resolve_baseline, resolve_judges, resolve_targets,
)
from evalharness.lifecycle.endpoints import judge_services, probe, start_judges, start_targets
from evalharness.lifecycle.options import RunOptions, portable_options
from evalharness.targets.kinds import Launcher, embedded_models


def execute(opts: RunOptions, *, resume_dir: Path | None = None) -> RunOutcome:
    from evalharness.results.manifest import new_run_id, read_manifest, utcnow
    from evalharness.results.writer import load_done
    from evalharness.suite.loader import load_suites

    loop_name = event_loop_name()
    suites = load_suites(opts.paths, root=opts.suite_root, trust_endpoints=opts.trust_suite_endpoints)
    if opts.tags or opts.cases:
        suites = select_cases(suites, opts.tags, opts.cases)
    if opts.limit is not None:
        suites = [replace(s, cases=s.cases[: opts.limit]) for s in suites]
    from evalharness.shard import in_shard, parse_shard

    try:
        shard = parse_shard(opts.shard)
    except ValueError as e:
        raise ConfigError([Problem("command line", None, "--shard", str(e))]) from None
    if shard is not None:
        suites = [replace(s, cases=tuple(c for c in s.cases if in_shard(s.name, c.case.id, shard))) for s in suites]
    targets = resolve_targets(opts)
    judge_configs = resolve_judges(opts, suites)
    opts.baseline = resolve_baseline(opts.baseline, opts.out)
    baseline = load_baseline(opts.baseline)
    check_baseline_target(opts)

    done: set[str] = set()
    if resume_dir is not None:
        run_dir = resume_dir
        manifest = read_manifest(run_dir)
        run_id = manifest["run_id"]
        done = set(load_done(run_dir)[0]["response_id"].to_pylist())
    else:
        run_id = new_run_id()
        run_dir = Path(opts.out) / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        manifest = {"run_id": run_id, "started_at": utcnow()}
    try:
        return _execute_in(run_dir, run_id, manifest, opts, suites, targets, judge_configs, baseline, done, shard,
                           loop_name, resumed=resume_dir is not None)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            e.run_dir = run_dir  # the command line names the folder to resume
        failed = _failed(e, run_dir, manifest)
        if failed is e:
            raise
        raise failed from e


def select_cases(suites, tags, case_ids) -> list:
    """Only the cases that carry one of `tags` (the suite's tags count) and whose id matches one of
    `case_ids` (shell-style globs: `xstest-*`); suites left with none are not run. Nothing selected at
    all is a ConfigError: a run that evaluates nothing never passes."""
    from fnmatch import fnmatchcase

    def wanted(s, lc) -> bool:
        have = set(s.suite.tags) | set(lc.case.tags)
        return ((not tags or bool(have & set(tags)))
                and (not case_ids or any(fnmatchcase(lc.case.id, p) for p in case_ids)))

    out = [replace(s, cases=kept) for s in suites if (kept := tuple(lc for lc in s.cases if wanted(s, lc)))]
    left_out = sorted({s.name for s in suites} - {s.name for s in out})
    if out and left_out:  # said, not silent: their gates are not part of this run
        print(f"--tag/--case: no matching case in {len(left_out)} suite(s), not run (nor gated): {', '.join(left_out)}",
              file=sys.stderr, flush=True)
    if not out:
        what = " and ".join(x for x in (f"--tag {', '.join(tags)}" if tags else "",
                                        f"--case {', '.join(case_ids)}" if case_ids else "") if x)
        raise ConfigError([Problem("command line", None, "--tag/--case", f"no case of the suites given matches {what}")])
    return out


def _execute_in(run_dir, run_id, manifest, opts, suites, targets, judge_configs, baseline, done, shard, loop_name,
                *, resumed: bool) -> RunOutcome:
    from evalharness.engine.cache import ResponseCache, default_cache_dir
    from evalharness.results.manifest import git_sha, utcnow, write_manifest
    from evalharness.results.schema import SCHEMA_VERSION
    from evalharness.results.writer import RunWriter

    manifest.update({
        "status": "running",
        "harness_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "git_sha": git_sha(),
        "suites": [{"name": s.name, "category": s.category, "path": str(s.path.resolve()), "content_hash": s.content_hash,
                    "cases": len(s.cases), "params": s.suite.defaults.params, "scorers": scorer_configs(s)}
                   for s in suites],
        "targets": [t.config.public() for t in targets],
        "options": portable_options(opts),
        "shard": list(shard) if shard else None,
        "cli_args": sys.argv[1:],
    })
    if resumed:
        manifest.setdefault("resumed_at", []).append(utcnow())
    write_manifest(run_dir, manifest)

    cache = ResponseCache(Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()) if opts.cache else None
    writer = RunWriter(run_dir, batch_rows=opts.batch_rows)
    try:
        totals, deaths = _run_phase(opts, run_id, run_dir, suites, targets, judge_configs, baseline, done, cache,
                                    writer, manifest, loop_name)
    finally:  # stored rows are kept whatever happened; the run stays resumable from them
        _best_effort(writer.flush, *([cache.close] if cache else []))
    # The cases (100k cases: ~270 MB) are not needed past this point; the gate needs each suite's
    # config only. Dropping them before compaction and the gate keeps the end-of-run peak near the run's own.
    import gc

    n_cases = sum(len(s.cases) for s in suites)
    suites = [replace(s, cases=()) for s in suites]
    if n_cases >= 10_000:  # a full collection costs ~0.1 s; it pays off only for large suites
        gc.collect()
    writer.finish()
    return conclude(run_dir, suites, manifest, totals, deaths, baseline_run=opts.baseline,
                    baseline_target=opts.baseline_target, junit=opts.junit, summary_md=opts.summary_md)


def _best_effort(*steps) -> None:
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - a run already failing (the disk may be what failed) keeps going down
            pass


def _failed(e: BaseException, run_dir: Path, manifest: dict) -> BaseException:
    """Keep what is stored, mark run.json, and give the exception to raise: the same one for an
    interrupt, a configuration or an infrastructure error; `RunFailed` (exit 3, resumable, the
    traceback in error.log) for anything unexpected, a full disk included. Every step is best effort:
    the disk may be what failed."""
    from evalharness.exitcodes import ERROR_LOG, RunFailed, one_line, write_traceback
    from evalharness.results.manifest import utcnow, write_manifest

    expected = isinstance(e, (KeyboardInterrupt, ConfigError, InfraError))
    manifest.update(status="interrupted" if isinstance(e, KeyboardInterrupt) else "failed", ended_at=utcnow(),
                    failure=one_line(e), **({} if expected else {"error_log": ERROR_LOG}))
    _best_effort(lambda: write_manifest(run_dir, manifest))  # first: on a full disk the status matters most
    if expected or not isinstance(e, Exception):
        return e
    log = write_traceback(e, run_dir / ERROR_LOG)
    if log is None:
        manifest["error_log"] = None
        _best_effort(lambda: write_manifest(run_dir, manifest))
    return RunFailed(run_dir, log)


def _run_phase(opts, run_id, run_dir, suites, targets, judge_configs, baseline, done, cache, writer, manifest,
               loop_name):
    """Start the targets and judges, probe them, run every case; returns (totals, server deaths)."""
    from evalharness.engine.loop import run as run_loop
    from evalharness.results.manifest import write_manifest

    with contextlib.ExitStack() as stack:
        launcher = Launcher(stack, run_dir, embedded_models=embedded_models(targets, judge_configs))
        runtimes = start_targets(targets, launcher, stream=opts.stream)
        judge_rts = start_judges(judge_configs, launcher)
        from evalharness.engine.runner import Runner

        def probed() -> None:
            manifest["targets"] = [{**t.config.public(), "served_model": t.served_model} for t in runtimes]
            manifest["judges"] = {n: {**t.config.public(), "served_model": t.served_model}
                                  for n, t in judge_rts.items()}
            write_manifest(run_dir, manifest)

        runner = Runner(run_id, suites, runtimes, writer, repeats=opts.repeats, cache=cache, done=done)
        services = judge_services(judge_rts, cache, baseline, runner.reference_output) if judge_rts else None
        runner.services = services
        _warm_imports_in_background()
        from evalharness import startup

        startup.done()
        totals = run_loop(_drive(runner, runtimes + list(judge_rts.values()), probed, f"run {run_id}"))
        rate = totals.requests_per_s
        manifest["timing"] = {"event_loop": loop_name, "request_phase_s": round(totals.elapsed_s, 6),
                              "requests_per_s": None if rate is None else round(rate, 1)}
        if services is not None:
            for name, stats in services.summary().items():
                manifest["judges"][name]["stats"] = stats
        deaths = [d for d in (srv.death_notice() for srv in launcher.servers) if d]
    return totals, deaths


def _warm_imports_in_background() -> None:
    """Import what the writer, the gate and the console report need (pyarrow: ~0.3 s of CPU) in a
    thread while the event loop waits on the network, instead of inside the loop at the first flush,
    where it would stall every request in flight. The thread also answers pyarrow's pandas probe
    (results/nopandas.py), so a run does not import pandas at all unless a report or the baseline
    comparison needs it."""
    import threading

    def warm() -> None:
        # While this thread imports, hand the GIL back to the event loop after 0.5 ms instead of 5 ms,
        # so responses that arrive meanwhile are not held up behind an import.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, 0.0005))
        try:
            from evalharness.startup import single_threaded_blas

            with single_threaded_blas():  # pyarrow imports numpy
                import pyarrow.compute  # noqa: F401
                import pyarrow.parquet  # noqa: F401

            from evalharness.results.nopandas import skip_pandas_probe

            skip_pandas_probe()

            import evalharness.gate  # noqa: F401

            # the end-of-run table (rich: ~0.1 s of CPU)
            import rich.console  # noqa: F401
            import rich.table  # noqa: F401
        except Exception:  # noqa: BLE001 - the real import later reports any problem
            pass
        finally:
            sys.setswitchinterval(interval)

    threading.Thread(target=warm, name="evalharness-warm-imports", daemon=True).start()


def scorer_configs(s) -> list[dict]:
    """One entry per scorer of the suite, with its configuration (for run.json)."""
    seen: dict[str, dict] = {}
    for lc in s.cases:
        for b in lc.scorers:
            seen.setdefault(b.name, b.config)
    return [{"name": k, **v} for k, v in seen.items()]


async def _drive(runner, runtimes, probed, label: str):
    """Probe, run and close in one event loop (each pooled client belongs to its loop)."""
    from evalharness.engine.progress import make_progress

    try:
        await probe(runtimes)
        probed()
        with make_progress(runner.total(), label) as progress:
            runner.progress = progress
            return await runner.run()
    finally:
        for t in runtimes:
            if t.client is not None:
                await t.client.aclose()
