"""The event loop every evalharness command runs its requests on.

uvloop (libuv) when it is installed, which it is by default on Linux and macOS: at concurrency 64 it
takes about 0.05 CPU-ms less per request than asyncio's own loop (benchmarks/README.md). Set
`EVALHARNESS_EVENT_LOOP=asyncio` to use the standard library's loop instead; any other value but
`uvloop` or `auto` (the default) is an error, so a typo does not silently pick a loop.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")
ENV = "EVALHARNESS_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """(name of the loop, factory for asyncio.Runner; None means the standard library's)."""
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "asyncio":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ValueError(f"{ENV}=uvloop, but uvloop is not installed (pip install uvloop)") from None
        return "asyncio", None
    return f"uvloop {uvloop.__version__}", uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coro) on the chosen loop."""
    _, factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
