"""run.json: the run's provenance. It never holds an API key (only the variable's name)."""

from __future__ import annotations

import errno
import json
import os
import secrets
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalharness.results.schema import MANIFEST_FILE


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


def write_manifest(run_dir: Path, data: dict[str, Any]) -> None:
    from evalharness.redact import redact, redact_obj

    tmp = run_dir / (MANIFEST_FILE + ".tmp")
    text = redact(json.dumps(redact_obj(data), indent=2, sort_keys=False, default=str))
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, run_dir / MANIFEST_FILE)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        _rewrite_in_place(run_dir / MANIFEST_FILE, text)


def _rewrite_in_place(path: Path, text: str) -> None:
    """On a full disk there is no room for a second copy, but the file's own blocks can be reused: what
    run.json says (`status: failed`) matters more than the atomicity of this one write."""
    with path.open("r+", encoding="utf-8") as f:
        f.write(text)
        f.truncate()


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
