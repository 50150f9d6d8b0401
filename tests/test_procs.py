"""Every child process dies with its parent (evalharness/procs.py).

Each case starts a real `evalharness` process, waits until the child it starts is serving, records the
parent's whole process tree (walking /proc for parent pids), then stops the parent with SIGTERM (a CI
runner cancelling) or SIGKILL (a CI timeout; no handler runs) and checks that no recorded process is left
and that nothing listens on the child's port any more.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from evalharness import procs
from tests.conftest import ROOT, ServerProc, write

if not sys.platform.startswith("linux"):
    pytest.skip("process trees are read from /proc (Linux)", allow_module_level=True)

SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]


# ---- the process table ----

def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a process, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every process below `root`: pid -> (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
    out, todo = {}, [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if (st := _stat(c)) is not None:
                out[c] = (st[2], _cmdline(c))
                todo.append(c)
    return out


def alive(pid: int, start: int) -> bool:
    """The same process (not a reused pid), not a zombie."""
    st = _stat(pid)
    return st is not None and st[2] == start and st[1] not in ("Z", "X")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition, timeout: float, what: str, parent: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if parent is not None and parent.poll() is not None:
            raise AssertionError(f"the parent exited ({parent.returncode}) before {what}:\n{_tail(log)}")
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s\n{_tail(log)}"
        time.sleep(0.2)


def _tail(log: Path | None) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log and log.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_process(args: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log, "wb") as f:
        # The parent under test, itself in its own group so a signal reaches it alone (its child is in
        # another group anyway), and dying with pytest if pytest is killed.
        return procs.spawn([sys.executable, "-m", "evalharness.cli", *args], env=env, cwd=cwd, stdout=f,
                           stderr=subprocess.STDOUT)


def port_of(cmdline: str) -> int:
    words = cmdline.split()
    return int(words[words.index("--port") + 1])


def kill_and_check(parent: subprocess.Popen, sig: int, port: int, log: Path, *, expect: str,
                   deadline_s: float = 120) -> None:
    """Record the parent's tree, send `sig` to the parent alone, and wait until the whole tree is gone."""
    tree = descendants(parent.pid)
    assert any(expect in cmd for _, cmd in tree.values()), f"no {expect!r} child under the parent: {tree}"
    try:
        t0 = time.monotonic()
        os.kill(parent.pid, sig)
        parent.wait(timeout=deadline_s)
        wait_for(lambda: not [p for p, (start, _) in tree.items() if alive(p, start)], deadline_s,
                 f"every child gone after {signal.Signals(sig).name} to the parent", log=log)
        wait_for(lambda: not listening(port), 30, f"port {port} free", log=log)
        print(f"{signal.Signals(sig).name}: {len(tree)} process(es) gone in {time.monotonic() - t0:.1f} s")
    finally:  # never leave anything behind, whatever failed above
        for p, (start, _) in tree.items():
            if alive(p, start):
                os.kill(p, signal.SIGKILL)
        procs.stop(parent, timeout_s=5)


# ---- procs itself ----

def test_child_spawned_from_a_short_lived_thread_outlives_the_thread():
    """PR_SET_PDEATHSIG fires when the *thread* that forked ends: spawn forks from a long-lived thread."""
    import threading

    box: list = []
    t = threading.Thread(target=lambda: box.append(procs.spawn(["sleep", "300"])))
    t.start()
    t.join()
    (child,) = box
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=2)
    finally:
        assert procs.stop(child, timeout_s=5) == -signal.SIGTERM


PARENT = """
import sys, threading, time
from evalharness import procs
a = procs.spawn(["sleep", "300"])                                      # from the main thread
box = []
t = threading.Thread(target=lambda: box.append(procs.spawn(["sleep", "301"])))  # from a worker thread
t.start(); t.join()
print(a.pid, box[0].pid, flush=True)
time.sleep(300)
"""


