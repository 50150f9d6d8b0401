"""run.json: the run's provenance. It never holds an API key (only the variable's name).

`RunManifest` is its one typed shape. `write_manifest` is the one writer (it validates through the
model before anything is written) and `load_manifest` the one reader: a run.json that is not JSON, or
whose fields have the wrong types, is a `ManifestError` naming the file and the field, never a
traceback. Every field but `run_id` has a default, so an older run.json loads (what it lacks reads as
the default), and `extra="allow"` keeps the fields a newer version wrote.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalharness.errors import ConfigError, Problem
from evalharness.results.schema import MANIFEST_FILE

MANIFEST_SCHEMA_VERSION_BEFORE_JUDGES = 1
"""What a run.json without `schema_version` is: written before the version was recorded (results/schema.py)."""


class ManifestError(ConfigError, ValueError):
    """A run.json that cannot be read as a `RunManifest`: not JSON, not an object, or fields of the
    wrong type. A `ConfigError` (exit 2) whose problems name the file and the field; also a
    `ValueError`, which is what its readers caught before the manifest was typed."""


def config_message(message: str) -> ConfigError:
    """A configuration error that is one sentence rather than file:line problems: its `problems` is
    empty, and the command line prints it as `error: <message>`."""
    err = ConfigError([])
    err.args = (message,)
    return err


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SuiteEntry(_Open):
    """One suite of the run, as it was loaded."""

    name: str
    path: str
    category: str | None = None
    content_hash: str | None = None
    cases: int | None = None
    params: dict[str, Any] | None = None
    scorers: list[dict[str, Any]] = Field(default_factory=list)


class TargetEntry(_Open):
    """One target: its public configuration (no key, only the variable's name) and the model it served."""

    name: str
    model: str | None = None
    base_url: str | None = None
    served_model: str | None = None


class GateRecord(_Open):
    passed: bool
    checks: list[dict[str, Any]] = Field(default_factory=list)


class RunManifest(_Open):
    """run.json. Fields in the order a run writes them."""

    run_id: str
    started_at: str | None = None
    status: str | None = None  # running | complete | failed | interrupted
    harness_version: str | None = None
    schema_version: int = MANIFEST_SCHEMA_VERSION_BEFORE_JUDGES  # the run folder's format (run.json + both tables)
    git_sha: str | None = None
    suites: list[SuiteEntry] = Field(default_factory=list)
    targets: list[TargetEntry] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)  # engine RunOptions, paths absolute
    shard: list[int] | None = None
    cli_args: list[str] = Field(default_factory=list)
    resumed_at: list[str] = Field(default_factory=list)
    judges: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timing: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    infrastructure: list[str] = Field(default_factory=list)
    cases: dict[str, Any] = Field(default_factory=dict)  # flaky / quarantined case ids
    counts: dict[str, int] = Field(default_factory=dict)
    gate: GateRecord | None = None
    summary: list[dict[str, Any]] = Field(default_factory=list)
    failure: str | None = None
    error_log: str | None = None
    rescored_from: str | None = None
    rescore: dict[str, Any] | None = None
    merged_at: str | None = None
    merged_from: list[str] | None = None
    calibration: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields the file holds (defaults a file did not have are not added)."""
        return self.model_dump(exclude_unset=True)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ") + "-" + secrets.token_hex(3)


def git_sha(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _problems(where: str, e: ValidationError, limit: int = 10) -> list[Problem]:
    out = []
    for err in e.errors(include_input=False)[:limit]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        out.append(Problem(where, None, loc, err["msg"]))
    if e.error_count() > limit:
        out.append(Problem(where, None, "", f"... and {e.error_count() - limit} more problem(s)"))
    return out


def validate_manifest(data: dict[str, Any] | RunManifest, where: str = MANIFEST_FILE) -> RunManifest:
    """`data` as a RunManifest, or a ManifestError naming `where` and each wrong field."""
    if isinstance(data, RunManifest):
        return data
    if not isinstance(data, dict):
        raise ManifestError([Problem(where, None, "", f"not a run manifest: a JSON object was expected, "
                                                      f"found {type(data).__name__}")])
    try:
        return RunManifest.model_validate(data)
    except ValidationError as e:
        raise ManifestError(_problems(where, e)) from None
    except RecursionError:
        raise ManifestError([Problem(where, None, "", "not a run manifest: nested too deeply")]) from None


def write_manifest(run_dir: Path, data: dict[str, Any] | RunManifest) -> None:
    """Validate through RunManifest, then write run.json atomically (in place on a full disk)."""
    from evalharness.redact import redact, redact_obj

    path = run_dir / MANIFEST_FILE
    doc = validate_manifest(data, str(path)).to_dict()
    tmp = run_dir / (MANIFEST_FILE + ".tmp")
    text = redact(json.dumps(redact_obj(doc), indent=2, sort_keys=False, default=str))
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        _rewrite_in_place(path, text)


def _rewrite_in_place(path: Path, text: str) -> None:
    """On a full disk there is no room for a second copy, but the file's own blocks can be reused: what
    run.json says (`status: failed`) matters more than the atomicity of this one write."""
    with path.open("r+", encoding="utf-8") as f:
        f.write(text)
        f.truncate()


def parse_manifest(text: str | bytes, where: str = MANIFEST_FILE, run_dir: Path | None = None) -> RunManifest:
    """run.json's text -> RunManifest. A run.json without `run_id` (none was ever written without one)
    takes its folder's name."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise ManifestError([Problem(where, None, "", f"not valid JSON ({msg})")]) from None
    if isinstance(data, dict) and "run_id" not in data and run_dir is not None:
        data = {"run_id": run_dir.name, **data}
    return validate_manifest(data, where)


def load_manifest(run_dir: Path | str) -> RunManifest:
    """The run folder's run.json as a RunManifest. Any problem (no such file, not JSON, wrong types) is a
    ManifestError naming the file."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Problem(str(run_dir), None, "", f"not a run folder (no {MANIFEST_FILE})")]) from None
    except OSError as e:
        raise ManifestError([Problem(str(path), None, "", f"cannot be read ({e.strerror or e})")]) from None
    return parse_manifest(raw, str(path), run_dir)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The validated run.json as a plain dict, for internal readers. A missing file is the OSError it
    always was; a file that is not a valid manifest is a ManifestError (a ValueError)."""
    path = Path(run_dir) / MANIFEST_FILE
    return parse_manifest(path.read_bytes(), str(path), Path(run_dir)).to_dict()
