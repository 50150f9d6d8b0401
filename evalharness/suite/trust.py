"""The trust model: suites and datasets are untrusted data; targets files, judge definitions and
command-line flags are trusted configuration.

Two rules make a suite from a pull request safe to run next to real credentials:
1. A suite names no endpoint and no credential. Outside case content (what is sent to the model
   under test as text), no key may name one (`base_url`, `api_key_env`, ...) and no value may be a
   URL. `judges:` in a suite may only set non-secret options of a judge; the endpoint and its key
   come from a targets file or the command line. `--trust-suite-endpoints` lifts this for local use.
2. Every path a suite names (`dataset`, a judge `template`, and any argument a scorer declares as a
   path) is relative, and resolves, after following symlinks, inside the suite root: the directory
   of the suite file or directory given on the command line, or `--suite-root`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from evalharness.suite.errors import Problem, format_loc

# Keys that name an endpoint or a credential, wherever they appear outside case content.
ENDPOINT_KEYS = frozenset({"base_url", "api_base", "api_url", "url", "endpoint", "host", "api_key", "api_key_env",
                           "key_env", "token", "password", "authorization", "headers", "proxy"})
# Case keys whose values are content: text for the model under test (or its recorded answers), never
# fetched and never used as configuration. URLs in them are data.
CONTENT_KEYS = frozenset({"input", "messages", "expected", "context", "output", "tool_calls", "metadata", "tools",
                          "tool_results", "expected_tool_calls", "description", "criteria", "label", "tags", "id",
                          "prompt", "system"})
# Scorer keys that hold text: what an answer is compared with (a URL there is the expected text), and
# the scorer's display name (a label in results and the UI, which shows it as text).
TEXT_ARGS = frozenset({"value", "values", "pattern", "choices", "criteria", "expected", "arguments", "call",
                       "schema", "name"})
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{0,31}://")  # a bounded scheme: no quadratic backtracking
WHERE_ENDPOINTS_GO = ("suites cannot name endpoints or credentials: define judges and targets in a targets file "
                      "(--targets) or with --judge-base-url/--base-url (README: Security model)")


@dataclass(frozen=True)
class Trust:
    """How much a load trusts its suites: the root their paths must stay in, and whether they may name
    endpoints (`--trust-suite-endpoints`, for local use only)."""

    root: Path
    endpoints: bool = False


def endpoint_problems(data: Any, file: str, line_of) -> list[Problem]:
    """Every endpoint or credential a suite names outside case content. `line_of(path)` gives a line."""
    out = []
    for path, key, value in _config_items(data, ()):
        field = format_loc(path)
        if key is not None and str(key).lower() in ENDPOINT_KEYS:
            out.append(Problem(file, line_of(path), field, f"`{key}` is not allowed in a suite: {WHERE_ENDPOINTS_GO}"))
        elif isinstance(value, str) and _URL.search(value):
            out.append(Problem(file, line_of(path), field, f"a URL is not allowed here: {WHERE_ENDPOINTS_GO}"))
    return out


def _config_items(node: Any, path: tuple) -> Iterator[tuple[tuple, Any, Any]]:
    """(path, key, value) for every configuration value: content keys of a case are skipped whole."""
    if isinstance(node, dict):
        in_case = len(path) >= 2 and path[0] == "cases" or path[:1] == ("defaults",)
        in_scorer = "scorers" in path
        for k, v in node.items():
            if in_case and k in CONTENT_KEYS or in_scorer and k in TEXT_ARGS:
                continue
            if not path and k in ("description", "tags", "name", "category", "prompt", "tools", "quarantine"):
                continue  # top-level text and data, like case content
            yield path + (k,), k, v
            yield from _config_items(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,), None, v
            yield from _config_items(v, path + (i,))


def resolve_path(value: str, base_dir: Path, root: Path) -> tuple[Path | None, str | None]:
    """(the resolved path, None) when `value`, relative to `base_dir`, stays inside `root` after
    following symlinks; else (None, why)."""
    if not isinstance(value, str) or not value.strip():
        return None, "must be a non-empty relative path"
    if "\x00" in value:
        return None, "must not contain a NUL character"
    p = Path(value)
    if p.is_absolute() or value.startswith("~"):
        return None, f"absolute paths are not allowed in a suite ({value!r}); give a path relative to the suite file"
    try:
        resolved = (base_dir / p).resolve()
        inside = resolved.is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, an unreadable directory
        return None, f"cannot resolve {value!r}: {e}"
    if not inside:
        return None, (f"{value!r} resolves outside the suite root {root} (following symlinks); "
                      "widen it with --suite-root DIR")
    return resolved, None


def suite_root(path: Path) -> Path:
    """The default root of a suite file or directory given on the command line."""
    return path if path.is_dir() else path.parent
