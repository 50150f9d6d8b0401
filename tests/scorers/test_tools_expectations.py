"""`tool_call`: explicit expectations outrank the tool's JSON Schema (issue 18, part 2).

When a call matches an expectation, a schema problem inside the value of a parameter the
expectation lists is a warning, not a failure. Everything the expectation does not pin is still
validated against the schema: the signature (function declared, required parameters sent, no
undeclared parameter), parameters it does not list, calls it does not match, and `schema_valid`.
"""

import json
import string
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evalharness.scorers.base import Sample
from evalharness.scorers.bind import bind
from evalharness.scorers.tools import Matcher
from evalharness.suite.model import ScorerSpec

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WARNING = "the expectation overrides the tool schema"


def call(name, **args):
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def tool(name, properties, required=()):
    return {"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": properties, "required": list(required)}}}


def run(spec, expected, calls, tools):
    bs = bind(ScorerSpec.model_validate(spec if isinstance(spec, dict) else {"type": spec}))
    return bs.score_sync(Sample(case_id="c", output="", tool_calls=calls, tools=tools, expected_tool_calls=expected))


def literal(v):
    """A value as one acceptable alternative in the expectation format (objects are key -> alternatives)."""
    if isinstance(v, dict):
        return {k: [literal(x)] for k, x in v.items()}
    if isinstance(v, list):
        return [literal(x) for x in v]
    return v


def violates(schema, value) -> bool:
    return any(True for _ in jsonschema.Draft202012Validator(schema).iter_errors(value))


# --- strategies ---------------------------------------------------------------------------------

words = st.text(string.ascii_lowercase, min_size=1, max_size=6)
scalars = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6), st.booleans(),
                    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: not f.is_integer()))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(words, inner, max_size=3)), max_leaves=6)
TYPES = ["string", "integer", "number", "boolean", "array", "object"]


@st.composite
def contradiction(draw):
    """(a parameter's schema, a value that breaks it) for enum, type, bounds, pattern, length, items, nesting."""
    kind = draw(st.sampled_from(["enum", "enum_on_array", "type", "minimum", "maximum", "pattern", "maxLength",
                                 "items", "nested"]))
    if kind == "enum":
        enum = draw(st.lists(words, min_size=1, max_size=4, unique=True))
        schema = {"type": "string", "enum": enum}
        bad = draw(st.one_of(st.just("N/A"), st.just("dontcare"), st.text(min_size=1, max_size=8)))
    elif kind == "enum_on_array":  # BFCL live: an enum on an array-typed parameter
        enum = draw(st.lists(words, min_size=1, max_size=4, unique=True))
        schema = {"type": "array", "items": {"type": "string"}, "enum": enum}
        bad = draw(st.lists(st.sampled_from(enum), max_size=3))
    elif kind == "type":
        schema = {"type": draw(st.sampled_from(TYPES))}
        bad = draw(values)
    elif kind == "minimum":
        lo = draw(st.integers(-100, 100))
        schema = {"type": "integer", "minimum": lo}
        bad = lo - draw(st.integers(1, 1000))
    elif kind == "maximum":
        hi = draw(st.floats(-100, 100, allow_nan=False))
        schema = {"type": "number", "maximum": hi}
        bad = hi + draw(st.integers(1, 1000))
    elif kind == "pattern":
        schema = {"type": "string", "pattern": "^[a-z]+$"}
        bad = draw(st.from_regex(r"\A[a-z]{0,3}[0-9A-Z ][a-z]{0,3}\Z"))
    elif kind == "maxLength":
        n = draw(st.integers(0, 4))
        schema = {"type": "string", "maxLength": n}
        bad = draw(st.text(string.ascii_letters, min_size=n + 1, max_size=n + 4))
    elif kind == "items":
        schema = {"type": "array", "items": {"type": "integer"}}
        bad = draw(st.lists(words, min_size=1, max_size=3))
    else:
        schema = {"type": "object", "properties": {"k": {"type": "integer", "maximum": 0}}}
        bad = {"k": draw(st.integers(1, 1000))}
    assume(violates(schema, bad))
    return schema, bad


@st.composite
def case(draw):
    """A tool with a contradicted parameter `p` and an optional well-behaved string `q`."""
    schema, bad = draw(contradiction())
    return [tool("f", {"p": schema, "q": {"type": "string"}}, required=["p"])], bad


def other_than(schema, bad):
    """A value that breaks the schema too and is not the expected one."""
    return values.filter(lambda v: violates(schema, v) and Matcher().value(v, literal(bad), schema, "p") is not None)


# --- properties -----------------------------------------------------------------------------------


@FEW
@given(case())
def test_pinned_contradiction_passes_with_a_warning(c):
    tools, bad = c
    expected = [{"name": "f", "arguments": {"p": [literal(bad)]}}]
    s = run("tool_call", expected, [call("f", p=bad)], tools)
    assert s.passed and s.value == 1.0, s.reason
    assert WARNING in s.reason and "f: p" in s.reason
    assert s.metadata["schema_valid"] is False and s.metadata["schema_warnings"]
    # the schema alone still rejects the call
    assert not run("schema_valid", expected, [call("f", p=bad)], tools).passed
    assert not run("tool_call", None, [call("f", p=bad)], tools).passed


@FEW
@given(case(), st.booleans())
def test_pinned_among_alternatives_and_with_a_listed_compliant_parameter(c, ordered):
    tools, bad = c
    expected = [{"name": "f", "arguments": {"p": ["zz-compliant?", literal(bad)], "q": ["x", None]}}]
    for extra in ({}, {"q": "x"}):
        s = run({"type": "tool_call", "ordered": ordered}, expected, [call("f", p=bad, **extra)], tools)
        assert s.passed and WARNING in s.reason, s.reason
        assert "f: q" not in s.reason  # only p is warned about


