"""Tool-calling scorers: tool_call (BFCL-style AST matching), schema_valid, trajectory, tool_args.

Argument expectations (the public format, like BFCL's possible answers): `arguments` maps each
parameter to the list of its acceptable values; `null` in the list means it may be omitted; a
parameter not listed must not be sent; a scalar is a one-element list. A list- or object-typed
parameter's acceptable values are lists/objects inside the list, and nested objects are matched
key by key with the same rule. An argument sent as `null` counts as omitted. With the tools' schemas
known, a call must also validate against its tool's JSON Schema, and may not send a parameter the
tool does not declare (unless the schema sets `additionalProperties`).

Order of authority in `tool_call`: explicit expectation > schema. When a call matches an expectation,
a schema problem inside the value of a parameter the expectation lists (the value breaks that
parameter's type, enum, bounds, pattern, items...) does not fail the call: the expectation names
that value as acceptable, so the conflict is reported in the reason as a warning. The schema still
decides what the expectation does not: the signature (the function exists, required parameters are
sent, no undeclared parameter; an expectation's `null` only says omission is fine by the case, not
by the tool), parameters the expectation does not list, and every call no expectation matches.
`schema_valid`, and `tool_call` without expectations, check the schema alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer

# BFCL's string standardisation: drop spaces and , . / - _ * ^, lowercase, ' -> ".
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def standardise(s: str) -> str:
    return _BFCL_STRIP.sub("", s).lower().replace("'", '"')


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any] | None
    error: str | None = None


def parse_calls(raw: list[dict] | None) -> list[Call]:
    """OpenAI-shaped tool calls -> Call(name, parsed args or an error)."""
    out = []
    for item in raw or []:
        fn = (item or {}).get("function") or item or {}
        name = fn.get("name") or ""
        a = fn.get("arguments")
        if isinstance(a, dict):
            out.append(Call(name, _drop_nulls(a)))
            continue
        if a is None or (isinstance(a, str) and not a.strip()):
            out.append(Call(name, {}))
            continue
        try:
            parsed = json.loads(a)
        except (TypeError, json.JSONDecodeError) as e:
            out.append(Call(name, None, f"arguments of {name} are not valid JSON: {e}"))
            continue
        if not isinstance(parsed, dict):
            out.append(Call(name, None, f"arguments of {name} are not a JSON object"))
        else:
            out.append(Call(name, _drop_nulls(parsed)))
    return out


def _drop_nulls(args: dict) -> dict:
    """An argument sent as null counts as omitted (OpenAI strict mode sends null for unused optionals)."""
    return {k: v for k, v in args.items() if v is not None}


def tool_schemas(tools: list[dict] | None) -> dict[str, dict]:
    """Tool name -> JSON Schema of its parameters."""
    out = {}
    for t in tools or []:
        fn = t.get("function") if isinstance(t, dict) and "function" in t else t
        if isinstance(fn, dict) and fn.get("name"):
            out[fn["name"]] = fn.get("parameters") or {"type": "object", "properties": {}}
    return out


def _alternatives(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Matcher:
    def __init__(self, normalise_strings: bool = True):
        self.norm = normalise_strings

    def value(self, actual: Any, want: Any, schema: dict | None, path: str) -> str | None:
        """None when `actual` matches one acceptable value `want`; else why not."""
        schema = schema or {}
        stype = schema.get("type")
        if isinstance(want, dict):
            if not isinstance(actual, dict):
                return f"{path}: expected an object, got {type(actual).__name__}"
            return self.obj(actual, want, schema.get("properties") or {}, path)
        if isinstance(want, list):
            if not isinstance(actual, list):
                return f"{path}: expected a list, got {type(actual).__name__}"
            if len(actual) != len(want):
                return f"{path}: expected {len(want)} items, got {len(actual)}"
            for i, (a, w) in enumerate(zip(actual, want)):
                why = self.value(a, w, schema.get("items"), f"{path}[{i}]")
                if why:
                    return why
            return None
        if isinstance(want, bool):
            ok = isinstance(actual, bool) and actual == want
            return None if ok else f"{path}: {actual!r} != {want!r}"
        if isinstance(want, str):
            if not isinstance(actual, str):
                return f"{path}: expected a string, got {type(actual).__name__} {actual!r}"
            ok = standardise(actual) == standardise(want) if self.norm else actual == want
            return None if ok else f"{path}: {actual!r} != {want!r}"
        if isinstance(want, int):
            if isinstance(actual, bool) or not _is_num(actual):
                return f"{path}: expected a number, got {type(actual).__name__} {actual!r}"
            if isinstance(actual, float) and stype != "number":
                return f"{path}: float {actual!r} sent for an integer"
            return None if actual == want else f"{path}: {actual!r} != {want!r}"
        if isinstance(want, float):
            if not _is_num(actual):
                return f"{path}: expected a number, got {type(actual).__name__} {actual!r}"
            return None if float(actual) == want else f"{path}: {actual!r} != {want!r}"
        return None if actual == want else f"{path}: {actual!r} != {want!r}"

    def obj(self, actual: dict, expected: dict, props: dict, path: str = "") -> str | None:
        for key, acc in expected.items():
            options = _alternatives(acc)
            where = f"{path}.{key}" if path else key
            if key not in actual:
                if None in options:
                    continue
                return f"missing argument {where}"
            reasons = [self.value(actual[key], o, props.get(key), where) for o in options if o is not None]
            if reasons and all(reasons):
                return reasons[0] if len(reasons) == 1 else f"{where}: {actual[key]!r} is none of the accepted values"
            if not reasons:  # only `null` accepted: the parameter must be omitted
                return f"{where} must be omitted"
        extra = [k for k in actual if k not in expected]
        if extra:
            return f"unexpected argument {(path + '.' if path else '') + extra[0]}"
        return None

    def call(self, actual: Call, expected: dict, schemas: dict[str, dict]) -> str | None:
        if actual.name != expected["name"]:
            return f"called {actual.name!r}, expected {expected['name']!r}"
        if actual.error:
            return actual.error
        props = (schemas.get(actual.name) or {}).get("properties") or {}
        why = self.obj(actual.args or {}, expected.get("arguments") or {}, props)
        return f"{actual.name}: {why}" if why else None


def match_calls(actual: list[Call], expected: list[dict], schemas: dict, m: Matcher, ordered: bool,
                problems: list[list[Problem]] | None = None) -> tuple[int, list[str], dict[int, int]]:
    """Match expected calls to distinct actual calls. A pair matches when the values match and none of the
    call's schema `problems` survives the expectation (see `overruled`). Returns (matched count, reasons
    for the misses, expected index -> actual index of the matched pairs)."""

    def check(a: int, exp: dict) -> str | None:
        why = m.call(actual[a], exp, schemas)
        if why is None and problems:
            still = overruled(problems[a], exp)[1]
            why = still[0].message if still else None
        return why

    if ordered:
        reasons, pairs = [], {}
        for i, exp in enumerate(expected):
            if i >= len(actual):
                reasons.append(f"missing call {i + 1} ({exp['name']})")
                continue
            why = check(i, exp)
            if why:
                reasons.append(f"call {i + 1}: {why}")
            else:
                pairs[i] = i
        return len(pairs), reasons, pairs
    why = [[check(a, e) for a in range(len(actual))] for e in expected]
    owner: dict[int, int] = {}  # actual index -> expected index (maximum bipartite matching)

    def augment(e: int, seen: set[int]) -> bool:
        for a in range(len(actual)):
            if why[e][a] is None and a not in seen:
                seen.add(a)
                if a not in owner or augment(owner[a], seen):
                    owner[a] = e
                    return True
        return False

    matched = sum(augment(e, set()) for e in range(len(expected)))
    done = set(owner.values())
    reasons = []
    for e, exp in enumerate(expected):
        if e not in done:
            closest = next((w for w in why[e] if w and w.startswith(exp["name"] + ":")), None)
            detail = closest or (why[e][0] if why[e] else "no calls made")
            reasons.append(f"expected call {e + 1} ({exp['name']}) not matched: {detail}")
    return matched, reasons, {e: a for a, e in owner.items()}


@dataclass(frozen=True)
class Problem:
    """One way a call breaks its tool's schema. `param`: the top-level parameter whose *value* breaks the
    parameter's own schema (type, enum, bounds, pattern, items, nested properties...); None when the
    problem is about the call's signature (unknown function, a missing required or an undeclared
    parameter, minProperties, a root anyOf...) or its JSON."""

    message: str
    param: str | None = None


def call_problems(c: Call, schemas: dict[str, dict]) -> list[Problem]:
    """Every way a call does not fit the declared tools (empty when it fits)."""
    from evalharness.scorers.structured import offline_validator

    if c.name not in schemas:
        return [Problem(f"call to unknown function {c.name!r}")] + ([Problem(c.error)] if c.error else [])
    if c.error:
        return [Problem(c.error)]
    schema = schemas[c.name]
    args = c.args or {}
    errs = sorted(offline_validator(schema).iter_errors(args), key=lambda e: [str(x) for x in e.path])
    out = [Problem(f"{c.name}: {'/'.join(map(str, e.path)) or '(arguments)'}: {e.message}",
                   str(e.path[0]) if e.path else None) for e in errs]
    declared = schema.get("properties") or {}
    if declared and "additionalProperties" not in schema:
        out += [Problem(f"{c.name}: undeclared parameter {k!r}") for k in args if k not in declared]
    return out


def schema_problem(c: Call, schemas: dict[str, dict]) -> str | None:
    """Why a call does not fit the declared tools, or None."""
    problems = call_problems(c, schemas)
    return problems[0].message if problems else None


def schema_problems(calls: list[Call], schemas: dict[str, dict]) -> list[str]:
    return [p for p in (schema_problem(c, schemas) for c in calls) if p]


def overruled(problems: list[Problem], expected: dict) -> tuple[list[Problem], list[Problem]]:
    """The one rule of authority: an explicit expectation beats the schema on the value of a parameter it
    lists. Splits a call's schema problems into (those the expectation overrules -> warnings, those that
    still fail the call). Only call this for a call whose values already match `expected`: then every
    parameter the expectation lists and the call sends holds one of the listed values."""
    pinned = expected.get("arguments") or {}
    warn = [p for p in problems if p.param is not None and p.param in pinned]
    return warn, [p for p in problems if p.param is None or p.param not in pinned]


class ToolCallArgs(ScorerArgs):
    ordered: bool = Field(False, description="parallel calls must come in the expected order")
    normalise_strings: bool = Field(
        True, description="compare strings BFCL-style: case, spaces and ,./-_*^ ignored"
    )
    check_schema: bool = Field(True, description="also validate each call against its tool's JSON Schema")


@scorer(
    name="tool_call",
    description="BFCL-style match of the tool calls against expected_tool_calls (name, typed arguments, "
    "optional/forbidden parameters, parallel calls in any order; [] = no call allowed). Score = fraction matched.",
    args=ToolCallArgs,
)
def tool_call(a: ToolCallArgs):
    m = Matcher(a.normalise_strings)

    def score(s: Sample) -> Score:
        calls = parse_calls(s.tool_calls)
        schemas = tool_schemas(s.tools)
        expected = s.expected_tool_calls
        check = a.check_schema and bool(schemas)
        problems = [call_problems(c, schemas) if check else [] for c in calls]
        meta: dict[str, Any] = {"calls": len(calls), "schema_valid": not any(problems)}
        if expected is None:  # no expectations: the schema alone decides
            bad = [ps[0].message for ps in problems if ps]
            if not calls:
                return Score(0.0, False, "no tool call made (and the case has no expected_tool_calls)", meta)
            return Score(float(not bad), not bad, "; ".join(bad) or f"{len(calls)} schema-valid call(s)", meta)
        if not expected:
            if calls:
                return Score(0.0, False, f"expected no tool call, got {', '.join(c.name for c in calls)}", meta)
            return Score(1.0, True, "no tool call, as expected", meta)
        n, reasons, pairs = match_calls(calls, expected, schemas, m, a.ordered, problems)
        if len(calls) > len(expected):
            reasons.append(f"{len(calls) - len(expected)} unexpected extra call(s)")
        for i, ps in enumerate(problems):  # calls no expectation matched: the schema alone judges them
            if i not in pairs.values() and ps and not any(ps[0].message in r for r in reasons):
                reasons.append(ps[0].message)
        warnings = [p.message for e, i in sorted(pairs.items()) for p in overruled(problems[i], expected[e])[0]]
        note = f"; warning: the expectation overrides the tool schema: {'; '.join(warnings)}" if warnings else ""
        if warnings:
            meta["schema_warnings"] = warnings
        if n == len(expected) and len(calls) == len(expected):
            return Score(1.0, True, f"all {n} call(s) match{note}", meta)
        value = n / len(expected)
        return Score(value if len(calls) <= len(expected) else value * len(expected) / len(calls), False,
                     "; ".join(reasons) + note, meta)

    return score


@scorer(
    name="schema_valid",
    description="Every tool call names a declared tool and its arguments validate against that tool's JSON Schema.",
)
def schema_valid(_a):
    def score(s: Sample) -> Score:
        calls = parse_calls(s.tool_calls)
        schemas = tool_schemas(s.tools)
        if not schemas:
            return Score(0.0, False, "the case declares no tools to validate against")
        bad = schema_problems(calls, schemas)
        if bad:
            return Score(1 - len(bad) / len(calls), False, "; ".join(bad))
        return Score(1.0, True, f"{len(calls)} call(s) valid" if calls else "no calls")

    return score


class TrajectoryArgs(ScorerArgs):
    expected: list[str] = Field(..., description="tool names in the expected order")
    order: Literal["strict", "unordered", "subset"] = Field(
        "strict", description="strict: same order; unordered: same calls, any order; subset: each expected tool called"
    )
    allow_extra: bool = Field(False, description="other calls besides the expected ones are fine")


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@scorer(
    name="trajectory",
    description="The sequence of tool names the agent called matches the expected trajectory (strict, unordered or subset).",
    args=TrajectoryArgs,
)
def trajectory(a: TrajectoryArgs):
    from collections import Counter

    def score(s: Sample) -> Score:
        got = [c.name for c in parse_calls(s.tool_calls)]
        want = a.expected
        shown = f"called {got or 'nothing'}, expected {want}"
        if a.order == "strict":
            hit = _lcs(want, got)
            ok = got == want or (a.allow_extra and hit == len(want))
        else:
            cg, cw = Counter(got), Counter(want)
            if a.order == "unordered":
                hit = sum((cw & cg).values())
                ok = cg == cw or (a.allow_extra and hit == len(want))
            else:  # subset: every expected tool called at least once
                hit = sum(1 for t in cw if t in cg)
                want = list(cw)
                ok = hit == len(want) and (a.allow_extra or set(cg) <= set(cw))
        value = hit / len(want) if want else float(not got)
        return Score(1.0 if ok else min(value, 0.999), ok, shown)

    return score


class ToolArgsArgs(ScorerArgs):
    call: str = Field(..., description="tool name")
    arguments: dict[str, Any] = Field(..., description="expected arguments (same rules as expected_tool_calls)")
    which: Literal["any", "first", "last"] = Field("any", description="which call to that tool must match")
    normalise_strings: bool = True


@scorer(
    name="tool_args",
    description="One call to a named tool (any, first or last in the trajectory) has the expected arguments.",
    args=ToolArgsArgs,
)
def tool_args(a: ToolArgsArgs):
    m = Matcher(a.normalise_strings)
    expected = {"name": a.call, "arguments": a.arguments}

    def score(s: Sample) -> Score:
        calls = [c for c in parse_calls(s.tool_calls) if c.name == a.call]
        if not calls:
            return Score(0.0, False, f"{a.call} was never called")
        pool = {"first": calls[:1], "last": calls[-1:], "any": calls}[a.which]
        schemas = tool_schemas(s.tools)
        reasons = [m.call(c, expected, schemas) for c in pool]
        if any(r is None for r in reasons):
            return Score(1.0, True, f"{a.call} called with the expected arguments")
        return Score(0.0, False, reasons[0])

    return score
