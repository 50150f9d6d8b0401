"""One `evalharness run`: resolve targets, start servers, run, write results, gate, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


from evalharness import __version__
from evalharness.suite.errors import Problem, SuiteError
from evalharness.targets.config import GUARDED, LOCAL, RECORDED, TargetConfig, load_targets

from evalharness.exitcodes import ExitCode

EXIT_OK, EXIT_GATE, EXIT_CONFIG, EXIT_INFRA = ExitCode.OK, ExitCode.GATE, ExitCode.CONFIG, ExitCode.INFRA
LOCAL_MODEL_NAME = "gemma-3-270m-q4_k_m"
# llama-cpp-python's server answers one request at a time: more in flight would only queue
# (and run into timeouts); 2 keeps the next request ready.
LOCAL_DEFAULTS = {"concurrency": 2, "timeout_s": 300.0}


class InfraError(RuntimeError):
    """A target is unreachable or a server could not start (exit 3)."""


@dataclass
class RunOptions:
    paths: list[str]
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    targets_file: str | None = None
    target_names: list[str] = field(default_factory=list)
    serve: list[str] = field(default_factory=list)
    out: str = "reports"
    repeats: int = 1
    stream: bool = False
    cache: bool = True
    cache_dir: str | None = None
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    limit: int | None = None
    batch_rows: int = 1000
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str | None = None
    baseline: str | None = None
    baseline_target: str | None = None
    guard_policy: str | None = None
    junit: str | None = None
    summary_md: str | None = None
    shard: str | None = None
    suite_root: str | None = None  # --suite-root: the directory every suite path must stay in
    trust_suite_endpoints: bool = False  # --trust-suite-endpoints: suites may define judge endpoints (local use)


@dataclass
class RunOutcome:
    run_dir: Path
    exit_code: int
    summary: list[dict]  # gate.summary_rows: one dict per suite x target
    checks: list
    totals: Any
    messages: list[str]
    judges: dict = field(default_factory=dict)  # name -> config + stats (calls, errors, tokens, position bias)
    regressions: list = field(default_factory=list)  # compare.SuiteDelta rows against --baseline


def resolve_targets(opts: RunOptions) -> list[TargetConfig]:
    """CLI flags -> target configs. With nothing given, the embedded local model."""
    targets: list[TargetConfig] = []
    overrides = {k: v for k, v in (("concurrency", opts.concurrency), ("timeout_s", opts.timeout_s),
                                   ("max_retries", opts.max_retries)) if v is not None}
    if opts.base_url or opts.model:
        if not (opts.base_url and opts.model):
            raise SuiteError([Problem("command line", None, "--base-url/--model", "give both --base-url and --model")])
        try:
            targets.append(TargetConfig(name=opts.model, base_url=opts.base_url, model=opts.model,
                                        api_key_env=opts.api_key_env, **overrides))
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise SuiteError([Problem("command line", None, "--base-url", _first_error(e))]) from None
    defined = load_targets(opts.targets_file) if opts.targets_file else {}
    for name in opts.target_names:
        if name == RECORDED:
            targets.append(TargetConfig(name=RECORDED))
        elif name == LOCAL:
            targets.append(TargetConfig(name=LOCAL, model=LOCAL_MODEL_NAME, **{**LOCAL_DEFAULTS, **overrides}))
        elif name == GUARDED:
            if not opts.guard_policy:
                raise SuiteError([Problem("command line", None, "--guard-policy", "the `guarded` target needs --guard-policy")])
            defaults = {} if opts.base_url else LOCAL_DEFAULTS
            targets.append(TargetConfig(name=GUARDED, model=opts.model or LOCAL_MODEL_NAME, **{**defaults, **overrides}))
        elif name in defined:
            t = defined[name]
            targets.append(t.model_copy(update=overrides) if overrides else t)
        else:
            import difflib

            options = sorted(defined) + [RECORDED, LOCAL]
            close = difflib.get_close_matches(name, options, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = opts.targets_file or "no --targets file given"
            raise SuiteError([Problem("command line", None, "--target", f"unknown target '{name}'{hint}; {where}")])
    for spec in opts.serve:
        from evalharness.targets.serve import ServeSpec

        try:
            s = ServeSpec.parse(spec)
        except ValueError as e:
            raise SuiteError([Problem("command line", None, "--serve", str(e))]) from None
        defaults = LOCAL_DEFAULTS if s.backend == "llamacpp" else {}
        targets.append(TargetConfig(name=s.name, model=s.name, **{**defaults, **overrides}))
    if not targets:
        targets.append(TargetConfig(name=LOCAL, model=LOCAL_MODEL_NAME, **{**LOCAL_DEFAULTS, **overrides}))
    names = [t.name for t in targets]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SuiteError([Problem("command line", None, "--target", f"target given twice: {', '.join(sorted(dup))}")])
    return targets


def _first_error(e: ValueError) -> str:
    """pydantic's first message, without its input echo (which may hold a credential)."""
    errors = getattr(e, "errors", None)
    msg = errors()[0]["msg"] if callable(errors) and errors() else str(e).splitlines()[0]
    return msg.removeprefix("Value error, ")