@FEW
@given(st.data())
def test_a_call_matching_neither_fails(data):
    tools, bad = data.draw(case())
    schema = tools[0]["function"]["parameters"]["properties"]["p"]
    expected = [{"name": "f", "arguments": {"p": [literal(bad)]}}]
    other = data.draw(other_than(schema, bad))
    s = run("tool_call", expected, [call("f", p=other)], tools)
    assert not s.passed and s.value < 1.0
    assert WARNING not in s.reason


@FEW
@given(case())
def test_unpinned_parameters_are_still_schema_validated(c):
    tools, bad = c
    fn = tools[0]["function"]
    fn["parameters"]["required"] = ["p", "q"]
    # q is required by the schema and not listed by the expectation: omitting it fails
    s = run("tool_call", [{"name": "f", "arguments": {"p": [literal(bad)]}}], [call("f", p=bad)], tools)
    assert not s.passed and "'q' is a required property" in s.reason
    # the expectation listing q as optional does not make the tool's signature optional
    s = run("tool_call", [{"name": "f", "arguments": {"p": [literal(bad)], "q": ["x", None]}}], [call("f", p=bad)], tools)
    assert not s.passed and "'q' is a required property" in s.reason
    # with q sent as listed, the call passes again (p warned about)
    s = run("tool_call", [{"name": "f", "arguments": {"p": [literal(bad)], "q": ["x", None]}}], [call("f", p=bad, q="x")], tools)
    assert s.passed and WARNING in s.reason


@FEW
@given(case())
def test_unmatched_and_extra_calls_are_judged_by_the_schema(c):
    tools, bad = c
    tools = tools + [tool("g", {"n": {"type": "integer", "minimum": 0}})]
    expected = [{"name": "f", "arguments": {"p": [literal(bad)]}}]
    s = run("tool_call", expected, [call("f", p=bad), call("g", n=-1)], tools)
    assert not s.passed and "unexpected extra call" in s.reason and "g: n" in s.reason
    expected2 = expected + [{"name": "g", "arguments": {"n": [1]}}]
    s = run("tool_call", expected2, [call("g", n=-1), call("f", p=bad)], tools)
    assert not s.passed and s.value == 0.5


@FEW
@given(case())
def test_signature_constraints_are_not_overruled(c):
    tools, bad = c
    # an expectation cannot add a parameter the function does not declare
    s = run("tool_call", [{"name": "f", "arguments": {"p": [literal(bad)], "z": [1]}}], [call("f", p=bad, z=1)], tools)
    assert not s.passed and "undeclared parameter 'z'" in s.reason
    # nor a function the case does not declare
    s = run("tool_call", [{"name": "h", "arguments": {"p": [literal(bad)]}}], [call("h", p=bad)], tools)
    assert not s.passed and "unknown function 'h'" in s.reason


@FEW
@given(case())
def test_schema_check_off_means_no_warning(c):
    tools, bad = c
    s = run({"type": "tool_call", "check_schema": False}, [{"name": "f", "arguments": {"p": [literal(bad)]}}],
            [call("f", p=bad)], tools)
    assert s.passed and WARNING not in s.reason


def test_compliant_alternative_gives_no_warning():
    tools = [tool("f", {"unit": {"type": "string", "enum": ["c", "f"]}})]
    expected = [{"name": "f", "arguments": {"unit": ["c", "N/A"]}}]
    s = run("tool_call", expected, [call("f", unit="c")], tools)
    assert s.passed and s.reason == "all 1 call(s) match" and "schema_warnings" not in s.metadata
    s = run("tool_call", expected, [call("f", unit="N/A")], tools)
    assert s.passed and s.reason == ("all 1 call(s) match; warning: the expectation overrides the tool schema: "
                                     "f: unit: 'N/A' is not one of ['c', 'f']")


def test_nested_problem_inside_a_pinned_parameter_is_a_warning():
    tools = [tool("f", {"o": {"type": "object", "properties": {"k": {"type": "integer", "maximum": 0}}}})]
    s = run("tool_call", [{"name": "f", "arguments": {"o": [{"k": [5]}]}}], [call("f", o={"k": 5})], tools)
    assert s.passed and "f: o/k: 5 is greater than the maximum of 0" in s.reason


# --- real BFCL live cases (Apache-2.0, see data/bfcl_live_sample.NOTICE.md) -------------------------

SAMPLE = [json.loads(line) for line in (Path(__file__).parent / "data" / "bfcl_live_sample.jsonl").read_text().splitlines()]
PAIRS = [(row, out) for row in SAMPLE for out in row["outputs"]]


@pytest.mark.parametrize("row,out", PAIRS, ids=[f"{r['id']}:{o['label']}" for r, o in PAIRS])
def test_agrees_with_bfcl_on_live_cases(row, out):
    s = run("tool_call", row["expected_tool_calls"], out["tool_calls"], row["tools"])
    assert s.passed is out["bfcl_valid"], s.reason


def test_live_sample_gold_answers_that_break_the_schema_pass_with_a_warning():
    warned = {row["id"] for row in SAMPLE for out in row["outputs"] if out["label"] == "gold"
              and WARNING in run("tool_call", row["expected_tool_calls"], out["tool_calls"], row["tools"]).reason}
    assert warned == {"live_simple_141-94-0", "live_multiple_146-58-0", "live_multiple_152-58-6",
                      "live_multiple_301-131-0", "live_multiple_338-133-2", "live_parallel_15-11-0",
                      "live_parallel_multiple_21-18-0"}
