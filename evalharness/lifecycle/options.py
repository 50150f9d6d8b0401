"""The options of one run, and how run.json stores them so that `--resume` can rebuild them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from evalharness.errors import ConfigError, Problem


@dataclass
class RunOptions:
    """Internal: the API (evalharness.api) builds this from its typed arguments in one place."""

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
    tags: list[str] = field(default_factory=list)  # --tag: only cases carrying one of these tags
    cases: list[str] = field(default_factory=list)  # --case: only cases whose id matches one of these (globs)
    batch_rows: int = 1000
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str | None = None
    judge_concurrency: int | None = None  # --judge-concurrency: requests in flight per judge
    baseline: str | None = None
    baseline_target: str | None = None
    guard_policy: str | None = None
    junit: str | None = None
    summary_md: str | None = None
    shard: str | None = None
    suite_root: str | None = None  # --suite-root: the directory every suite path must stay in
    trust_suite_endpoints: bool = False  # --trust-suite-endpoints: suites may define judge endpoints (local use)


# Options that name files: stored absolute, so `--resume` works from any directory.
PATH_OPTIONS = ("targets_file", "out", "cache_dir", "baseline", "guard_policy", "junit", "summary_md", "suite_root")


def portable_options(opts: RunOptions) -> dict:
    """The options as run.json stores them: every path absolute, no credential in a URL."""
    from evalharness.redact import strip_userinfo

    saved = asdict(opts)
    saved["paths"] = [str(Path(p).resolve()) for p in opts.paths]
    for key in PATH_OPTIONS:
        if saved.get(key):
            saved[key] = str(Path(saved[key]).resolve())
    for key in ("base_url", "judge_base_url"):
        saved[key] = strip_userinfo(saved.get(key))
    return saved


def saved_options(saved: object, where: str = "run.json") -> RunOptions:
    """RunOptions from run.json's `options`. Keys this version does not know (an older or newer run) are
    ignored; a value of the wrong type is a ConfigError naming the key, never a traceback."""
    from pydantic import TypeAdapter, ValidationError

    if not isinstance(saved, dict):
        raise ConfigError([Problem(where, None, "options", "not a mapping of run options")])
    known = {f.name for f in fields(RunOptions)}
    kept = {k: v for k, v in saved.items() if k in known}
    if "paths" not in kept:
        raise ConfigError([Problem(where, None, "options.paths", "missing: the run recorded no suite paths")])
    try:
        return TypeAdapter(RunOptions).validate_python(kept, strict=False)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise ConfigError([Problem(where, None, f"options.{key}", first["msg"])]) from None
