"""The public Python API of evalharness: everything the command line does, as functions that return
values and raise exceptions (they never print a verdict and never exit the process).

    from evalharness.api import run, Endpoint

    result = run("suites/", targets=[Endpoint("http://127.0.0.1:8000/v1", "qwen2.5-0.5b")])
    result.assert_passed()          # AssertionError listing each failed gate check and failing case

Options come in small frozen groups (`Endpoint`, `Transport`, `JudgeSpec`, `Baseline`, `Selection`,
`Output`, `Cache`), turned into the engine's `RunOptions` in one place (`_run_options`). Errors: `ConfigError` (a suite, a flag, a targets file, a run folder: exit 2 on the command line;
`SuiteError` is the suite loader's kind), `InfraError` (a target or judge unreachable, a server that
would not start: exit 3), `RunFailed` (an unexpected error inside a run whose folder exists: run.json
says `failed`, the traceback is in its error.log, and `resume` finishes it). A run that ends with a failed
gate is not an error: `RunResult.passed` is False and `RunResult.exit_code` 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

from evalharness.errors import ConfigError, InfraError, Problem, SuiteError
from evalharness.exitcodes import RunFailed
from evalharness.lifecycle.options import RunOptions
from evalharness.lifecycle.suitegen import Written
from evalharness.results.manifest import ManifestError, RunManifest, config_message, load_manifest
from evalharness.results.run import CaseFailure, Run, RunResult, load_run, shorten
from evalharness.results.schema import MANIFEST_FILE, RESPONSES_FILE

__all__ = [
    "run", "resume", "rescore", "compare", "merge", "calibrate", "snapshot", "generate", "load_run",
    "Endpoint", "Serve", "Transport", "JudgeSpec", "Baseline", "Selection", "Output", "Cache",
    "RunResult", "CaseFailure", "Run", "RunManifest", "Comparison", "Calibration", "Written",
    "ConfigError", "SuiteError", "InfraError", "ManifestError", "RunFailed", "EvalHarnessWarning", "OPTION_RENAMES",
]

WHERE = "arguments"  # the `file` of a Problem found in the arguments of an API call


class EvalHarnessWarning(UserWarning):
    """Something the API went on with but you should know (e.g. an option of an older run ignored)."""


def _check(cond: bool, name: str, message: str) -> None:
    if not cond:
        raise ConfigError([Problem(WHERE, None, name, message)])


# ---------------------------------------------------------------- typed options, grouped by concern


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint as a target. The key is read from the environment variable named
    by `api_key_env` (never stored). At most one Endpoint per run; more targets come from a targets file."""

    base_url: str
    model: str
    api_key_env: str | None = None


@dataclass(frozen=True)
class Serve:
    """A model server the run starts and stops: `llamacpp:/path/model.gguf` or `vllm:/path/model`."""

    spec: str


TargetLike = Union[str, Endpoint, Serve]


@dataclass(frozen=True)
class Transport:
    """Per-request settings, overriding every target's own."""

    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    stream: bool = False

    def __post_init__(self) -> None:
        _check(self.concurrency is None or self.concurrency >= 1, "concurrency", "must be at least 1")
        _check(self.timeout_s is None or self.timeout_s > 0, "timeout_s", "must be positive")
        _check(self.max_retries is None or self.max_retries >= 0, "max_retries", "must be 0 or more")


