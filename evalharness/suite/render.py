"""Bounded rendering of untrusted jinja2 templates: dataset `prompt:`s and judge templates come from pull
requests, so one render must end quickly and small, whatever the template does.

`render()` streams a template's output and stops it past MAX_RENDER_CHARS characters or MAX_RENDER_SECONDS;
`evalharness.suite.sandbox.BoundedEnvironment` (the sandbox such templates are compiled in) checks the same
deadline inside loops, calls, filters and operators, and refuses values that would grow past the bound.
A broken limit raises `RenderLimit`, whose message names it (`template output over 1048576 characters`).
This module does not import jinja2, so a prompt of plain `{{ column }}`s does not pay for it.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from typing import Any

# Output of one render, and the size of any one value built while rendering. 1,048,576 characters is about
# 250,000 tokens: more than any model's context window, so no real prompt comes near it.
MAX_RENDER_CHARS = 1 << 20
# Wall-clock time of one render. A prompt renders in microseconds, so this is 10,000 times the need on a
# slow machine, and still ends a hostile loop quickly.
MAX_RENDER_SECONDS = 1.0
# All the renders of one suite together (`RenderBudget`): 100,000 rows of a filter-heavy prompt take
# 2.5 s here, so 20 s leaves 8 times that for a slow CI machine; without it, rows that each stay just
# under MAX_RENDER_SECONDS would add up to hours.
MAX_SUITE_RENDER_SECONDS = 20.0


class RenderLimit(Exception):
    """A template broke one of the bounds; the message says which."""


@dataclass
class Limits:
    """The bounds of the render in progress."""

    deadline: float  # time.monotonic()
    timeout_message: str
    work: int = 0  # characters built so far (see sandbox.MAX_RENDER_WORK)


_ACTIVE: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("evalharness_render_limits", default=None)


def active() -> Limits | None:
    """The limits of the render in progress (None outside `render()`, e.g. while a template compiles)."""
    return _ACTIVE.get()


def check_deadline() -> None:
    limits = _ACTIVE.get()
    if limits is not None and time.monotonic() > limits.deadline:
        raise RenderLimit(limits.timeout_message)


def size(value: Any, cap: int = MAX_RENDER_CHARS) -> int:
    """About how many characters `value` prints as: string lengths, the digits of integers, one per item or
    key and one per other object. Counting stops once past `cap` (so a self-containing list ends too)."""
    if type(value) is str:
        return len(value)
    total = 0
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or t is bytes:
            total += len(v)
        elif t is int:
            total += v.bit_length() // 3 + 1
        elif t is list or t is tuple or t is set or t is frozenset:
            total += 1
            extend(v)
        elif t is dict:
            total += 1
            extend(v.keys())
            extend(v.values())
        else:  # subclasses (Markup, OrderedDict, named tuples) and everything else
            total += _other_size(v, extend)
        if total > cap:
            break
    return total


def _other_size(v: Any, extend: Any) -> int:
    if isinstance(v, (str, bytes)):
        return len(v)
    if isinstance(v, int):
        return v.bit_length() // 3 + 1
    if isinstance(v, dict):
        extend(v.keys())
        extend(v.values())
    elif isinstance(v, (list, tuple, set, frozenset)):
        extend(v)
    return 1


def render(template: Any, variables: dict[str, Any], *, seconds: float = MAX_RENDER_SECONDS,
           timeout_message: str | None = None) -> str:
    """Render a template compiled by a BoundedEnvironment, streaming, within the bounds; raises RenderLimit."""
    limits = Limits(time.monotonic() + seconds, timeout_message or f"template took over {seconds:g} s")
    token = _ACTIVE.set(limits)
    try:
        out: list[str] = []
        n = 0
        for chunk in template.generate(**variables):
            n += len(chunk)
            if n > MAX_RENDER_CHARS:
                raise RenderLimit(f"template output over {MAX_RENDER_CHARS} characters")
            if time.monotonic() > limits.deadline:
                raise RenderLimit(limits.timeout_message)
            out.append(chunk)
        return "".join(out)
    finally:
        _ACTIVE.reset(token)


class RenderBudget:
    """Time for many renders together (all the rows of one suite): each render gets MAX_RENDER_SECONDS, or
    what is left of the budget if that is less."""

    def __init__(self, seconds: float = MAX_SUITE_RENDER_SECONDS):
        self.seconds = seconds
        self.left = seconds

    def render(self, template: Any, variables: dict[str, Any]) -> str:
        seconds, message = MAX_RENDER_SECONDS, None
        if self.left < seconds:
            seconds, message = self.left, f"templates took over {self.seconds:g} s in all"
        start = time.monotonic()
        try:
            return render(template, variables, seconds=seconds, timeout_message=message)
        finally:
            self.left -= time.monotonic() - start
