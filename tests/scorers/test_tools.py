import json

import pytest

from evalharness.scorers.base import Sample
from evalharness.scorers.bind import bind
from evalharness.suite.model import ScorerSpec


def call(name, raw=None, **args):
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": raw if raw is not None else json.dumps(args)}}


def exp(name, **arguments):
    return {"name": name, "arguments": arguments}


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
                                     "days": {"type": "integer"}, "temp": {"type": "number"}},
    "required": ["city"]}}}
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}},
                                     "filter": {"type": "object", "properties": {"lang": {"type": "string"},
                                                                                 "year": {"type": "integer"}}},
                                     "exact": {"type": "boolean"}}}}}
TOOLS = [WEATHER, SEARCH]


def score(expected, actual, tools=TOOLS, **spec):
    bs = bind(ScorerSpec.model_validate({"type": "tool_call", **spec}))
    return bs.score_sync(Sample(case_id="c", output="", tool_calls=actual, tools=tools, expected_tool_calls=expected))


# (label, expected_tool_calls, actual tool_calls, passes)
PAIRS = [
    ("exact match", [exp("get_weather", city=["Paris"])], [call("get_weather", city="Paris")], True),
    ("scalar shorthand", [exp("get_weather", city="Paris")], [call("get_weather", city="Paris")], True),
    ("alternative value", [exp("get_weather", city=["Paris", "paris, fr"])], [call("get_weather", city="Paris, FR")], True),
    ("bfcl string normalisation", [exp("get_weather", city=["new york"])], [call("get_weather", city="New-York")], True),
    ("wrong value", [exp("get_weather", city=["Paris"])], [call("get_weather", city="Lyon")], False),
    ("wrong function", [exp("get_weather", city=["Paris"])], [call("get_forecast", city="Paris")], False),
    ("missing required", [exp("get_weather", city=["Paris"], unit=["c"])], [call("get_weather", city="Paris")], False),
    ("optional omitted", [exp("get_weather", city=["Paris"], unit=["c", None])], [call("get_weather", city="Paris")], True),
    ("optional given right", [exp("get_weather", city=["Paris"], unit=["c", None])], [call("get_weather", city="Paris", unit="c")], True),
    ("optional given wrong", [exp("get_weather", city=["Paris"], unit=["c", None])], [call("get_weather", city="Paris", unit="f")], False),
    ("unexpected argument", [exp("get_weather", city=["Paris"])], [call("get_weather", city="Paris", unit="c")], False),
    ("only null: must omit", [exp("get_weather", city=["Paris"], unit=[None])], [call("get_weather", city="Paris", unit="c")], False),
    ("int for int", [exp("get_weather", city=["X"], days=[3])], [call("get_weather", city="X", days=3)], True),
    ("int as string", [exp("get_weather", city=["X"], days=[3])], [call("get_weather", city="X", days="3")], False),
    ("float for integer", [exp("get_weather", city=["X"], days=[3])], [call("get_weather", raw='{"city": "X", "days": 3.0}')], False),
    ("int for number", [exp("get_weather", city=["X"], temp=[20.0])], [call("get_weather", city="X", temp=20)], True),
    ("float for number", [exp("get_weather", city=["X"], temp=[20.5])], [call("get_weather", city="X", temp=20.5)], True),
    ("float mismatch", [exp("get_weather", city=["X"], temp=[20.5])], [call("get_weather", city="X", temp=20.4)], False),
    ("bool is not int", [exp("search", exact=[True])], [call("search", exact=1)], False),
    ("bool match", [exp("search", exact=[False])], [call("search", exact=False)], True),
    ("bool as string", [exp("search", exact=[True])], [call("search", exact="true")], False),
    ("list value", [exp("search", tags=[["a", "b"]])], [call("search", tags=["a", "b"])], True),
    ("list order matters", [exp("search", tags=[["a", "b"]])], [call("search", tags=["b", "a"])], False),
    ("list alternative order", [exp("search", tags=[["a", "b"], ["b", "a"]])], [call("search", tags=["b", "a"])], True),
    ("list length", [exp("search", tags=[["a", "b"]])], [call("search", tags=["a"])], False),
    ("list vs scalar", [exp("search", tags=[["a"]])], [call("search", tags="a")], False),
    ("list strings normalised", [exp("search", tags=[["New York"]])], [call("search", tags=["new york"])], True),
    ("nested object", [exp("search", filter=[{"lang": ["en"], "year": [2020]}])], [call("search", filter={"lang": "en", "year": 2020})], True),
    ("nested alternative", [exp("search", filter=[{"lang": ["en", "EN-us"], "year": [2020]}])], [call("search", filter={"lang": "en_us", "year": 2020})], True),
    ("nested wrong", [exp("search", filter=[{"lang": ["en"], "year": [2020]}])], [call("search", filter={"lang": "en", "year": 2021})], False),
    ("nested optional omitted", [exp("search", filter=[{"lang": ["en"], "year": [2020, None]}])], [call("search", filter={"lang": "en"})], True),
    ("nested extra key", [exp("search", filter=[{"lang": ["en"]}])], [call("search", filter={"lang": "en", "year": 1})], False),
    ("nested not object", [exp("search", filter=[{"lang": ["en"]}])], [call("search", filter="en")], False),
    ("invalid JSON arguments", [exp("get_weather", city=["Paris"])], [call("get_weather", raw='{"city": "Paris"')], False),
    ("arguments not an object", [exp("get_weather", city=["Paris"])], [call("get_weather", raw='["Paris"]')], False),
    ("parallel any order", [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])],
     [call("get_weather", city="Oslo"), call("get_weather", city="Paris")], True),
    ("parallel one wrong", [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])],
     [call("get_weather", city="Oslo"), call("get_weather", city="Rome")], False),
    ("parallel needs distinct calls", [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Paris", "Oslo"])],
     [call("get_weather", city="Paris"), call("get_weather", city="Paris")], True),
    ("parallel duplicate not enough", [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])],
     [call("get_weather", city="Paris"), call("get_weather", city="Paris")], False),
    ("parallel missing call", [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])],
     [call("get_weather", city="Paris")], False),
    ("extra call", [exp("get_weather", city=["Paris"])], [call("get_weather", city="Paris"), call("search")], False),
    ("multiple functions", [exp("get_weather", city=["Paris"]), exp("search", tags=[["x"]])],
     [call("search", tags=["x"]), call("get_weather", city="Paris")], True),
    ("no call expected, none made", [], [], True),
    ("no call expected, one made", [], [call("get_weather", city="Paris")], False),
    ("call expected, none made", [exp("get_weather", city=["Paris"])], [], False),
    ("hallucinated function", [exp("get_weather", city=["Paris"])], [call("get_weather", city="Paris"), call("launch_missiles")], False),
    ("enum violation the expectation lists", [exp("get_weather", city=["Paris"], unit=["k"])], [call("get_weather", city="Paris", unit="k")], True),
    ("enum violation not expected", [exp("get_weather", city=["Paris"], unit=["c", None])], [call("get_weather", city="Paris", unit="k")], False),
    ("type violation the expectation lists", [exp("get_weather", city=["Paris"], days=["dontcare"])], [call("get_weather", city="Paris", days="dontcare")], True),
    ("required omitted, expectation says optional", [exp("get_weather", city=["Paris", None])], [call("get_weather")], False),
    ("arguments as dict", [exp("get_weather", city=["Paris"])], [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}], True),
    ("empty arguments string", [exp("search")], [call("search", raw="")], True),
    ("null counts as omitted", [exp("get_weather", city=["Paris"], unit=["c", None])], [call("get_weather", city="Paris", unit=None)], True),
    ("null for a required argument", [exp("get_weather", city=["Paris"])], [call("get_weather", city=None)], False),
    ("undeclared parameter", [exp("get_weather", city=["Paris"], country=["FR", None])], [call("get_weather", city="Paris", country="FR")], False),
]