def referenced_judges(suites) -> set[str]:
    """Judge names the suites' scorers use (`judge:` and `panel:`)."""
    names: set[str] = set()
    for s in suites:
        for lc in s.cases:
            for b in lc.scorers:
                if b.needs_judge:
                    names.add(b.config.get("judge", "default"))
                    names.update(b.config.get("panel") or [])
    return names


def resolve_judges(opts: RunOptions, suites) -> dict:
    """name -> JudgeConfig for every referenced judge. Trusted definitions first (a targets file, then
    --judge-base-url/--judge-model for `default`); a suite's `judges:` then sets non-secret options on
    top (the loader refused endpoints and keys in suites unless --trust-suite-endpoints). A judge
    defined nowhere trusted is the embedded local model."""
    from evalharness.judges.config import DEFAULT_JUDGE, JudgeConfig
    from evalharness.targets.config import load_targets_file

    wanted = referenced_judges(suites)
    if not wanted:
        return {}
    defined: dict = {}
    if opts.targets_file:
        defined.update(load_targets_file(opts.targets_file)[1])
    problems = []
    if opts.judge_base_url or opts.judge_model:
        if not (opts.judge_base_url and opts.judge_model):
            problems.append(Problem("command line", None, "--judge-base-url/--judge-model", "give both"))
        else:
            flags = {"base_url": opts.judge_base_url, "model": opts.judge_model, "api_key_env": opts.judge_api_key_env}
            # The flags replace the endpoint only: the rest of a targets file's `default` (concurrency...) stays.
            try:  # validated (the URL checked, its userinfo registered as a secret)
                defined[DEFAULT_JUDGE] = JudgeConfig.model_validate(
                    {**(defined.get(DEFAULT_JUDGE) or JudgeConfig()).model_dump(), **flags})
            except ValueError as e:  # pydantic's ValidationError is a ValueError
                problems.append(Problem("command line", None, "--judge-base-url", _first_error(e)))
    from_suites: dict[str, tuple[dict, str]] = {}
    for s in suites:
        for name, cfg in (s.suite.judges or {}).items():
            options = cfg.model_dump(exclude_unset=True)
            if name in from_suites and from_suites[name][0] != options:
                problems.append(Problem(str(s.path), None, f"judges.{name}", f"judge '{name}' is set differently in "
                                        f"{from_suites[name][1]}; give it another name"))
                continue
            from_suites[name] = (options, str(s.path))
    for name, (options, _) in from_suites.items():
        defined[name] = (defined.get(name) or JudgeConfig()).model_copy(update=options)
    if DEFAULT_JUDGE not in defined:
        defined[DEFAULT_JUDGE] = JudgeConfig()  # the embedded local model
    for name in sorted(wanted - set(defined)):
        problems.append(Problem("scorers", None, "judge", f"no judge named '{name}' (define it in a targets file "
                                                          "under `judges:`)"))
    if problems:
        raise SuiteError(problems)
    return {n: defined[n] for n in sorted(wanted)}


