"""`evalharness guard --workers N`: N guard processes that accept on one port.

- Each worker is a whole guard (server.run_worker): its own event loop, upstream connection pool and
  decision log. The workers bind the same address with SO_REUSEPORT (Linux): the kernel spreads the
  incoming connections over them. A keep-alive connection stays with the worker that accepted it.
- Each worker writes its own log parts, `decisions-<time>-w<index>-<pid>-<n>.parquet`, so parts never
  collide and no row is interleaved; `log.read_log` reads every part of the folder.
- The parent (this module's `supervise`) only starts and watches the workers, through
  `evalharness.procs.spawn`: each worker is in its own process group and gets SIGTERM from the kernel
  when the parent dies, even by SIGKILL (PR_SET_PDEATHSIG), so no worker outlives it. SIGTERM, SIGINT or
  SIGHUP to the parent sends SIGTERM to every worker at once; each finishes its in-flight requests and
  writes its log, and the parent waits for them.
- A worker that dies on its own is started again, unless it dies within `EARLY_EXIT_S` of its start
  (a start-up error): then every worker is stopped and the command fails with that error.

    python -m evalharness.guard.workers --index I --upstream URL --policy FILE --host H --port P [--log-dir D]

is how the parent starts one worker (not meant to be run by hand).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

EARLY_EXIT_S = 5.0  # a worker that exits sooner than this after its start failed to start: give up
STOP_WAIT_S = 20.0  # SIGTERM to a worker, then SIGKILL after this (server.SHUTDOWN_S is 10 s)


class _Stop(Exception):
    pass


def _probe(host: str, port: int) -> None:
    """Fail at once, with one clear line, when anything listens on the port already. The probe binds
    without SO_REUSEPORT, so another guard's workers (which could otherwise be joined, splitting the
    traffic between two policies) count as taken too."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # the workers will report it
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers do not count
        try:
            s.bind(addr)
        except OSError as e:
            raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def resolve_workers(value: str | int) -> int:
    """`auto` is os.cpu_count(); otherwise a positive integer."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return max(1, os.cpu_count() or 1)
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"--workers must be a positive integer or `auto`, got {value!r}") from None
    if n < 1:
        raise ValueError(f"--workers must be a positive integer or `auto`, got {value!r}")
    return n


def worker_command(index: int, upstream: str, policy_path: str, host: str, port: int, log_dir: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "evalharness.guard.workers", "--index", str(index), "--upstream", upstream,
           "--policy", str(policy_path), "--host", host, "--port", str(port)]
    return cmd + (["--log-dir", str(log_dir)] if log_dir else [])


def supervise(upstream: str, policy_path: str, host: str, port: int, log_dir: str | None, workers: int, loaded) -> None:
    """Runs `workers` guard processes until SIGTERM/SIGINT/SIGHUP; returns once every worker has exited."""
    from evalharness import procs
    from evalharness import redact as secrets

    if sys.platform != "linux":
        raise RuntimeError("--workers above 1 needs Linux (SO_REUSEPORT spreads connections over the workers)")
    policy = loaded.policy
    if policy.auth_token_env and not os.environ.get(policy.auth_token_env):
        raise RuntimeError(f"auth_token_env {policy.auth_token_env} is not set")
    _probe(host, port)

    running: dict[int, tuple[int, subprocess.Popen, float]] = {}  # pid -> (index, process, start time)

    def start(i: int) -> None:
        p = procs.spawn(worker_command(i, upstream, policy_path, host, port, log_dir))
        running[p.pid] = (i, p, time.monotonic())

    def on_signal(signum, _frame) -> None:
        raise _Stop(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    failure: str | None = None
    try:
        for i in range(workers):
            start(i)
        print(f"guard on http://{host}:{port}/v1 -> {secrets.strip_userinfo(upstream)} ({workers} workers)", flush=True)
        while running:
            try:
                pid, status = os.waitpid(-1, 0)  # sleeps until a worker exits (or a signal raises _Stop)
            except ChildProcessError:
                break
            if pid not in running:
                continue
            i, p, started = running.pop(pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            if time.monotonic() - started < EARLY_EXIT_S:
                failure = f"guard worker {i} exited with code {p.returncode} at start-up"
                break
            print(f"guard: worker {i} exited with code {p.returncode}; starting it again", file=sys.stderr, flush=True)
            start(i)
    except _Stop:
        pass
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # the shutdown below is not interrupted by a second signal
        for _, p, _ in running.values():  # every worker at once, so they shut down in parallel
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        for _, p, _ in running.values():
            procs.stop(p, timeout_s=STOP_WAIT_S)
        for s, h in previous.items():
            signal.signal(s, h)
    if failure:
        raise RuntimeError(failure)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalharness.guard.workers")
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log-dir", default=None)
    a = ap.parse_args(argv)
    from evalharness.guard.server import load, run_worker

    try:
        run_worker(a.upstream, load(a.policy, a.log_dir), a.host, a.port, reuse_port=True,
                   log_tag=f"w{a.index}-", banner=False)
    except Exception as e:  # noqa: BLE001 - one line on stderr, the parent reports the exit
        print(f"guard worker {a.index}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
