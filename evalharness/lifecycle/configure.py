"""Configure a run: command-line options, targets files and suites -> targets (with their kinds),
judges and the baseline. Everything here is checked before anything is started or written; every
problem is a ConfigError (exit 2) that names the flag, file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalharness.errors import ConfigError, Problem
from evalharness.lifecycle.options import RunOptions
from evalharness.targets.config import GUARDED, LOCAL, RECORDED, TargetConfig
from evalharness.targets.kinds import (
    LOCAL_DEFAULTS, LOCAL_GEMMA, LOCAL_MODEL_NAME, LOCAL_SMOL, SMOL_MODEL_NAME, GuardedTarget, HttpTarget, LocalTarget,
    RecordedTarget, ServeTarget, TargetKind,
)


@dataclass(frozen=True)
class Target:
    """A target of the run: its configuration and its kind (which starts it)."""

    config: TargetConfig
    kind: TargetKind

    @property
    def name(self) -> str:
        return self.config.name


def _cli(field: str, message: str) -> ConfigError:
    return ConfigError([Problem("command line", None, field, message)])


def first_error(e: ValueError) -> str:
    """pydantic's first message, without its input echo (which may hold a credential)."""
    errors = getattr(e, "errors", None)
    msg = errors()[0]["msg"] if callable(errors) and errors() else str(e).splitlines()[0]
    return msg.removeprefix("Value error, ")


def kind_of(name: str) -> TargetKind:
    """A targets file's `kind:` -> the kind object: `http`, or a kind an installed plugin declares."""
    from evalharness.plugins import PluginError, target_kind
    from evalharness.targets.kinds import BUILT_IN_KINDS

    if name == "http":
        return HttpTarget()
    if name in BUILT_IN_KINDS:
        raise ConfigError.one("targets file", "kind", f"'{name}' is a built-in target, named with --target {name} "
                                                      "(a targets file defines `http` targets or plugin kinds)")
    try:
        cls = target_kind(name, BUILT_IN_KINDS)
    except PluginError as e:
        raise ConfigError.one("targets file", "kind", str(e)) from None
    if cls is None:
        raise ConfigError.one("targets file", "kind", f"unknown target kind '{name}' (http, or a kind from an "
                                                      "installed plugin: entry-point group evalharness.targets)")
    return cls()


def load_targets_file(path: str | Path):
    """A targets YAML file -> ({name: TargetConfig}, {name: JudgeConfig}), problems with their lines."""
    from pydantic import ValidationError

    from evalharness.suite.yamlsrc import load_yaml, read_text
    from evalharness.targets.config import BUILT_IN, TargetsFile

    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, "", "targets file not found")])
    src, problems = load_yaml(read_text(path), str(path))
    if src is None or problems:
        raise ConfigError(problems)
    data = src.data
    if isinstance(data, dict) and isinstance(data.get("targets"), list):  # `tokenizer:` is relative to this file
        data = {**data, "targets": [
            {**t, "tokenizer": str(path.parent / Path(t["tokenizer"]).expanduser())}
            if isinstance(t, dict) and isinstance(t.get("tokenizer"), str) and t["tokenizer"].strip()
            and not Path(t["tokenizer"]).expanduser().is_absolute() else t for t in data["targets"]]}
    try:
        tf = TargetsFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(src.problems(e)) from None
    out: dict[str, TargetConfig] = {}
    for i, t in enumerate(tf.targets):
        line = src.line(("targets", i, "name"))
        if t.name in out:
            problems.append(Problem(str(path), line, f"targets[{i}].name", f"duplicate target name '{t.name}'"))
        if t.name in BUILT_IN:
            problems.append(Problem(str(path), line, f"targets[{i}].name", f"'{t.name}' is a built-in target name"))
        if t.kind == "http" and (t.base_url is None or t.model is None):
            problems.append(Problem(str(path), src.line(("targets", i)), f"targets[{i}]",
                                    "a target needs `base_url` and `model`"))
        elif t.kind != "http":
            try:
                kind_of(t.kind)
            except ConfigError as e:
                problems.append(Problem(str(path), src.line(("targets", i, "kind")), f"targets[{i}].kind",
                                        e.problems[0].message))
        out[t.name] = t
    if problems:
        raise ConfigError(problems)
    return out, dict(tf.judges or {})