@dataclass(frozen=True)
class JudgeSpec:
    """The `default` judge's endpoint (overrides the suites' and the targets file's `default`). Without
    one, a judge defined nowhere trusted is the embedded local model."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = None  # requests in flight per judge (every judge of the run)

    def __post_init__(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError.one("judge", "concurrency", f"must be at least 1, got {self.concurrency}")


@dataclass(frozen=True)
class Baseline:
    """An earlier run (a folder, or "pinned") that the regression gate and `pairwise: {against:
    baseline}` compare with; `target`: its target every target is compared with."""

    run: str | Path
    target: str | None = None


@dataclass(frozen=True)
class Selection:
    """Which cases, how often: cases carrying one of `tags`, whose id matches one of `cases` (globs), the
    first `limit` of each suite, shard `i/n` (or "auto"), each case sampled `repeats` times."""

    limit: int | None = None
    shard: str | None = None
    repeats: int = 1
    tags: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.limit is None or self.limit >= 1, "limit", "must be at least 1")
        _check(self.repeats >= 1, "repeats", "must be at least 1")


@dataclass(frozen=True)
class Output:
    """Where the run folder goes (`dir`/<run_id>) and the optional CI reports."""

    dir: str | Path = "reports"
    junit: str | Path | None = None
    summary_md: str | Path | None = None
    batch_rows: int = 1000

    def __post_init__(self) -> None:
        _check(self.batch_rows >= 1, "batch_rows", "must be at least 1")


@dataclass(frozen=True)
class Cache:
    """The response cache (default ~/.cache/evalharness)."""

    enabled: bool = True
    dir: str | Path | None = None


def _str(p: str | Path | None) -> str | None:
    return None if p is None else str(p)


def _paths(suites: str | Path | Iterable[str | Path] | None) -> list[str]:
    if suites is None:
        return []
    if isinstance(suites, (str, Path)):
        return [str(suites)]
    return [str(p) for p in suites]


def _as_output(out: str | Path | Output | None) -> Output:
    return out if isinstance(out, Output) else Output(dir=out if out is not None else "reports")


def _as_cache(cache: bool | Cache | None) -> Cache:
    if isinstance(cache, Cache):
        return cache
    return Cache(enabled=cache is not False)


def _as_baseline(baseline: str | Path | Baseline | None) -> Baseline | None:
    return baseline if isinstance(baseline, Baseline) or baseline is None else Baseline(baseline)


def _run_options(suites, *, targets: TargetLike | Sequence[TargetLike] | None = None, targets_file=None,
                 guard_policy=None, judge: JudgeSpec | None = None, baseline=None, select: Selection | None = None,
                 out=None, transport: Transport | None = None, cache=True, suite_root=None,
                 trust_suite_endpoints: bool = False) -> RunOptions:
    """The one conversion from the typed options to the engine's RunOptions."""
    names: list[str] = []
    serve: list[str] = []
    endpoints: list[Endpoint] = []
    if targets is None:
        targets = []
    elif isinstance(targets, (str, Endpoint, Serve)):
        targets = [targets]
    for t in targets:
        if isinstance(t, Endpoint):
            endpoints.append(t)
        elif isinstance(t, Serve):
            serve.append(t.spec)
        elif isinstance(t, str):
            names.append(t)
        else:
            raise ConfigError([Problem(WHERE, None, "targets", f"not a target: {t!r} (give a target name, an "
                                                                "Endpoint or a Serve)")])
    _check(len(endpoints) <= 1, "targets", "one Endpoint per run; define more targets in a targets file")
    ep = endpoints[0] if endpoints else None
    judge = judge or JudgeSpec()
    b = _as_baseline(baseline)
    select = select or Selection()
    output = _as_output(out)
    transport = transport or Transport()
    c = _as_cache(cache)
    return RunOptions(
        paths=_paths(suites),
        base_url=ep.base_url if ep else None, model=ep.model if ep else None,
        api_key_env=ep.api_key_env if ep else None,
        targets_file=_str(targets_file), target_names=names, serve=serve,
        out=str(output.dir), repeats=select.repeats, stream=transport.stream,
        cache=c.enabled, cache_dir=_str(c.dir),
        concurrency=transport.concurrency, timeout_s=transport.timeout_s, max_retries=transport.max_retries,
        limit=select.limit, tags=list(select.tags), cases=list(select.cases), batch_rows=output.batch_rows,
        judge_base_url=judge.base_url, judge_model=judge.model, judge_api_key_env=judge.api_key_env,
        judge_concurrency=judge.concurrency,
        baseline=_str(b.run) if b else None, baseline_target=b.target if b else None,
        guard_policy=_str(guard_policy), junit=_str(output.junit), summary_md=_str(output.summary_md),
        shard=select.shard, suite_root=_str(suite_root), trust_suite_endpoints=trust_suite_endpoints,
    )