def resolve_baseline(value: str | None, out: str = "reports") -> str | None:
    """`--baseline pinned` reads the pointer `evalharness baseline set` wrote under reports/."""
    if value != "pinned":
        return value
    import json

    pointer = Path(out) / "baseline.json"
    if not pointer.is_file():
        raise SuiteError([Problem(str(pointer), None, "--baseline", "no baseline pinned (run `evalharness baseline set RUN`)")])
    return json.loads(pointer.read_text())["path"]


def load_baseline(run_dir: str | None) -> dict[tuple[str, str], str]:
    """(suite, case_id) -> the baseline run's output (first target, first repeat, no error)."""
    if not run_dir:
        return {}
    import pyarrow.parquet as pq

    from evalharness.results.schema import RESPONSES_FILE

    path = Path(run_dir) / RESPONSES_FILE
    if not path.is_file():
        raise SuiteError([Problem(str(run_dir), None, "--baseline", f"{path} not found (is it a finished run?)")])
    t = pq.read_table(path, columns=["suite", "case_id", "repeat", "output", "error"]).to_pandas()
    t = t[t["error"].isna()].sort_values("repeat")
    return {(r.suite, r.case_id): r.output for r in t.drop_duplicates(["suite", "case_id"]).itertuples()}


def check_baseline_target(opts: RunOptions) -> None:
    """`--baseline-target` must name a target of the baseline run (checked before anything runs)."""
    if opts.baseline_target is None:
        return
    if not opts.baseline:
        raise SuiteError([Problem("command line", None, "--baseline-target", "needs --baseline RUN")])
    from evalharness.compare import run_targets

    names = run_targets(Path(opts.baseline))
    if opts.baseline_target not in names:
        raise SuiteError([Problem("command line", None, "--baseline-target",
                                  f"'{opts.baseline_target}' is not a target of {opts.baseline} "
                                  f"(its targets: {', '.join(names) or 'none'})")])


def event_loop_name() -> str:
    """The event loop requests will run on; a bad EVALHARNESS_EVENT_LOOP is a configuration error,
    raised before anything is written."""
    from evalharness.engine.loop import loop_factory

    try:
        return loop_factory()[0]
    except ValueError as e:
        raise SuiteError([Problem("environment", None, "", str(e))]) from None  # the message names the variable


def execute(opts: RunOptions, *, resume_dir: Path | None = None) -> RunOutcome:
    from evalharness.results.manifest import new_run_id, read_manifest, utcnow
    from evalharness.results.writer import load_done
    from evalharness.suite.loader import load_suites

    loop_name = event_loop_name()
    suites = load_suites(opts.paths, root=opts.suite_root, trust_endpoints=opts.trust_suite_endpoints)
    from dataclasses import replace

    if opts.limit is not None:
        suites = [replace(s, cases=s.cases[: opts.limit]) for s in suites]
    from evalharness.shard import in_shard, parse_shard

    try:
        shard = parse_shard(opts.shard)
    except ValueError as e:
        raise SuiteError([Problem("command line", None, "--shard", str(e))]) from None
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
        failed = _failed(e, run_dir, manifest)
        if failed is e:
            raise
        raise failed from e


# Options that name files: stored absolute, so `--resume` works from any directory.
PATH_OPTIONS = ("targets_file", "out", "cache_dir", "baseline", "guard_policy", "junit", "summary_md", "suite_root")


def portable_options(opts: RunOptions) -> dict:
    """The options as run.json stores them: every path absolute."""
    from evalharness.redact import strip_userinfo

    saved = asdict(opts)
    saved["paths"] = [str(Path(p).resolve()) for p in opts.paths]
    for key in PATH_OPTIONS:
        if saved.get(key):
            saved[key] = str(Path(saved[key]).resolve())
    for key in ("base_url", "judge_base_url"):  # a credential in a URL is never stored
        saved[key] = strip_userinfo(saved.get(key))
    return saved


