"""Find the runs under a reports directory and say, per run, whether the UI can read it.

Only run.json and the Parquet footers are read here, so listing 200 runs stays cheap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalharness.results.schema import (MANIFEST_FILE, REQUIRED_RESPONSES, REQUIRED_SCORES, RESPONSES_FILE,
                                        SCHEMA_VERSION, SCORES_FILE)

RUN_COLUMNS = ["run_id", "path", "started_at", "status", "gate", "suites", "categories", "targets", "models",
               "responses", "errors", "git_sha", "schema_version", "readable", "problem"]


@dataclass
class Catalog:
    runs: pd.DataFrame  # RUN_COLUMNS, newest first
    problems: list[str] = field(default_factory=list)  # one line per run that cannot be shown


def _footer_problem(path: Path, required: tuple[str, ...]) -> str | None:
    import pyarrow.parquet as pq

    if not path.exists():
        return f"{path.name} is missing (the run did not finish, or was interrupted before its results were compacted)"
    try:
        names = set(pq.read_schema(path).names)
    except Exception as e:  # noqa: BLE001 - any unreadable footer is reported, never raised
        return f"{path.name} is not a readable Parquet file ({type(e).__name__}: {e})"
    missing = [c for c in required if c not in names]
    if missing:
        return f"{path.name} lacks column(s) {', '.join(missing)}"
    return None


def _gate(m: dict) -> str:
    g = m.get("gate")
    if not isinstance(g, dict) or not g.get("checks"):
        return "no gate"
    return "pass" if g.get("passed") else "fail"


def read_run(run_dir: Path) -> dict:
    """One catalog row for a run directory. Never raises: problems go into `problem`."""
    row: dict = {"run_id": run_dir.name, "path": str(run_dir), "readable": False, "problem": None}
    try:
        m = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        if not isinstance(m, dict):
            raise ValueError("run.json is not an object")
    except Exception as e:  # noqa: BLE001
        row["problem"] = f"run.json is unreadable ({type(e).__name__}: {e})"
        return row
    suites = [s for s in m.get("suites") or [] if isinstance(s, dict)]
    targets = [t for t in m.get("targets") or [] if isinstance(t, dict)]
    counts = m.get("counts") or {}
    version = m.get("schema_version", 1)
    row.update(
        run_id=str(m.get("run_id") or run_dir.name), started_at=m.get("started_at"), status=m.get("status", "?"),
        gate=_gate(m), suites=", ".join(str(s.get("name")) for s in suites),
        categories=", ".join(sorted({str(s.get("category")) for s in suites if s.get("category")})),
        targets=", ".join(str(t.get("name")) for t in targets),
        models=", ".join(str(t.get("served_model") or t.get("model") or "?") for t in targets),
        responses=counts.get("responses"), errors=counts.get("errors"), git_sha=m.get("git_sha"),
        schema_version=version,
    )
    problem = (_footer_problem(run_dir / RESPONSES_FILE, REQUIRED_RESPONSES)
               or _footer_problem(run_dir / SCORES_FILE, REQUIRED_SCORES))
    if problem and isinstance(version, int) and version < SCHEMA_VERSION:
        problem = (f"written by results schema version {version}; this version of evalharness reads version "
                   f"{SCHEMA_VERSION}: {problem}")
    if problem is None and isinstance(version, int) and version > SCHEMA_VERSION:
        problem = (f"written by a newer results schema (version {version}; this evalharness reads up to "
                   f"{SCHEMA_VERSION}): upgrade evalharness to view it")
    row["problem"] = problem
    row["readable"] = problem is None
    return row


def discover(reports: Path, read=read_run) -> Catalog:
    """Every run directory (one holding run.json) directly under `reports`, newest first. `read` makes
    one row per run (the UI passes a cached `read_run`)."""
    reports = Path(reports)
    if not reports.is_dir():
        return Catalog(pd.DataFrame(columns=RUN_COLUMNS), [f"{reports} does not exist"])
    rows = [read(p.parent) for p in sorted(reports.glob(f"*/{MANIFEST_FILE}"))]
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    df["started_at"] = pd.to_datetime(df["started_at"], errors="coerce", utc=True)
    df["readable"] = df["readable"].astype(bool)
    df = df.sort_values(["started_at", "run_id"], ascending=False, na_position="last").reset_index(drop=True)
    problems = [f"{r.run_id}: {r.problem}" for r in df.itertuples() if r.problem]
    return Catalog(df, problems)
