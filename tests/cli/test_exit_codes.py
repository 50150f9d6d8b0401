"""Exit codes mean one thing each: 1 only "a gate failed"; an unexpected error is exit 3 with one line on
stderr and the traceback in a log file; a failed run is marked and can be resumed, from any directory."""

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli, write

SUITE = "name: qa\ncategory: accuracy\nscorers: [{type: exact, value: ok}]\ngate: {min_pass_rate: 1.0}\ncases:\n" + \
    "".join(f"  - {{id: c{i}, input: q, output: ok}}\n" for i in range(30))


def crashing_cli(tmp_path, patch: str, *args: str) -> subprocess.CompletedProcess:
    """The real CLI in a real process, with one function replaced by one that raises (`patch` is Python)."""
    code = f"{patch}\nfrom evalharness.cli import main\nmain()"
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT), "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)


def test_unexpected_error_in_a_run_is_exit_3_one_line_and_resumable(tmp_path):
    s = write(tmp_path / "s.yaml", SUITE)
    boom = ("import evalharness.results.writer as w\n"
            "def flush(self):\n    raise RuntimeError('disk on fire\\nsecond line')\n"
            "w.RunWriter.finish = flush")
    # Relative paths, resolved against this directory: the resume below runs from another one.
    r = crashing_cli(tmp_path, boom, "run", s.name, "--target", "recorded", "--out", "r")
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [x for x in r.stderr.splitlines() if "unexpected" in x or "Error" in x]  # (the rest: CI-mode progress)
    assert len(lines) == 1 and lines[0].startswith("evalharness: unexpected error: RuntimeError: disk on fire (")
    (run,) = list((tmp_path / "r").iterdir())
    assert f"--resume {Path('r') / run.name}" in lines[0]
    log = (run / "error.log").read_text()
    assert "Traceback" in log and "disk on fire" in log
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "failed" and m["error_log"] == "error.log"
    # Resumed from another directory, with the real writer: it completes.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_cli("run", "--resume", str(run), cwd=elsewhere)
    assert r.returncode == 0, r.stdout + r.stderr
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "complete" and m["counts"]["responses"] == 30


def test_unexpected_error_outside_a_run_is_exit_3_with_a_log(tmp_path):
    boom = ("import evalharness.suite.loader as l\n"
            "def bad(paths, **kw):\n    raise KeyError('no such thing')\n"
            "l.load_suites = bad")
    s = write(tmp_path / "s.yaml", SUITE)
    r = crashing_cli(tmp_path, boom, "validate", str(s))
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert r.stderr.startswith("evalharness: unexpected error: KeyError: 'no such thing' (traceback in ")
    logs = list((tmp_path / "cache" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text()


def test_usage_errors_and_interrupts_are_never_exit_1(tmp_path):
    assert run_cli("run", "--no-such-option").returncode == 2
    assert run_cli("compare").returncode == 2
    assert run_cli().returncode in (0, 2)  # no command: help
    r = crashing_cli(tmp_path, "import evalharness.suite.loader as l\n"
                     "def stop(paths, **kw):\n    raise KeyboardInterrupt\nl.load_suites = stop", "validate", "x.yaml")
    assert r.returncode == 130 and "Traceback" not in r.stderr


def _can_mount_tmpfs() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True).returncode == 0


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs in a private mount namespace is Linux")
def test_disk_full_is_exit_3_and_resumable(tmp_path):
    """A real full disk: the run's folder is a small tmpfs (in a private mount namespace), too small for the run."""
    if not _can_mount_tmpfs():
        pytest.skip("cannot mount a tmpfs here (unshare -rm denied)")
    import secrets

    suite = write(tmp_path / "s.yaml", "name: qa\ncategory: accuracy\nscorers: [{type: contains, value: a}]\ncases:\n"
                  + "".join(f"  - {{id: c{i}, input: q, output: '{secrets.token_hex(1000)}'}}\n" for i in range(400)))
    small = tmp_path / "small"
    small.mkdir()
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT), "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache")}
    script = (f"mount -t tmpfs -o size=96k tmpfs {small} && "
              f"{sys.executable} -m evalharness.cli run {suite} --target recorded --batch-rows 50 --out {small}/r; "
              f"code=$?; cp -r {small}/r {tmp_path}/copy; exit $code")
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "No space left on device" in r.stderr
    (run,) = list((tmp_path / "copy").iterdir())
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "failed" and "No space left" in m["failure"]
    r = run_cli("run", "--resume", str(run))  # on a disk with room, the same run finishes
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((run / "run.json").read_text())["counts"]["responses"] == 400
