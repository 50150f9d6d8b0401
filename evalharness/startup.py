"""Garbage collection during start-up.

A run's start-up allocates hundreds of thousands of long-lived objects (modules, pydantic schemas,
the suite's cases), and the cyclic collector would walk them again and again while they are built
(about 7% of the start-up's CPU here). The CLI turns it off on entry; `done()` moves everything built
so far out of the collector's sight (`gc.freeze`) and turns it back on. `run` calls it just before
the first request; every other command at once.
"""

from __future__ import annotations

import gc


def begin() -> None:
    gc.disable()


def done() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