@pytest.mark.parametrize("label,expected,actual,passes", PAIRS, ids=[p[0] for p in PAIRS])
def test_tricky_pairs(label, expected, actual, passes):
    s = score(expected, actual)
    assert s.passed is passes, (label, s.reason)
    if not passes:
        assert s.reason and s.value < 1.0


def test_at_least_forty_pairs():
    assert len(PAIRS) >= 40


def test_partial_credit_and_reasons():
    s = score([exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])], [call("get_weather", city="Paris")])
    assert s.value == 0.5 and s.reason == "expected call 2 (get_weather) not matched: get_weather: city: 'Paris' != 'Oslo'"
    s = score([exp("get_weather", city=["Paris"])], [call("get_weather", city="Paris", unit="c")])
    assert "unexpected argument unit" in s.reason
    s = score([exp("get_weather", city=["Paris"])], [call("get_weather", raw="{bad")])
    assert "not valid JSON" in s.reason


def test_ordered_option():
    e = [exp("get_weather", city=["Paris"]), exp("get_weather", city=["Oslo"])]
    a = [call("get_weather", city="Oslo"), call("get_weather", city="Paris")]
    assert score(e, a).passed and not score(e, a, ordered=True).passed
    assert score(e, list(reversed(a)), ordered=True).passed


