"""Safe YAML loading that remembers the line of every key and list item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import difflib

import yaml
from pydantic import ValidationError

from evalharness.suite.errors import Problem, format_loc


@dataclass
class Located:
    """Parsed YAML plus the 1-based line of each path (tuple of keys/indexes)."""

    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    vocabulary: frozenset[str] = frozenset()  # known keys, for "did you mean" on unknown ones
    hide_prefix: int = 0  # leading location parts left out of field names (dataset rows)

    def line(self, loc: tuple) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def field(self, loc: tuple) -> str:
        return format_loc(tuple(loc)[self.hide_prefix:])

    def problems(self, err: ValidationError, prefix: tuple = ()) -> list[Problem]:
        out = []
        for e in err.errors():
            loc = prefix + tuple(x for x in e["loc"] if not _is_union_tag(x))
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = f"unknown key '{loc[-1]}'"
                close = difflib.get_close_matches(str(loc[-1]), sorted(self.vocabulary), n=1, cutoff=0.75)
                if close:
                    msg += f" (did you mean '{close[0]}'?)"
            elif e["type"] == "missing":
                msg = f"missing required key '{loc[-1]}'"
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            if e["type"] not in ("extra_forbidden", "missing") and "input" in e and not isinstance(
                e["input"], (dict, list)
            ):
                msg += f" (got {e['input']!r})"
            out.append(Problem(self.file, self.line(loc), self.field(loc), msg))
        return out


def _is_union_tag(part: Any) -> bool:
    # pydantic puts union member names such as 'list[Message]' into the location.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "none"))


class _DupKeyLoader(yaml.SafeLoader):
    pass


def load_yaml(text: str, file: str, vocabulary: frozenset[str] = frozenset()) -> tuple[Located | None, list[Problem]]:
    """Parse YAML safely. Returns the located data, or the problems (syntax, duplicate keys)."""
    loader = _DupKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, 1, "", "file is empty")]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(file, line, "", f"invalid YAML: {e.problem or e}")]
    except yaml.YAMLError as e:
        return None, [Problem(file, None, "", f"invalid YAML: {e}")]
    finally:
        loader.dispose()
    loc = Located(file, data, vocabulary=vocabulary)
    problems: list[Problem] = []
    _walk(node, (), loc.lines, problems, file)
    loc.lines[()] = node.start_mark.line + 1
    return loc, problems


def _walk(node: yaml.Node, path: tuple, lines: dict, problems: list[Problem], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            line = k.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(file, line, format_loc(path + (key,)), f"duplicate key (first at line {seen[key]})")
                )
            seen[key] = line
            lines[path + (key,)] = line
            _walk(v, path + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, problems, file)