def saved_options(saved: dict) -> RunOptions:
    """RunOptions from run.json's `options`, ignoring keys this version does not know (an older or newer run)."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(RunOptions)}
    return RunOptions(**{k: v for k, v in saved.items() if k in known})


def _execute_in(run_dir, run_id, manifest, opts, suites, targets, judge_configs, baseline, done, shard, loop_name,
                *, resumed: bool) -> RunOutcome:
    from dataclasses import replace

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
                    "cases": len(s.cases), "params": s.suite.defaults.params, "scorers": _scorer_configs(s)}
                   for s in suites],
        "targets": [t.public() for t in targets],
        "options": portable_options(opts),
        "shard": list(shard) if shard else None,
        "cli_args": sys.argv[1:],
    })
    if resumed:
        manifest.setdefault("resumed_at", []).append(utcnow())
    write_manifest(run_dir, manifest)

    servers: list = []
    cache = ResponseCache(Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()) if opts.cache else None
    writer = RunWriter(run_dir, batch_rows=opts.batch_rows)
    try:
        totals, deaths = _run_phase(opts, run_id, run_dir, suites, targets, judge_configs, baseline, done, cache,
                                    writer, servers, manifest, loop_name)
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
    return _conclude(run_dir, suites, manifest, totals, deaths, opts)


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

    expected = isinstance(e, (KeyboardInterrupt, SuiteError, InfraError))
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


def _run_phase(opts, run_id, run_dir, suites, targets, judge_configs, baseline, done, cache, writer, servers,
               manifest, loop_name):
    """Start the targets and judges, probe them, run every case; returns (totals, server deaths)."""
    from evalharness.engine.loop import run as run_loop
    from evalharness.results.manifest import write_manifest

    with contextlib.ExitStack() as stack:
        runtimes = _start_targets(stack, targets, opts, run_dir, servers)
        judge_rts = _start_judges(stack, judge_configs, runtimes, opts, run_dir, servers)
        from evalharness.engine.runner import Runner

        def probed() -> None:
            manifest["targets"] = [{**t.config.public(), "served_model": t.served_model} for t in runtimes]
            manifest["judges"] = {n: {**t.config.public(), "served_model": t.served_model}
                                  for n, t in judge_rts.items()}
            write_manifest(run_dir, manifest)

        runner = Runner(run_id, suites, runtimes, writer, repeats=opts.repeats, cache=cache, done=done)
        services = _judge_services(judge_rts, judge_configs, cache, baseline, runner) if judge_rts else None
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
        deaths = [d for d in (srv.death_notice() for srv in servers) if d]
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


def _scorer_configs(s) -> list[dict]:
    seen: dict[str, dict] = {}
    for lc in s.cases:
        for b in lc.scorers:
            seen.setdefault(b.name, b.config)
    return [{"name": k, **v} for k, v in seen.items()]


async def _drive(runner, runtimes, probed, label: str):
    """Probe, run and close in one event loop (each pooled client belongs to its loop)."""
    from evalharness.engine.progress import make_progress

    try:
        await _probe(runtimes)
        probed()
        with make_progress(runner.total(), label) as progress:
            runner.progress = progress
            return await runner.run()
    finally:
        for t in runtimes:
            if t.client is not None:
                await t.client.aclose()


def _start_targets(stack: contextlib.ExitStack, targets: list[TargetConfig], opts: RunOptions, run_dir: Path,
                   servers: list):
    from evalharness.engine.client import ChatClient
    from evalharness.engine.runner import TargetRuntime
    from evalharness.targets.serve import ManagedServer, ServeError, ServeSpec, embedded_model_path, free_port, llamacpp_command

    serve_specs = {spec.name: spec for spec in map(ServeSpec.parse, opts.serve)}
    runtimes = []
    # The guard goes last: it sits in front of --base-url or the local model started above.
    for t in sorted(targets, key=lambda t: t.name == GUARDED):
        if t.name == GUARDED:
            runtimes.append(_start_guard(stack, t, runtimes, opts, run_dir, servers))
            continue
        if t.kind == RECORDED:
            runtimes.append(TargetRuntime(t, None))
            continue
        cache_id = t.base_url
        if t.base_url is None:  # embedded local model or --serve
            port = free_port()
            try:
                if t.name in serve_specs:
                    spec = serve_specs[t.name]
                    spec.check()
                    cmd, served = spec.command(port), f"{spec.backend}:{spec.model}"
                else:
                    model_path = embedded_model_path()
                    cmd, served = llamacpp_command(model_path, port, alias=LOCAL_MODEL_NAME), f"llamacpp:{model_path}"
                print(f"starting model server for target '{t.name}' on 127.0.0.1:{port} "
                      f"(log: {run_dir / f'server-{t.name}.log'})", file=sys.stderr, flush=True)
                server = stack.enter_context(ManagedServer(cmd, port, run_dir / f"server-{t.name}.log"))
                servers.append(server)
            except ServeError as e:
                raise InfraError(str(e)) from None
            t = t.model_copy(update={"base_url": server.base_url})
            # The port is random: key the cache on what is served, not where.
            cache_id = served
        client = ChatClient(t.base_url, api_key=t.api_key(), concurrency=t.concurrency, timeout_s=t.timeout_s,
                            max_retries=t.max_retries, stream=opts.stream, max_response_bytes=t.max_response_bytes)
        runtimes.append(TargetRuntime(t, client, cache_id=cache_id))
    return runtimes


def _start_guard(stack, t: TargetConfig, runtimes: list, opts: RunOptions, run_dir: Path, servers: list):
    """The guard proxy as a managed process in front of --base-url, or the local model (started if needed)."""
    from evalharness.engine.client import ChatClient
    from evalharness.engine.runner import TargetRuntime
    from evalharness.targets.serve import ManagedServer, ServeError, embedded_model_path, free_port, llamacpp_command

    local = next((r for r in runtimes if r.name == LOCAL), None)
    if opts.base_url:
        upstream = opts.base_url
    elif local is not None:
        upstream = local.config.base_url
    else:
        port = free_port()
        try:
            server = stack.enter_context(ManagedServer(llamacpp_command(embedded_model_path(), port, alias=LOCAL_MODEL_NAME),
                                                       port, run_dir / "server-local.log"))
        except ServeError as e:
            raise InfraError(str(e)) from None
        servers.append(server)
        upstream = server.base_url
    port = free_port()
    cmd = [sys.executable, "-m", "evalharness.cli", "guard", "--upstream", upstream, "--policy", opts.guard_policy,
           "--port", str(port), "--log-dir", str(run_dir / "guard-log")]
    try:
        guard = stack.enter_context(ManagedServer(cmd, port, run_dir / "server-guarded.log", startup_timeout_s=60))
    except ServeError as e:
        raise InfraError(str(e)) from None
    servers.append(guard)
    t = t.model_copy(update={"base_url": guard.base_url})
    client = ChatClient(t.base_url, concurrency=t.concurrency, timeout_s=t.timeout_s, max_retries=t.max_retries,
                        max_response_bytes=t.max_response_bytes,
                        stream=opts.stream)
    import hashlib

    policy_hash = hashlib.sha256(Path(opts.guard_policy).read_bytes()).hexdigest()[:16]
    return TargetRuntime(t, client, cache_id=f"guarded:{policy_hash}:{upstream if opts.base_url else 'local'}")


def _start_judges(stack, configs: dict, runtimes: list, opts: RunOptions, run_dir: Path, servers: list) -> dict:
    """A TargetRuntime per judge. A judge with no base_url is the embedded model: the run's own
    local server when a target already started one, else a server of its own."""
    from evalharness.engine.client import ChatClient
    from evalharness.engine.runner import TargetRuntime
    from evalharness.targets.serve import ManagedServer, ServeError, embedded_model_path, free_port, llamacpp_command

    out = {}
    local = next((t for t in runtimes if t.name == LOCAL), None)
    own_local = None
    for name, cfg in configs.items():
        if cfg.base_url is None:
            if local is not None:
                base_url, cache_id = local.config.base_url, local.cache_id
            else:
                if own_local is None:
                    port = free_port()
                    try:
                        path = embedded_model_path()
                        print(f"starting the local judge model on 127.0.0.1:{port}", file=sys.stderr, flush=True)
                        server = stack.enter_context(ManagedServer(llamacpp_command(path, port, alias=LOCAL_MODEL_NAME),
                                                                   port, run_dir / "server-judge.log"))
                    except ServeError as e:
                        raise InfraError(str(e)) from None
                    servers.append(server)
                    own_local = (server.base_url, f"llamacpp:{path}")
                base_url, cache_id = own_local
            model = cfg.model or LOCAL_MODEL_NAME
            style = "json_object" if cfg.response_format == "auto" else cfg.response_format
            # llama.cpp's own structured-output form (no probing); it answers one request at a time.
            cfg = cfg.model_copy(update={"response_format": style, "concurrency": min(cfg.concurrency, 2),
                                         "timeout_s": max(cfg.timeout_s, 600.0)})
        else:
            base_url, cache_id, model = cfg.base_url, cfg.base_url, cfg.model
        tc = TargetConfig(name=f"judge:{name}", base_url=base_url, model=model, api_key_env=cfg.api_key_env,
                          params=cfg.params, concurrency=cfg.concurrency, timeout_s=cfg.timeout_s,
                          max_retries=cfg.max_retries)
        client = ChatClient(base_url, api_key=tc.api_key(), concurrency=cfg.concurrency, timeout_s=cfg.timeout_s,
                            max_retries=cfg.max_retries)
        rt = TargetRuntime(tc, client, cache_id=cache_id)
        rt.judge_config = cfg
        out[name] = rt
    return out


def _judge_services(judge_rts: dict, configs: dict, cache, baseline: dict, runner):
    from functools import partial

    from evalharness.engine.cache import cached_complete
    from evalharness.judges.client import Judge, JudgeServices

    judges = {}
    for name, rt in judge_rts.items():
        complete = partial(cached_complete, cache, rt.cache_id, rt.client, memo=True)
        judges[name] = Judge(name, rt.judge_config, rt.model, complete)
    return JudgeServices(judges, baseline=baseline, reference=runner.reference_output)


async def _probe(runtimes) -> None:
    """Ask each target for /models: records the served model id; unreachable -> InfraError."""

    from evalharness.engine.client import Unreachable

    async def one(t):
        try:
            ids = await t.client.served_models()
        except Unreachable as e:
            raise InfraError(f"target '{t.name}' is unreachable at {t.config.public()['base_url']}: "
                             f"{type(e).__name__}: {t.client.scrub(str(e))}") from None
        if ids:
            t.served_model = t.config.model if t.config.model in ids else ids[0]

    await asyncio.gather(*(one(t) for t in runtimes if t.client is not None))


def _conclude(run_dir: Path, suites, manifest: dict, totals, deaths: list[str], opts: RunOptions | None = None) -> RunOutcome:
    """Verdicts, summary, gates and run.json from the Parquet files, in Arrow and plain Python: pandas
    is imported only for the optional JUnit and Markdown reports and the baseline comparison."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from evalharness.gate import (
        case_stats, evaluate_gates, infrastructure_failures, judge_call_counts, summary_rows, verdict_rows, verdict_table,
    )
    from evalharness.results.manifest import utcnow, write_manifest
    from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE

    # The texts (messages, output, tool calls) are the bulk of the table and nothing below reads them.
    wanted = [c for c in pq.read_schema(run_dir / RESPONSES_FILE).names if c not in ("messages", "output", "tool_calls")]
    responses = pq.read_table(run_dir / RESPONSES_FILE, columns=wanted)
    scores = pq.read_table(run_dir / SCORES_FILE, columns=[c for c in pq.read_schema(run_dir / SCORES_FILE).names
                                                           if c != "verdict"])
    verdicts = verdict_table(responses, scores)
    summary = summary_rows(verdicts)
    quarantine = {s.name: set(s.suite.quarantine) for s in suites if s.suite.quarantine}
    baseline = None
    if opts is not None and opts.baseline:
        from evalharness.compare import compare_with_baseline

        baseline = compare_with_baseline(Path(opts.baseline), run_dir, opts.baseline_target)
        manifest["baseline"] = {"run": baseline.run, "pairing": baseline.pairing,
                                "deltas": [asdict(d) for d in baseline.deltas]}
    gates = {s.name: s.suite.gate for s in suites}
    # Per-case stats say something only with repeats (flaky, pass@k) or a quarantine.
    repeated = responses.num_rows > 0 and (pc.max(responses["repeat"]).as_py() or 0) > 0
    # Plain rows (one dict per response) only where a gate, a quarantine or repeats need them.
    rows = verdict_rows(verdicts) if any(g is not None for g in gates.values()) or quarantine or repeated else []
    targets = [t["name"] for t in manifest.get("targets") or []]
    judge_calls = judge_call_counts(scores)
    # Every configured check, even over no rows at all: a check that evaluates nothing fails (gate.py).
    checks = evaluate_gates(rows, gates, quarantine, baseline, targets=targets, judge_calls=judge_calls)
    cstats = case_stats(rows, quarantine) if repeated or quarantine else []
    if cstats:
        import pyarrow as pa

        from evalharness.results.writer import _write_atomic

        _write_atomic(pa.Table.from_pylist(cstats), run_dir / "cases.parquet")
    n, n_err = responses.num_rows, len(responses["error"]) - responses["error"].null_count
    judges_of = {(m["name"], sc["name"]): list(sc.get("panel") or [sc.get("judge") or "default"])
                 for m in manifest.get("suites") or [] for sc in m.get("scorers") or []}
    judge_stats = {n: j.get("stats") or {} for n, j in (manifest.get("judges") or {}).items()}
    messages = list(deaths) + infrastructure_failures(summary, gates, judge_calls, judges_of, judge_stats)
    if messages:
        code = EXIT_INFRA
    elif any(not c.passed for c in checks) and not manifest.get("shard"):
        code = EXIT_GATE
    else:
        code = EXIT_OK
    if manifest.get("shard") and checks:
        messages.append("shard run: its gates are shown, but only `evalharness merge` of all shards decides them")

    def total(col: str) -> int:
        return int(pc.sum(scores[col]).as_py() or 0) if scores.num_rows else 0

    manifest.update(
        status="complete", ended_at=utcnow(), exit_code=code, infrastructure=messages,
        cases={"flaky": sorted(f"{c['suite']}/{c['case_id']}" for c in cstats if c["flaky"]),
               "quarantined": sorted(f"{c['suite']}/{c['case_id']}" for c in cstats if c["quarantined"])},
        counts={"responses": n, "errors": n_err, "cached": int(pc.sum(responses["cached"]).as_py() or 0) if n else 0,
                "judge_errors": len(scores["judge_error"]) - scores["judge_error"].null_count,
                "judge_input_tokens": total("judge_input_tokens"),
                "judge_output_tokens": total("judge_output_tokens")},
        gate={"passed": all(c.passed for c in checks), "checks": [{**asdict(c), "passed": c.passed} for c in checks]},
        summary=summary,
    )
    write_manifest(run_dir, manifest)
    outcome = RunOutcome(run_dir, code, summary, checks, totals, messages, manifest.get("judges") or {},
                         baseline.deltas if baseline else [])
    if opts is not None and (opts.junit or opts.summary_md):
        verdicts, scores = verdicts.to_pandas(), scores.to_pandas()
    if opts is not None and opts.junit:
        from evalharness.report.junit import write_junit

        write_junit(Path(opts.junit), verdicts, scores, run_dir.name)
    if opts is not None and opts.summary_md:
        from evalharness.report.markdown import write_summary

        write_summary(Path(opts.summary_md), outcome, verdicts, scores)
    return outcome


