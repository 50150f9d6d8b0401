"""Child processes that die with their parent.

Every process evalharness starts (llama.cpp servers, the guard, Streamlit) goes through `spawn`. Two
mechanisms, because either alone leaves orphans:

- the child runs in its own process group (a new session), so `stop` ends it *and* whatever it started;
- on Linux the child asks the kernel for a parent-death signal (`PR_SET_PDEATHSIG`), so it is told to stop
  even when the parent is killed with SIGKILL (a CI timeout), which no Python handler can catch. The kernel
  ties that signal to the *thread* that forked, so `spawn` forks from the main thread or from one spawner
  thread that lives as long as the process; a fork from a short-lived thread (an executor's worker) would
  kill the child when that thread ends.

`run_foreground` is for commands such as `evalharness ui` and `evalharness serve`: the child is the whole
job, SIGTERM/SIGINT/SIGHUP to the parent are passed on to the child's group, and the parent returns the
child's exit code: 128 + N when it died of signal N, except 0 when that signal was one passed on from the
parent (a server stopped on request has ended normally).

The parent-death signal reaches the direct child only. A child that starts processes of its own
(the guard's workers) gives them the same guarantee by starting them with `spawn` too.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

_PR_SET_PDEATHSIG = 1
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _prctl() -> Callable | None:
    """libc's prctl, resolved in the parent: the child runs as little Python as possible between fork and
    exec (no import, no library lookup), because another thread of the parent may hold a lock."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return fn


_PRCTL = _prctl()


def _preexec_for(death_signal: int) -> Callable[[], None] | None:
    if _PRCTL is None:
        return None
    parent = os.getpid()  # read in the parent, before the fork
    prctl, sig, getppid, exit_ = _PRCTL, int(death_signal), os.getppid, os._exit

    def preexec() -> None:  # in the child, between fork and exec
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died between fork and prctl: then we were re-parented (to init or to a
        # subreaper, whose pid need not be 1) and the signal will never come, so go now.
        if getppid() != parent:
            exit_(1)

    return preexec


class _Spawner:
    """A daemon thread that lives as long as the process and does every fork asked for from other threads."""

    def __init__(self) -> None:
        self._q: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name="evalharness-spawner", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, box, done = self._q.get()
            try:
                box.append((True, fn()))
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                box.append((False, e))
            done.set()

    def call(self, fn):
        box: list = []
        done = threading.Event()
        self._q.put((fn, box, done))
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def spawn(cmd: Sequence[str], *, death_signal: int = signal.SIGTERM, **popen_kwargs) -> subprocess.Popen:
    """Start `cmd` in a new session (its own process group) with a parent-death signal. Other keyword
    arguments go to Popen (stdin defaults to /dev/null: the child has no controlling terminal)."""
    global _spawner
    if "preexec_fn" in popen_kwargs or popen_kwargs.get("start_new_session") is False:
        raise ValueError("spawn sets start_new_session and preexec_fn itself")
    popen_kwargs["start_new_session"] = True
    popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
    argv = [os.fspath(a) for a in cmd]

    def start() -> subprocess.Popen:
        return subprocess.Popen(argv, preexec_fn=_preexec_for(death_signal), **popen_kwargs)

    if threading.current_thread() is threading.main_thread():
        return start()
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.call(start)


def stop(proc: subprocess.Popen, timeout_s: float = 15.0) -> int | None:
    """SIGTERM the child's whole process group, SIGKILL it after `timeout_s`, and reap the child. Whatever
    the child started and left in its group is killed too. Returns the child's exit code."""
    if proc.returncode is None:
        _signal_group(proc, signal.SIGTERM)
        if not _wait_exited(proc, timeout_s):
            _signal_group(proc, signal.SIGKILL)
            _wait_exited(proc, 10.0)
    # Whatever the leader left in its group. When we reap the leader only below, its pid (the group's id)
    # is still held, so this cannot reach an unrelated process; when it was reaped earlier (a poll() that
    # saw it die), the id stays reserved while any member of the group lives.
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # stuck in the kernel even after SIGKILL: give up (returncode stays None)
        pass
    return proc.returncode


def _wait_exited(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait until the child has exited, without reaping it (waitid WNOWAIT). True if it has."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        if proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            proc.poll()
            return True
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def exit_code(returncode: int) -> int:
    """A Popen return code as a shell would report it (a death by signal N is 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def run_foreground(cmd: Sequence[str], **popen_kwargs) -> int:
    """Run `cmd` as the whole job and return its exit code. SIGTERM, SIGINT and SIGHUP to this process are
    passed on to the child's group; the child also gets SIGTERM if this process is SIGKILLed. Signal
    handlers are installed only from the main thread (the only one allowed to)."""
    received: list[int] = []
    previous: dict[int, object] = {}
    proc: subprocess.Popen | None = None

    def forward(signum, _frame) -> None:
        received.append(signum)
        if proc is not None:
            _signal_group(proc, signum)

    # Handlers first: a signal that arrives while the child starts is remembered and passed on below.
    if threading.current_thread() is threading.main_thread():
        for s in _FORWARDED:
            previous[s] = signal.signal(s, forward)
    try:
        proc = spawn(cmd, **popen_kwargs)
        if received:
            _signal_group(proc, received[0])
        try:  # block until the child exits, leaving it unreaped (a signal runs `forward`, then the wait resumes)
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass
        _signal_group(proc, signal.SIGKILL)  # whatever it left in its group; its pid is still held
        code = proc.wait()
        # Stopped on request (Ctrl-C, a service manager's SIGTERM) is a foreground server's normal end.
        return 0 if received and -code in received else exit_code(code)
    finally:
        try:
            if proc is not None:
                stop(proc, timeout_s=10)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
