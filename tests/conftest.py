"""Shared fixtures: a fault-injection server in its own process, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAULT_SERVER = ROOT / "tests" / "fixtures" / "fault_server.py"


class ServerProc:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(FAULT_SERVER), *args], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"fault server did not start: {line!r}"
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        import httpx

        return httpx.get(f"http://127.0.0.1:{self.port}/__stats", trust_env=False).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def fault_server():
    s = ServerProc()
    yield s
    s.stop()


@pytest.fixture
def slow_fault_server():
    s = ServerProc("--latency-ms", "40")
    yield s
    s.stop()


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `evalharness` as a real process (real exit codes, real stdout/stderr)."""
    full_env = {**os.environ, "CI": "true", **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "evalharness.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