def test_children_die_when_the_parent_is_sigkilled(tmp_path):
    parent = procs.spawn([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        tree = descendants(parent.pid)
        assert set(pids) <= set(tree)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        wait_for(lambda: not [p for p, (start, _) in tree.items() if alive(p, start)], 30, "both children gone")
    finally:
        procs.stop(parent, timeout_s=5)
        parent.stdout.close()


def test_stop_ends_the_whole_group_and_escalates_to_sigkill():
    proc = procs.spawn(["sh", "-c", "trap '' TERM; sleep 300 & sleep 301 & wait"])
    wait_for(lambda: len(descendants(proc.pid)) >= 2, 30, "the shell's two children started")
    tree = {proc.pid: (_stat(proc.pid)[2], "sh"), **descendants(proc.pid)}
    t0 = time.monotonic()
    assert procs.stop(proc, timeout_s=1) == -signal.SIGKILL  # the shell ignored SIGTERM
    assert time.monotonic() - t0 < 15
    wait_for(lambda: not [p for p, (start, _) in tree.items() if alive(p, start)], 30, "the group gone")


def test_run_foreground_returns_the_exit_code_and_restores_handlers():
    before = signal.getsignal(signal.SIGTERM)
    assert procs.run_foreground(["sh", "-c", "exit 3"]) == 3
    assert procs.run_foreground(["sh", "-c", "kill -KILL $$"]) == 128 + signal.SIGKILL
    assert signal.getsignal(signal.SIGTERM) is before


# ---- evalharness ui: Streamlit ----

@pytest.mark.parametrize("sig", SIGNALS)
def test_ui_streamlit_dies_with_its_parent(tmp_path, sig):
    pytest.importorskip("streamlit")
    port, log = free_port(), tmp_path / "ui.log"
    (tmp_path / "reports").mkdir()
    parent = cli_process(["ui", "--reports", str(tmp_path / "reports"), "--port", str(port)], log)
    wait_for(lambda: healthy(f"http://127.0.0.1:{port}/_stcore/health"), 90, "the UI answers its health check",
             parent, log)
    kill_and_check(parent, sig, port, log, expect="streamlit")
    if sig == signal.SIGTERM:
        assert parent.returncode == 0, _tail(log)  # Streamlit stopped cleanly, and `ui` says so


# ---- a guard started by a run (`--target guarded`): no model needed ----

@pytest.mark.parametrize("sig", SIGNALS)
def test_guard_started_by_a_run_dies_with_the_run(tmp_path, sig):
    server = ServerProc("--latency-ms", "300")  # slow answers: the run is still going when it is stopped
    try:
        policy = write(tmp_path / "guard.yaml", "input_rails:\n  - {type: regex, pattern: '(?i)bomb', not: true, "
                       "action: block}\noutput_rails: []\n")
        cases = "".join(f"  - {{id: c{i}, input: 'q{i} REPLY=ok'}}\n" for i in range(300))
        suite = write(tmp_path / "s" / "s.yaml", f"name: s\ncategory: accuracy\nscorers: [{{type: contains, "
                      f"value: ok}}]\ncases:\n{cases}")
        log = tmp_path / "run.log"
        parent = cli_process(["run", str(suite), "--base-url", server.base_url, "--model", "m", "--target", "guarded",
                              "--guard-policy", str(policy), "--concurrency", "1", "--no-cache",
                              "--out", str(tmp_path / "r")], log)

        def guard_port():
            for _, cmd in descendants(parent.pid).values():
                if "guard" in cmd and "--port" in cmd:
                    p = port_of(cmd)
                    return p if healthy(f"http://127.0.0.1:{p}/v1/models") else None
            return None

        port = wait_for(guard_port, 120, "the run's guard answers /v1/models", parent, log)
        kill_and_check(parent, sig, port, log, expect="guard")
        if sig == signal.SIGTERM:
            assert parent.returncode == 130, _tail(log)  # interrupted, results kept
    finally:
        server.stop()


# ---- the embedded model: `serve local`, and the managed server of a run ----

@pytest.mark.local_model
@pytest.mark.parametrize("sig", SIGNALS)
def test_serve_local_model_server_dies_with_its_parent(tmp_path, sig):
    port, log = free_port(), tmp_path / "serve.log"
    parent = cli_process(["serve", "local", "--port", str(port)], log)
    wait_for(lambda: healthy(f"http://127.0.0.1:{port}/v1/models"), 300, "the model server answers /v1/models",
             parent, log)
    kill_and_check(parent, sig, port, log, expect="llama_cpp.server")
    if sig == signal.SIGTERM:
        assert parent.returncode == 0, _tail(log)


@pytest.mark.local_model
@pytest.mark.parametrize("sig", SIGNALS)
def test_managed_model_server_of_a_run_dies_with_the_run(tmp_path, sig):
    cases = "".join(f"  - {{id: c{i}, input: 'Write a long story about the number {i}.'}}\n" for i in range(200))
    suite = write(tmp_path / "s" / "s.yaml", "name: s\ncategory: accuracy\n"
                  "defaults: {params: {temperature: 0, max_tokens: 256}}\n"
                  f"scorers: [{{type: contains, value: story}}]\ncases:\n{cases}")
    log = tmp_path / "run.log"
    parent = cli_process(["run", str(suite), "--no-cache", "--out", str(tmp_path / "r")], log)  # the embedded model

    def server_port():
        # Listening is enough: once the server is healthy the run keeps it busy generating, and llama.cpp
        # answers one request at a time, so a health probe could wait behind a long answer.
        for _, cmd in descendants(parent.pid).values():
            if "llama_cpp.server" in cmd:
                p = port_of(cmd)
                return p if listening(p) else None
        return None

    port = wait_for(server_port, 300, "the run's model server listens", parent, log)
    kill_and_check(parent, sig, port, log, expect="llama_cpp.server")
    if sig == signal.SIGTERM:
        assert parent.returncode == 130, _tail(log)
