"""Start-up helpers: numpy's OpenBLAS is loaded on one thread, and the environment is left as it was."""

import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import os
from evalharness.startup import single_threaded_blas
before = len(os.listdir('/proc/self/task'))
with single_threaded_blas():
    inside = os.environ.get('OPENBLAS_NUM_THREADS')
    import numpy
print(before, len(os.listdir('/proc/self/task')), inside, os.environ.get('OPENBLAS_NUM_THREADS'))
"""


def probe(env_extra: dict) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env_extra
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_numpy_loads_without_blas_worker_threads_and_the_variable_is_removed():
    before, after, inside, left = probe({})
    assert inside == "1" and left == "None"
    assert after == before  # no OpenBLAS worker thread was started


def test_a_users_own_setting_is_kept():
    before, after, inside, left = probe({"OPENBLAS_NUM_THREADS": "2"})
    assert inside == "2" and left == "2"
    if os.cpu_count() and os.cpu_count() > 1:
        assert int(after) > int(before)  # the user's 2 threads: one worker beside the main thread