def calibrate_run(opts: RunOptions) -> tuple[RunOutcome, list[dict]]:
    """Judge the recorded outputs (target `recorded`) and compare each judge scorer with the cases' labels."""
    import pyarrow.parquet as pq

    from evalharness.judges.calibration import agreement, label_passes
    from evalharness.results.manifest import read_manifest, write_manifest
    from evalharness.results.schema import SCORES_FILE
    from evalharness.suite.loader import load_suites

    suites = load_suites(opts.paths, root=opts.suite_root, trust_endpoints=opts.trust_suite_endpoints)
    labels = {(s.name, lc.case.id): lc.case.label for s in suites for lc in s.cases if lc.case.label is not None}
    judge_scorers = {(s.name, b.name) for s in suites for lc in s.cases for b in lc.scorers if b.needs_judge}
    outcome = execute(opts)
    scores = pq.read_table(outcome.run_dir / SCORES_FILE).to_pandas()
    report = []
    for (suite, name), df in scores.groupby(["suite", "scorer"], sort=True):
        if (suite, name) not in judge_scorers:
            continue
        df = df[[(suite, c) in labels for c in df["case_id"]]]
        ok = df[df["judge_error"].isna()]
        human = [label_passes(labels[(suite, c)]) for c in ok["case_id"]]
        human_scores = [None if isinstance(labels[(suite, c)], (bool, str)) else float(labels[(suite, c)])
                        for c in ok["case_id"]]
        a = agreement(list(ok["passed"]), human, list(ok["score"]), human_scores)
        report.append({"suite": suite, "scorer": name, "judge_errors": int(df["judge_error"].notna().sum()), **a})
    manifest = read_manifest(outcome.run_dir)
    manifest["calibration"] = report
    write_manifest(outcome.run_dir, manifest)
    return outcome, report


