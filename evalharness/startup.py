"""Garbage collection during start-up.

A run's start-up allocates hundreds of thousands of long-lived objects (modules, pydantic schemas,
the suite's cases), and the cyclic collector would walk them again and again while they are built
(about 7% of the start-up's CPU here). The CLI turns it off on entry; `done()` moves everything built
so far out of the collector's sight (`gc.freeze`) and turns it back on. `run` calls it just before
the first request; every other command at once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys


def begin() -> None:
    gc.disable()


def done() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def single_threaded_blas():
    """Import numpy (through pyarrow) with OpenBLAS on one thread, unless the user chose a number.

    OpenBLAS starts a worker thread per core when numpy loads, and each busy-waits for about 0.1 s of
    CPU before it sleeps. evalharness does no linear algebra, and on a 2-core machine that spin takes
    CPU from the event loop and from a local model server (a 400-case run: 0.92 -> 0.79 CPU-s). The
    variable is read once, when the library loads, and removed again afterwards so that processes
    started later (model servers) inherit the user's environment unchanged."""
    key = "OPENBLAS_NUM_THREADS"
    set_here = "numpy" not in sys.modules and key not in os.environ
    if set_here:
        os.environ[key] = "1"
    try:
        yield
    finally:
        if set_here:
            os.environ.pop(key, None)