# ---------------------------------------------------------------- run, resume


def run(suites: str | Path | Sequence[str | Path], *, targets: TargetLike | Sequence[TargetLike] | None = None,
        targets_file: str | Path | None = None, guard_policy: str | Path | None = None,
        judge: JudgeSpec | None = None, baseline: str | Path | Baseline | None = None,
        select: Selection | None = None, out: str | Path | Output = "reports", transport: Transport | None = None,
        cache: bool | Cache = True, suite_root: str | Path | None = None,
        trust_suite_endpoints: bool = False) -> RunResult:
    """Run suites (files or directories) against the targets, write the run folder under `out`, gate.

    `targets`: names ("local", "recorded", "guarded", or one defined in `targets_file`), an Endpoint,
    a Serve, or a list of them; none means the embedded local model."""
    from evalharness.lifecycle.execute import execute

    paths = _paths(suites)
    if not paths:
        raise config_message("give suite files or directories, e.g. `evalharness run suites/`")
    opts = _run_options(paths, targets=targets, targets_file=targets_file, guard_policy=guard_policy, judge=judge,
                        baseline=baseline, select=select, out=out, transport=transport, cache=cache,
                        suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints)
    return RunResult.from_outcome(execute(opts))


OPTION_RENAMES: dict[str, str] = {}
"""Saved option names of older versions -> today's names, applied when a run is resumed."""


def _is_unset(value: Any) -> bool:
    return value is None or value is False or value == [] or value == "" or value == {}


def saved_run_options(manifest: RunManifest, where: str) -> RunOptions:
    """The engine options a run was started with, from its manifest, checked: renamed keys migrated
    (OPTION_RENAMES), unknown keys that are unset ignored with a warning, an unknown key that is set
    (its meaning would be lost) or a value of the wrong type a ConfigError naming the file and key."""
    from evalharness.lifecycle.options import saved_options

    known = {f.name for f in fields(RunOptions)}
    saved: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in manifest.options.items():
        new = OPTION_RENAMES.get(key, key)
        if new in known:
            if new != key and new in manifest.options:
                continue  # both spellings: today's wins
            saved[new] = value
        elif _is_unset(value):
            warnings.warn(f"{where}: options.{key}: not an option of this version of evalharness; ignored (it was "
                          "not set)", EvalHarnessWarning, stacklevel=3)
        else:
            problems.append(Problem(where, None, f"options.{key}", f"not an option of this version of evalharness "
                                    f"(renamed or removed?) and set to {shorten(repr(value), 60)}: resume the run "
                                    "with the version that started it, or start a new run"))
    if problems:
        raise ConfigError(problems)
    opts = saved_options(saved, where)  # types checked: a wrong one is a ConfigError naming the key
    try:  # the same constraints as a new run's
        Selection(limit=opts.limit, shard=opts.shard, repeats=opts.repeats)
        Output(batch_rows=opts.batch_rows)
        Transport(concurrency=opts.concurrency, timeout_s=opts.timeout_s, max_retries=opts.max_retries)
    except ConfigError as e:
        raise ConfigError([Problem(where, None, f"options.{p.field}", p.message) for p in e.problems]) from None
    return opts


