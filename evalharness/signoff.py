"""Sign-off bundle: hashes of a run's files, its suites and gate verdicts, and who approved it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evalharness.results.manifest import read_manifest, utcnow

FILES = ("run.json", "responses.parquet", "scores.parquet", "cases.parquet")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_signoff(run_dir: Path, approver: str, note: str = "") -> dict:
    manifest = read_manifest(run_dir)
    if manifest.get("status") != "complete":
        raise ValueError(f"{run_dir} is not a complete run (status: {manifest.get('status')})")
    return {
        "run_id": manifest["run_id"], "run_dir": str(run_dir.resolve()), "approver": approver, "note": note,
        "signed_at": utcnow(),
        "files": {name: sha256(run_dir / name) for name in FILES if (run_dir / name).is_file()},
        "suites": {s["name"]: s["content_hash"] for s in manifest.get("suites", [])},
        "targets": [{k: t.get(k) for k in ("name", "model", "served_model")} for t in manifest.get("targets", [])],
        "gate": manifest.get("gate"), "exit_code": manifest.get("exit_code"),
    }


def verify_signoff(bundle: dict, run_dir: Path | None = None) -> list[str]:
    """Problems found (empty when every file still matches)."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("files"), dict):
        raise ValueError("not a sign-off bundle (no `files` mapping)")
    if not bundle["files"]:
        return ["the bundle lists no files: nothing was verified"]  # verifying nothing never passes
    run_dir = run_dir or Path(bundle["run_dir"])
    problems = []
    for name, digest in bundle["files"].items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256(path) != digest:
            problems.append(f"{path}: sha256 differs from the signed-off file")
    return problems


def write_signoff(bundle: dict, out: Path) -> None:
    out.write_text(json.dumps(bundle, indent=2), encoding="utf-8")