def load_targets(path: str | Path) -> dict[str, TargetConfig]:
    return load_targets_file(path)[0]


def resolve_targets(opts: RunOptions) -> list[Target]:
    """Flags and targets files -> the run's targets. With nothing given, the embedded local model."""
    targets: list[Target] = []
    overrides = {k: v for k, v in (("concurrency", opts.concurrency), ("timeout_s", opts.timeout_s),
                                   ("max_retries", opts.max_retries)) if v is not None}
    local = {**LOCAL_DEFAULTS, **overrides}
    if opts.base_url or opts.model:
        if not (opts.base_url and opts.model):
            raise _cli("--base-url/--model", "give both --base-url and --model")
        try:
            targets.append(Target(TargetConfig(name=opts.model, base_url=opts.base_url, model=opts.model,
                                               api_key_env=opts.api_key_env, **overrides), HttpTarget()))
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise _cli("--base-url", first_error(e)) from None
    defined = load_targets(opts.targets_file) if opts.targets_file else {}
    for name in opts.target_names:
        if name == RECORDED:
            targets.append(Target(TargetConfig(name=RECORDED), RecordedTarget()))
        elif name in (LOCAL, LOCAL_GEMMA, LOCAL_SMOL):
            targets += embedded_targets(name, local)
        elif name == GUARDED:
            if not opts.guard_policy:
                raise _cli("--guard-policy", "the `guarded` target needs --guard-policy")
            config = TargetConfig(name=GUARDED, model=opts.model or LOCAL_MODEL_NAME,
                                  **(overrides if opts.base_url else local))
            targets.append(Target(config, GuardedTarget(str(opts.guard_policy), opts.base_url)))
        elif name in defined:
            t = defined[name]
            targets.append(Target(t.model_copy(update=overrides) if overrides else t, kind_of(t.kind)))
        else:
            import difflib

            close = difflib.get_close_matches(name, sorted(defined) + [RECORDED, LOCAL, LOCAL_GEMMA, LOCAL_SMOL, GUARDED], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise _cli("--target", f"unknown target '{name}'{hint}; {opts.targets_file or 'no --targets file given'}")
    for spec in opts.serve:
        from evalharness.targets.serve import ServeSpec

        try:
            s = ServeSpec.parse(spec)
        except ValueError as e:
            raise _cli("--serve", str(e)) from None
        defaults = LOCAL_DEFAULTS if s.backend == "llamacpp" else {}
        targets.append(Target(TargetConfig(name=s.name, model=s.name, **{**defaults, **overrides}), ServeTarget(s)))
    if not targets:
        targets += embedded_targets(LOCAL, local)
    names = [t.name for t in targets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _cli("--target", f"target given twice: {', '.join(dup)}")
    return targets


def embedded_targets(name: str, options: dict) -> list[Target]:
    """`local-smol`, `local-gemma`, or `local` for both (smallest first): the default model comparison."""
    smol = Target(TargetConfig(name=LOCAL_SMOL, model=SMOL_MODEL_NAME, size="135M", **options), LocalTarget("smol"))
    gemma = Target(TargetConfig(name=LOCAL_GEMMA, model=LOCAL_MODEL_NAME, size="270M", **options), LocalTarget("gemma"))
    return {LOCAL_SMOL: [smol], LOCAL_GEMMA: [gemma]}.get(name, [smol, gemma])


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
            flags = {k: v for k, v in (("base_url", opts.judge_base_url), ("model", opts.judge_model),
                                       ("api_key_env", opts.judge_api_key_env)) if v is not None}
            # The flags replace the endpoint only: the rest of a targets file's `default` (concurrency...) stays.
            try:  # validated (the URL checked, its userinfo registered as a secret)
                defined[DEFAULT_JUDGE] = JudgeConfig.model_validate(
                    {**(defined.get(DEFAULT_JUDGE) or JudgeConfig()).model_dump(), **flags})
            except ValueError as e:  # pydantic's ValidationError is a ValueError
                problems.append(Problem("command line", None, "--judge-base-url", first_error(e)))
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
    if opts.judge_concurrency is not None:  # the command line has the last word on every judge's width
        if opts.judge_concurrency < 1:
            problems.append(Problem("command line", None, "--judge-concurrency", "must be at least 1"))
        else:
            defined = {n: c.model_copy(update={"concurrency": opts.judge_concurrency}) for n, c in defined.items()}
    for name in sorted(wanted - set(defined)):
        problems.append(Problem("scorers", None, "judge", f"no judge named '{name}' (define it in a targets file "
                                                          "under `judges:`)"))
    from evalharness.targets.kinds import embedded_which

    for name in sorted(wanted & set(defined)):  # no base_url: the model must be one of the embedded ones
        if defined[name].base_url is None:
            try:
                embedded_which(defined[name].model, name)
            except ConfigError as e:
                where = from_suites[name][1] if name in from_suites else "command line"
                problems += [Problem(where, None, f"judges.{name}.model", p.message) for p in e.problems]
    if problems:
        raise ConfigError(problems)
    return {n: defined[n] for n in sorted(wanted)}


def resolve_baseline(value: str | None, out: str = "reports") -> str | None:
    """`--baseline pinned` reads the pointer `evalharness baseline set` wrote under reports/."""
    if value != "pinned":
        return value
    import json

    pointer = Path(out) / "baseline.json"
    if not pointer.is_file():
        raise ConfigError([Problem(str(pointer), None, "--baseline", "no baseline pinned (run `evalharness baseline set RUN`)")])
    return json.loads(pointer.read_text())["path"]


def load_baseline(run_dir: str | None) -> dict[tuple[str, str], str]:
    """(suite, case_id) -> the baseline run's output (first target, first repeat, no error)."""
    if not run_dir:
        return {}
    import pyarrow.parquet as pq

    from evalharness.results.schema import RESPONSES_FILE

    path = Path(run_dir) / RESPONSES_FILE
    if not path.is_file():
        raise ConfigError([Problem(str(run_dir), None, "--baseline", f"{path} not found (is it a finished run?)")])
    t = pq.read_table(path, columns=["suite", "case_id", "repeat", "output", "error"]).to_pandas()
    t = t[t["error"].isna()].sort_values("repeat")
    return {(r.suite, r.case_id): r.output for r in t.drop_duplicates(["suite", "case_id"]).itertuples()}


def check_baseline_target(opts: RunOptions) -> None:
    """`--baseline-target` must name a target of the baseline run (checked before anything runs)."""
    if opts.baseline_target is None:
        return
    if not opts.baseline:
        raise _cli("--baseline-target", "needs --baseline RUN")
    from evalharness.compare import run_targets

    names = run_targets(Path(opts.baseline))
    if opts.baseline_target not in names:
        raise _cli("--baseline-target", f"'{opts.baseline_target}' is not a target of {opts.baseline} "
                                        f"(its targets: {', '.join(names) or 'none'})")


def event_loop_name() -> str:
    """The event loop requests will run on; a bad EVALHARNESS_EVENT_LOOP is a configuration error,
    raised before anything is written."""
    from evalharness.engine.loop import loop_factory

    try:
        return loop_factory()[0]
    except ValueError as e:
        raise ConfigError([Problem("environment", None, "", str(e))]) from None  # the message names the variable