def resume(run_dir: str | Path, suites: str | Path | Sequence[str | Path] | None = None) -> RunResult:
    """Finish an interrupted or failed run with the options it was started with (`suites` replaces its
    suite paths). A run.json that cannot be read, or options this version cannot honour, is a ConfigError."""
    from evalharness.lifecycle.execute import execute

    run_dir = Path(run_dir)
    try:
        manifest = load_manifest(run_dir)
    except ManifestError as e:
        raise ConfigError([Problem(p.file, p.line, p.field, f"--resume: {p.message}") for p in e.problems]) from None
    opts = saved_run_options(manifest, str(run_dir / MANIFEST_FILE))
    if suites is not None:
        opts.paths = _paths(suites)
    return RunResult.from_outcome(execute(opts, resume_dir=run_dir))


# ---------------------------------------------------------------- rescore, merge, compare, calibrate


def rescore(run_dir: str | Path, suites: str | Path | Sequence[str | Path] | None = None, *,
            out: str | Path = "reports", judge: JudgeSpec | None = None, cache: bool | Cache = True,
            baseline: str | Path | Baseline | None = None, suite_root: str | Path | None = None,
            trust_suite_endpoints: bool = False) -> RunResult:
    """Score a run's stored responses again (default: with the suites it recorded) without calling the
    model; writes a new run folder under `out` and gates it."""
    from evalharness.lifecycle.rescore import rescore_run

    run_dir = Path(run_dir)
    paths = _paths(suites)
    opts = _run_options(paths, judge=judge, baseline=baseline, out=out, cache=cache, suite_root=suite_root,
                        trust_suite_endpoints=trust_suite_endpoints)
    try:
        outcome = rescore_run(run_dir, paths or None, str(out), opts)
    except (OSError, KeyError) as e:
        raise config_message(f"{run_dir}: not a finished run folder ({e})") from None
    return RunResult.from_outcome(outcome)


def merge(runs: Sequence[str | Path], output: str | Path) -> RunResult:
    """Merge shard runs into one run folder `output` (refusing overlaps), then gate it like a run."""
    from evalharness.lifecycle.merge import merge_runs

    return RunResult.from_outcome(merge_runs([Path(r) for r in runs], Path(output)))


@dataclass
class Comparison:
    """Run B (candidate) against run A (baseline): paired deltas per suite x target (overall, per tag,
    per scorer), the paired cases, and B's targets that nothing of A pairs with."""

    run_a: Path
    run_b: Path
    deltas: list  # compare.SuiteDelta
    pairs: Any  # DataFrame: one row per paired (suite, target, case)
    unpaired: list[str]
    only_in_a: tuple[str, ...] = ()  # suites the baseline ran and the candidate did not: compared with nothing
    only_in_b: tuple[str, ...] = ()  # new suites: nothing to compare them with (reported, not failed)

    @property
    def overall(self) -> list:
        return [d for d in self.deltas if d.scope == "overall"]

    @property
    def regressions(self) -> list:
        return [d for d in self.overall if d.significant_regression]

    @property
    def exit_code(self) -> int:
        return 1 if self.unpaired or self.only_in_a or self.regressions else 0

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def assert_passed(self) -> None:
        __tracebackhide__ = True
        if self.passed:
            return
        lines = [f"{self.run_b.name} regressed against {self.run_a.name}:"]
        for d in self.regressions:
            lines.append(f"  {d.suite} [{d.target} vs {d.baseline_target}] pass rate {d.pass_a:.1%} -> {d.pass_b:.1%} "
                         f"(delta {d.delta:+.3f}, McNemar p={d.p_value:.4f}; pass->fail: {', '.join(d.regressed[:10])})")
        for t in self.unpaired:
            lines.append(f"  target '{t}' was compared with nothing (choose one with baseline_target)")
        for s in self.only_in_a:
            lines.append(f"  suite '{s}' of {self.run_a.name} has no responses in {self.run_b.name}")
        raise AssertionError("\n".join(lines))