def merge_runs(runs: list[Path], output: Path) -> RunOutcome:
    """Concatenate shard runs; refuse overlapping shards; one manifest; gates from the suites."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evalharness.results.manifest import read_manifest, utcnow
    from evalharness.results.schema import RESPONSES, RESPONSES_FILE, SCORES, SCORES_FILE
    from evalharness.results.writer import _write_atomic
    from evalharness.suite.loader import load_suites

    problems = [Problem(str(r), None, "", "not a finished run folder") for r in runs
                if not (r / RESPONSES_FILE).is_file() or not (r / SCORES_FILE).is_file()]
    if problems:
        raise SuiteError(problems)
    if output.exists():
        raise SuiteError([Problem(str(output), None, "-o", "already exists")])
    manifests = [read_manifest(r) for r in runs]
    run_id = output.name
    resp = pa.concat_tables([pq.read_table(r / RESPONSES_FILE, schema=RESPONSES) for r in runs])
    scores = pa.concat_tables([pq.read_table(r / SCORES_FILE, schema=SCORES) for r in runs])
    keys = resp.select(["suite", "case_id", "target", "repeat"]).to_pandas()
    dup = keys[keys.duplicated()]
    if len(dup):
        first = dup.iloc[0]
        raise SuiteError([Problem(", ".join(map(str, runs)), None, "", f"shards overlap: {first.suite}/{first.case_id} "
                                  f"[{first.target}] appears twice ({len(dup)} duplicate rows)")])
    resp = resp.set_column(resp.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * resp.num_rows, pa.string()))
    scores = scores.set_column(scores.schema.get_field_index("run_id"), "run_id",
                               pa.array([run_id] * scores.num_rows, pa.string()))
    output.mkdir(parents=True)
    _write_atomic(resp, output / RESPONSES_FILE)
    _write_atomic(scores, output / SCORES_FILE)
    suites_meta = {s["name"]: s for m in manifests for s in m.get("suites", [])}
    manifest = {**manifests[0], "run_id": run_id, "started_at": min(m["started_at"] for m in manifests),
                "merged_at": utcnow(), "merged_from": [m["run_id"] for m in manifests],
                "suites": list(suites_meta.values()), "shard": None}
    missing = sorted({s["path"] for s in suites_meta.values() if not Path(s["path"]).is_file()})
    if missing:  # without its suite, a shard's gate would be dropped: refuse instead
        raise SuiteError([Problem(p, None, "", "suite file of a shard not found (its gate cannot be checked)")
                          for p in missing])
    paths = sorted({s["path"] for s in suites_meta.values()})
    suites = load_suites(paths) if paths else []
    shard_opts = saved_options({"paths": paths, **(manifests[0].get("options") or {})})
    # The shards' own --baseline decides the merged run's regression gate, as it would have a whole run's.
    opts = RunOptions(paths=paths, baseline=shard_opts.baseline, baseline_target=shard_opts.baseline_target)
    return _conclude(output, suites, manifest, None, [], opts)
