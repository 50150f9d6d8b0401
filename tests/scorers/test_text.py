import pytest

from evalharness.scorers.base import Sample, UnknownScorer, get_scorer
from evalharness.scorers.bind import bind
from evalharness.suite.model import ScorerSpec


def run(spec: dict, output: str, **sample):
    return bind(ScorerSpec.model_validate(spec)).score_sync(Sample(case_id="c", output=output, **sample))


@pytest.mark.parametrize("out,expected,ok", [
    ("Paris", "Paris", True),
    ("  paris \n", "Paris", True),
    ("Paris.", "Paris", False),
    ("Lyon", "Paris", False),
    ("Rome", ["Paris", "Rome"], True),
])
def test_exact(out, expected, ok):
    assert run({"type": "exact"}, out, expected=expected).passed is ok


def test_exact_punctuation_and_case_options():
    assert run({"type": "exact", "ignore_punctuation": True}, "Paris!", expected="paris").passed
    assert not run({"type": "exact", "ignore_case": False}, "paris", expected="Paris").passed


def test_exact_without_reference_fails_with_reason():
    s = run({"type": "exact"}, "anything")
    assert not s.passed and "no reference" in s.reason


def test_contains_family():
    assert run({"type": "contains"}, "The capital is Paris.", expected="paris").passed
    assert not run({"type": "contains"}, "The capital is Lyon.", expected="Paris").passed
    assert run({"type": "contains", "value": "lyon"}, "Lyon", expected="Paris").passed
    assert run({"type": "contains_any", "values": ["x", "lyon"]}, "Lyon").passed
    assert not run({"type": "contains_any", "values": ["q", "z"]}, "Lyon").passed
    s = run({"type": "contains_all", "values": ["a", "b", "zz", "qq"]}, "a b")
    assert not s.passed and s.value == pytest.approx(0.5) and "zz" in s.reason
    assert run({"type": "contains_all", "values": ["a", "b"]}, "b then a").passed


def test_regex():
    assert run({"type": "regex", "pattern": r"\d{3}-\d{4}"}, "call 555-1234").passed
    assert not run({"type": "regex", "pattern": r"^yes$"}, "yes indeed").passed
    assert run({"type": "regex", "pattern": "YES", "ignore_case": True}, "yes").passed
    assert run({"type": "regex", "pattern": "yes", "fullmatch": True}, " yes ").passed
    assert not run({"type": "regex", "pattern": "yes", "fullmatch": True}, "yes!").passed


def test_regex_invalid_pattern_is_a_config_error():
    with pytest.raises(Exception, match="invalid regex"):
        bind(ScorerSpec.model_validate({"type": "regex", "pattern": "("}))


@pytest.mark.parametrize("out,want,ok", [
    ("B", "B", True),
    ("The answer is C.", "C", True),
    ("Answer: (D)", "D", True),
    ("b) Mars", "B", True),
    ("I think A is wrong; the answer is B", "B", True),
    ("Mars", "B", False),
    ("A", "B", False),
])
def test_choice(out, want, ok):
    assert run({"type": "choice"}, out, expected=want).passed is ok


@pytest.mark.parametrize("out,want,ok", [
    ("42", 42, True),
    ("The result is 1,234.5", 1234.5, True),
    ("First 3 then 7", 7, True),
    ("so x = -4", -4, True),
    ("#### 18\nsomething 3", 18, True),
    ("no digits here", 5, False),
    ("41", 42, False),
])
def test_numeric(out, want, ok):
    assert run({"type": "numeric"}, out, expected=want).passed is ok


def test_numeric_tolerance():
    assert run({"type": "numeric", "abs_tol": 0.1}, "3.14", expected=3.1).passed
    assert run({"type": "numeric", "rel_tol": 0.01}, "1005", expected=1000).passed
    assert not run({"type": "numeric", "rel_tol": 0.001}, "1005", expected=1000).passed


def test_length():
    assert run({"type": "length", "max": 5}, "abc").passed
    assert not run({"type": "length", "min": 5}, "abc").passed
    assert run({"type": "length", "min": 0}, "").passed  # 0 is a bound
    with pytest.raises(Exception, match="min"):
        bind(ScorerSpec.model_validate({"type": "length"}))


def test_threshold_zero_is_a_threshold_and_negation():
    s = run({"type": "contains_all", "values": ["a", "zz"], "threshold": 0.5}, "a")
    assert s.passed and "threshold 0.5" in s.reason
    s0 = run({"type": "contains_all", "values": ["zz"], "threshold": 0}, "a")
    assert s0.value == 0.0 and s0.passed  # threshold 0: any score passes
    neg = run({"type": "contains", "value": "bomb", "not": True}, "no weapons here")
    assert neg.passed and neg.value == 1.0
    assert not run({"type": "contains", "value": "bomb", "not": True}, "a bomb").passed


def test_unknown_scorer_suggests():
    with pytest.raises(UnknownScorer, match="did you mean 'contains'"):
        get_scorer("contain")
