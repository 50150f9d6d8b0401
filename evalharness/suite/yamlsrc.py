"""Safe YAML loading that remembers the line of every key and list item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

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
    # Known keys, for "did you mean" on unknown ones: a set, or a function giving it (called only
    # when a suite has an unknown key, since building it imports every scorer module).
    vocabulary: frozenset[str] | Callable[[], frozenset[str]] = frozenset()
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
                vocab = self.vocabulary() if callable(self.vocabulary) else self.vocabulary
                close = difflib.get_close_matches(str(loc[-1]), sorted(vocab), n=1, cutoff=0.75)
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


# libyaml's C parser when PyYAML has it (about 10x faster on a 10,000-case suite); the same safe
# constructor either way, so no tag can build a Python object.
class _DupKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


def load_yaml(text: str, file: str, vocabulary: frozenset[str] | Callable[[], frozenset[str]] = frozenset()
              ) -> tuple[Located | None, list[Problem]]:
    """Parse YAML safely. Returns the located data, or the problems (syntax, duplicate keys)."""
    loader = _DupKeyLoader(text)
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, 1, "", "file is empty")]
        data = _build(loader, node, (), lines, problems, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(file, line, "", f"invalid YAML: {e.problem or e}")]
    except yaml.YAMLError as e:
        return None, [Problem(file, None, "", f"invalid YAML: {e}")]
    finally:
        loader.dispose()
    loc = Located(file, data, lines, vocabulary=vocabulary)
    loc.lines[()] = node.start_mark.line + 1
    return loc, problems


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


def _build(loader, node: yaml.Node, path: tuple, lines: dict, problems: list[Problem], file: str) -> Any:
    """Construct the data and record the line of every key and item in one walk. Plain strings, maps and
    sequences are built here (the common case, and the slow part of PyYAML's constructor); every other
    node (numbers, booleans, null, timestamps, merge keys, ...) goes to the safe constructor."""
    scalar = yaml.ScalarNode
    if isinstance(node, scalar):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        out = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            if isinstance(item, scalar):
                out.append(item.value if item.tag == _STR else loader.construct_object(item, deep=True))
            else:
                out.append(_build(loader, item, path + (i,), lines, problems, file))
        return out
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP and not any(
            k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
        data: dict[Any, Any] = {}
        for k, v in node.value:
            line = k.start_mark.line + 1
            if not isinstance(k, scalar):
                problems.append(Problem(file, line, format_loc(path), "a key must be a plain value, not a list or map"))
                continue
            key = k.value if k.tag == _STR else loader.construct_object(k, deep=True)
            kpath = path + (key,)
            if key in data:
                problems.append(Problem(file, line, format_loc(kpath), f"duplicate key (first at line {lines[kpath]})"))
            else:
                lines[kpath] = line
            if isinstance(v, scalar):
                data[key] = v.value if v.tag == _STR else loader.construct_object(v, deep=True)
            else:
                data[key] = _build(loader, v, kpath, lines, problems, file)
        return data
    data = loader.construct_object(node, deep=True)  # merge keys, explicit tags: the safe constructor decides
    _walk(node, path, lines, problems, file)
    return data


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