def compare(run_a: str | Path, run_b: str | Path, *, significance: float = 0.05, max_regression: float = 0.0,
            baseline_target: str | None = None, breakdown: bool = True) -> Comparison:
    """Paired comparison of two finished runs: delta with a 95% bootstrap CI, exact McNemar, flips."""
    from evalharness.compare import PairingError, compare_runs, pair_targets, run_suites, run_targets

    run_a, run_b = Path(run_a), Path(run_b)
    for r in (run_a, run_b):
        if not (r / RESPONSES_FILE).is_file():
            raise config_message(f"{r} is not a finished run folder (no {RESPONSES_FILE})")
    try:
        deltas, pairs = compare_runs(run_a, run_b, significance=significance, max_regression=max_regression,
                                     baseline_target=baseline_target, breakdown=breakdown)
    except PairingError as e:
        raise config_message(str(e)) from None
    candidates = run_targets(run_b)
    paired = pair_targets(run_targets(run_a), candidates, baseline_target)
    unpaired = [t for t in candidates if t not in paired]
    if not deltas:
        raise config_message("the two runs share no (suite, case) pairs")
    suites_a, suites_b = set(run_suites(run_a)), set(run_suites(run_b))
    return Comparison(run_a, run_b, deltas, pairs, unpaired, tuple(sorted(suites_a - suites_b)),
                      tuple(sorted(suites_b - suites_a)))


@dataclass
class Calibration:
    """A judge checked against human labels: the run that judged the recorded outputs, and per suite x
    judge scorer: n, accuracy, Cohen's kappa, confusion matrix, judge errors."""

    result: RunResult
    report: list[dict]

    def below(self, min_kappa: float) -> list[dict]:
        return [r for r in self.report if r["kappa"] is None or r["kappa"] < min_kappa]


def calibrate(suites: str | Path | Sequence[str | Path], *, judge: JudgeSpec | None = None,
              targets_file: str | Path | None = None, out: str | Path = "reports", cache: bool | Cache = True,
              suite_root: str | Path | None = None, trust_suite_endpoints: bool = False) -> Calibration:
    """Judge the suites' recorded outputs and compare each judge scorer with the cases' `label`s."""
    from evalharness.lifecycle.calibrate import calibrate_run

    opts = _run_options(suites, targets=["recorded"], targets_file=targets_file, judge=judge, out=out, cache=cache,
                        suite_root=suite_root, trust_suite_endpoints=trust_suite_endpoints)
    outcome, report = calibrate_run(opts)
    return Calibration(RunResult.from_outcome(outcome), report)


# ---------------------------------------------------------------- snapshot, generate (suite writers)


def snapshot(run_dir: str | Path, suite: str, output: str | Path, *, scorer: str = "rouge_l",
             threshold: float | None = None, target: str | None = None) -> Written:
    """Freeze a run's approved outputs of one suite as a regression suite (category regression,
    `expected` = the output; `target`: whose outputs, default the first), compared by `scorer`
    (exact, rouge_l or rubric) in later runs."""
    from evalharness.lifecycle.suitegen import snapshot_suite

    return snapshot_suite(run_dir, suite, output, scorer=scorer, threshold=threshold, target=target)


def generate(suite: str | Path, output: str | Path, *, mutators: str | Sequence[str] = (), seed: int = 0,
             paraphrase: int = 0, paraphrase_endpoint: Endpoint | None = None,
             cache_dir: str | Path | None = None) -> Written:
    """Write `suite` with every case expanded by the mutators (`<id>~<mutator>` cases; a comma-separated
    string or a list) and, with `paraphrase` N, N rewrites of each seed written by the LLM at
    `paraphrase_endpoint`, for review before it is run."""
    from evalharness.lifecycle.suitegen import expand_suite

    ep = (paraphrase_endpoint.base_url, paraphrase_endpoint.model) if paraphrase_endpoint else None
    return expand_suite(suite, output, mutators=mutators, seed=seed, paraphrase=paraphrase, paraphrase_endpoint=ep,
                        cache_dir=cache_dir)
