"""Load errors that name the file, the line and the field."""

from __future__ import annotations

from evalharness.errors import ConfigError, Problem, SuiteError  # noqa: F401 - the suite loader's errors


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
