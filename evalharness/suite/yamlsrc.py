"""Safe YAML loading that remembers the line of every key and list item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import difflib
from pathlib import Path

import orjson
import yaml
from pydantic import ValidationError

from evalharness.suite.errors import Problem, SuiteError, format_loc

# Bounds on a YAML file, which comes from a pull request.
# Size: the 10,000-case benchmark suite is 1.5 MB; bigger data belongs in a dataset file (JSONL, CSV,
# Parquet), which is read row by row.
MAX_YAML_BYTES = 50 * 1024 * 1024
# Nesting of maps and lists: a suite nests under 20 deep (a tool's JSON schema is the deepest part).
# libyaml's composer recurses in C: a 30,000-deep file crashes the process (segmentation fault).
MAX_YAML_DEPTH = 100
# Nodes added by expanding aliases (`*name`). Reusing a 20-node defaults block in each of 10,000 cases adds
# 200,000; a 431-byte "billion laughs" file (nine levels of nine aliases) asks for 387 million.
MAX_ALIAS_NODES = 250_000


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
    # Where the file's relative paths start, and the root they must stay in (suite/trust.py).
    base_dir: Path | None = None
    root: Path | None = None

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
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DupKeyLoader(_BASE_LOADER):
    pass


def read_source(path: Path) -> bytes:
    """The bytes of a YAML file, refused (SuiteError) over MAX_YAML_BYTES or when it cannot be read."""
    file = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise SuiteError([Problem(file, None, "", f"cannot read: {e.strerror or e}")]) from None
    if len(raw) > MAX_YAML_BYTES:
        raise SuiteError([Problem(file, None, "", f"file is over {MAX_YAML_BYTES} bytes")])
    return raw


def read_text(path: Path) -> str:
    """A YAML file's text (suites, targets files, guard policies): bounded by `read_source`, and
    invalid UTF-8 refused with its line."""
    raw = read_source(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise SuiteError([Problem(str(path), line, "", f"not UTF-8 (byte 0x{raw[e.start]:02x})")]) from None


def load_yaml(text: str, file: str, vocabulary: frozenset[str] | Callable[[], frozenset[str]] = frozenset()
              ) -> tuple[Located | None, list[Problem]]:
    """Parse YAML safely. Returns the located data, or the problems (syntax, duplicate keys, a value that
    cannot be encoded as UTF-8, and the bounds above)."""
    if len(text) > MAX_YAML_BYTES:
        return None, [Problem(file, None, "", f"file is over {MAX_YAML_BYTES} bytes")]
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []
    loader = _DupKeyLoader(text)
    try:
        refused = _check_structure(text, file)
        if refused:
            return None, [refused]
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, 1, "", "file is empty")]
        data = _build(loader, node, (), lines, problems, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(file, line, "", f"invalid YAML: {e.problem or e}")]
    except yaml.reader.ReaderError as e:  # a control character: YAML allows tab, CR and LF only
        return None, [Problem(file, _line_at(text, e.position), "", f"invalid YAML: {e.reason}")]
    except yaml.YAMLError as e:
        return None, [Problem(file, None, "", f"invalid YAML: {e}")]
    finally:
        loader.dispose()
    loc = Located(file, data, lines, vocabulary=vocabulary)
    loc.lines[()] = node.start_mark.line + 1
    problems.extend(encoding_problems(loc, data, ()))
    return loc, problems


def _line_at(text: str, position: int) -> int:
    # libyaml counts the bytes of the UTF-8 text; PyYAML's own reader counts characters.
    before = text[:position] if _BASE_LOADER is yaml.SafeLoader else text.encode("utf-8", "surrogatepass")[:position]
    return before.count("\n" if isinstance(before, str) else b"\n") + 1


def _check_structure(text: str, file: str) -> Problem | None:
    """Walk the parser's events (no nodes built) for nesting deeper than MAX_YAML_DEPTH, and for aliases that
    would expand to more than MAX_ALIAS_NODES nodes or into themselves."""
    loader = _DupKeyLoader(text)
    try:
        open_: list[tuple[str | None, int]] = []  # per open map/list: its anchor, and `total` when it began
        sizes: dict[str, int] = {}  # anchor -> nodes in its value, aliases expanded
        total = added = 0  # nodes so far, aliases expanded; nodes added by aliases
        while (event := loader.get_event()) is not None:
            kind = type(event)
            if kind is yaml.AliasEvent:
                anchor, line = event.anchor, event.start_mark.line + 1
                if any(a == anchor for a, _ in open_):
                    return Problem(file, line, "", f"alias *{anchor} is inside the value it names (endless)")
                n = sizes.get(anchor, 0)  # an undefined alias is reported by the composer
                total += n
                added += n
                if added > MAX_ALIAS_NODES:
                    return Problem(file, line, "", f"aliases expand to over {MAX_ALIAS_NODES} nodes (at *{anchor})")
            elif kind is yaml.ScalarEvent:
                total += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                total += 1
                open_.append((event.anchor, total))
                if len(open_) > MAX_YAML_DEPTH:
                    return Problem(file, event.start_mark.line + 1, "", f"nested over {MAX_YAML_DEPTH} levels deep")
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                anchor, start = open_.pop()
                if anchor is not None:
                    sizes[anchor] = total - start + 1
        return None
    finally:
        loader.dispose()


def encoding_problems(src: Located, data: Any, loc: tuple) -> list[Problem]:
    """A Problem for every string in `data` (keys too, at any depth) that cannot be encoded as UTF-8: a lone
    surrogate such as the JSON escape "\\ud800". Everything a case holds is later sent as JSON or stored with
    Arrow, which both refuse it, so it is refused here, at load."""
    try:
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)  # in C, and refuses a lone surrogate
        return []
    except TypeError:  # a lone surrogate, or something else JSON has no form for: look at each string
        pass
    out = []
    stack = [(loc, data)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            reason = _unencodable(v)
            if reason:
                out.append(Problem(src.file, src.line(path), src.field(path), reason))
        elif isinstance(v, dict):
            for k, x in v.items():
                reason = _unencodable(k) if isinstance(k, str) else None
                if reason:
                    out.append(Problem(src.file, src.line(path), src.field(path), f"key {k!r}: {reason}"))
                else:
                    stack.append((path + (k,), x))
        elif isinstance(v, (list, tuple)):
            stack.extend((path + (i,), x) for i, x in enumerate(v))
    return out


def _unencodable(s: str) -> str | None:
    if s.isascii():
        return None
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"cannot be encoded as UTF-8 (lone surrogate U+{ord(s[e.start]):04X} at character {e.start + 1})"
    return None


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
            # Keys merged in by `<<: *name` (put first by the constructor) lie outside this mapping; one of its
            # own keys overrides them, which is the point of a merge, not a duplicate.
            if node.start_mark.index <= k.start_mark.index < node.end_mark.index:
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
