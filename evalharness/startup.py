"""Garbage collection during start-up, and how often it runs afterwards.

A run's start-up allocates hundreds of thousands of long-lived objects (modules, pydantic schemas,
the suite's cases), and the cyclic collector would walk them again and again while they are built
(about 7% of the start-up's CPU here). The CLI turns it off on entry; `done()` moves everything built
so far out of the collector's sight (`gc.freeze`) and turns it back on. `run` calls it just before
the first request; every other command at once.

From then on the youngest generation is collected after 10,000 net allocations instead of
CPython's 700. Every request allocates a few dozen short-lived containers (aiohttp's request and
response objects, futures, the parsed JSON), and at 700 the collector ran about once per 50
requests: at latency 0, concurrency 128 and 20,000 requests it took 0.5-0.8 s of the request
phase's CPU, against 0.06-0.07 s at 10,000 (gc callbacks, benchmarks/README.md). Almost all of these
objects are freed by reference counting; the collector only has cycles to find, and the larger young
generation keeps at most 10,000 more objects alive until it does.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys


def begin() -> None:
    gc.disable()


GEN0_THRESHOLD = 10_000


def done() -> None:
    if not gc.isenabled():
        gc.freeze()
        gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(max(GEN0_THRESHOLD, gen0), gen1, gen2)
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