def test_exact_strings_option():
    e = [exp("get_weather", city=["Paris"])]
    assert not score(e, [call("get_weather", city="paris")], normalise_strings=False).passed


def test_without_expectations_schema_is_checked():
    assert score(None, [call("get_weather", city="Paris")]).passed
    assert not score(None, [call("get_weather", city=5)]).passed
    assert not score(None, [call("nope")]).passed
    assert not score(None, []).passed


def test_schema_check_can_be_disabled():
    e = [exp("get_weather", city=["Paris"], unit=["k"])]
    assert score(e, [call("get_weather", city="Paris", unit="k")], check_schema=False).reason == "all 1 call(s) match"


def test_expectation_overrides_schema_with_a_warning():
    s = score([exp("get_weather", city=["Paris"], unit=["k"])], [call("get_weather", city="Paris", unit="k")])
    assert s.passed and s.reason == ("all 1 call(s) match; warning: the expectation overrides the tool schema: "
                                     "get_weather: unit: 'k' is not one of ['c', 'f']")
    assert s.metadata == {"calls": 1, "schema_valid": False,
                          "schema_warnings": ["get_weather: unit: 'k' is not one of ['c', 'f']"]}
    assert not run({"type": "schema_valid"}, [call("get_weather", city="Paris", unit="k")]).passed


def run(spec, calls, tools=TOOLS):
    return bind(ScorerSpec.model_validate(spec)).score_sync(Sample(case_id="c", output="", tool_calls=calls, tools=tools))


def test_schema_valid_scorer():
    assert run({"type": "schema_valid"}, [call("get_weather", city="Paris")]).passed
    assert run({"type": "schema_valid"}, []).passed
    s = run({"type": "schema_valid"}, [call("get_weather", city="Paris"), call("get_weather", days=2)])
    assert not s.passed and s.value == 0.5 and "city" in s.reason
    assert not run({"type": "schema_valid"}, [call("get_weather", city="P")], tools=None).passed


TRIP = [call("search_flights"), call("book_flight", flight_id="DY2"), call("send_email")]


@pytest.mark.parametrize("spec,calls,passes", [
    ({"order": "strict"}, TRIP, True),
    ({"order": "strict"}, [TRIP[1], TRIP[0], TRIP[2]], False),
    ({"order": "strict"}, TRIP + [call("log")], False),
    ({"order": "strict", "allow_extra": True}, [TRIP[0], call("log"), TRIP[1], TRIP[2]], True),
    ({"order": "strict", "allow_extra": True}, [TRIP[1], TRIP[0], TRIP[2]], False),
    ({"order": "unordered"}, [TRIP[2], TRIP[0], TRIP[1]], True),
    ({"order": "unordered"}, TRIP[:2], False),
    ({"order": "unordered"}, TRIP + [call("log")], False),
    ({"order": "unordered", "allow_extra": True}, TRIP + [call("log")], True),
    ({"order": "subset"}, [TRIP[2], TRIP[0], TRIP[1], TRIP[1]], True),
    ({"order": "subset"}, TRIP + [call("log")], False),
    ({"order": "subset", "allow_extra": True}, TRIP + [call("log")], True),
    ({"order": "subset"}, TRIP[:2], False),
    ({"order": "strict"}, [], False),
])
def test_trajectory(spec, calls, passes):
    s = run({"type": "trajectory", "expected": ["search_flights", "book_flight", "send_email"], **spec}, calls)
    assert s.passed is passes, s.reason
    assert (s.value == 1.0) is passes


def test_tool_args():
    spec = {"type": "tool_args", "call": "book_flight", "arguments": {"flight_id": "DY2"}}
    assert run(spec, TRIP).passed
    assert not run(spec, [call("book_flight", flight_id="SK1")]).passed
    assert "never called" in run(spec, [call("search_flights")]).reason
    two = [call("book_flight", flight_id="SK1"), call("book_flight", flight_id="DY2")]
    assert run(spec, two).passed and run({**spec, "which": "last"}, two).passed
    assert not run({**spec, "which": "first"}, two).passed
