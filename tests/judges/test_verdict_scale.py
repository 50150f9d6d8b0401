"""Issue 20: the verdict schema sent to a judge keeps it on the scale (an enum the grammar converter enforces,
bounded strings and lists), and the parse side still refuses a verdict off the scale."""

import asyncio
import importlib.util
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalharness.judges.client import MAX_CHARS, Judge, JudgeServices, constrain_schema, parse_verdict
from evalharness.judges.config import JudgeConfig
from evalharness.scorers import judged
from evalharness.scorers.base import Sample
from evalharness.scorers.judged import (
    CLAIMS_SCHEMA, AnswerRelevancyVerdict, ClaimsVerdict, ContextRelevancyVerdict, FaithfulnessVerdict, PairwiseVerdict,
    RefusalVerdict, RubricArgs, RubricVerdict, _one_per, rubric,
)

VERDICTS = [RubricVerdict, ClaimsVerdict, FaithfulnessVerdict, AnswerRelevancyVerdict, ContextRelevancyVerdict,
            PairwiseVerdict, RefusalVerdict]


class _Scripted:
    """A judge endpoint answering `reply` and keeping every request body."""

    def __init__(self, reply: str):
        self.reply, self.bodies = reply, []

    async def __call__(self, body, repeat):
        self.bodies.append(body)

        class C:
            output, error, cached, input_tokens, output_tokens, finish_reason, extra = (
                self.reply, None, False, 10, 5, "stop", None)
        return C()


def _rubric_schema(lo: int, hi: int) -> dict:
    s = RubricVerdict.model_json_schema()
    s["properties"]["score"].update(minimum=lo, maximum=hi)
    return constrain_schema(s)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.mark.parametrize("style", ["json_object", "json_schema"])
def test_rubric_sends_the_scale_as_an_enum_and_refuses_a_score_off_it(style):
    complete = _Scripted('{"reasoning": "great", "score": 10}')
    services = JudgeServices({"default": Judge("default", JudgeConfig(response_format=style), "m", complete)})
    fn = rubric(RubricArgs(criteria="correct", use_logprobs=False))
    result = asyncio.run(fn(Sample(case_id="c", output="Paris", messages=[{"role": "user", "content": "Capital?"}],
                                   services=services)))
    assert not result.passed and result.value == 0.0
    assert "outside the scale 1-5" in result.metadata["judge_error"]
    fmt = complete.bodies[0]["response_format"]
    schema = fmt["schema"] if style == "json_object" else fmt["json_schema"]["schema"]
    assert schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert schema["properties"]["reasoning"]["maxLength"] <= MAX_CHARS
    assert services.judge("default").stats.errors == 1


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(-50, 50), span=st.integers(1, 100), value=st.integers(-200, 200))
def test_any_small_scale_is_an_enum_and_the_parse_side_agrees(lo, span, value):
    hi = lo + span
    schema = _rubric_schema(lo, hi)
    assert schema["properties"]["score"]["enum"] == list(range(lo, hi + 1))
    v, err = parse_verdict(json.dumps({"reasoning": "r", "score": value}), RubricVerdict, "stop", schema)
    if lo <= value <= hi:
        assert err is None and v.score == value
    else:
        assert v is None and f"outside the scale {lo}-{hi}" in err


def test_a_boolean_is_not_a_score_and_labels_stay_labels():
    schema = _rubric_schema(0, 1)
    v, err = parse_verdict('{"reasoning": "r", "score": true}', RubricVerdict, "stop", schema)
    assert v is None and "outside the scale" in err
    v, err = parse_verdict('{"refusal": "maybe", "reason": "r"}', RefusalVerdict, "stop",
                           constrain_schema(RefusalVerdict.model_json_schema()))
    assert v is None and "outside the scale" in err and "full" in err


def test_a_huge_scale_does_not_become_a_huge_enum():
    schema = _rubric_schema(0, 10**9)  # untrusted suite input: no billion-item enum, no crash
    score = schema["properties"]["score"]
    assert "enum" not in score and (score["minimum"], score["maximum"]) == (0, 10**9)


@pytest.mark.parametrize("model", VERDICTS, ids=lambda m: m.__name__)
def test_every_string_and_list_a_judge_may_write_is_bounded(model):
    schema = constrain_schema(model.model_json_schema())
    for node in _walk(schema):
        if node.get("type") == "string" and "enum" not in node:
            assert 0 < node["maxLength"] <= MAX_CHARS, node
        if node.get("type") == "array":
            assert node["maxItems"] <= 32, node
        if node.get("type") == "integer" and "minimum" in node:
            assert "enum" in node


def test_per_call_schemas_fix_the_number_of_entries():
    for n in (1, 3, 40):  # one verdict per claim or passage, even past the default list cap
        s = constrain_schema(_one_per(FaithfulnessVerdict, n))
        assert (s["properties"]["verdicts"]["minItems"], s["properties"]["verdicts"]["maxItems"]) == (n, n)
        c = constrain_schema(_one_per(ContextRelevancyVerdict, n))
        assert c["$defs"]["PassageVerdict"]["properties"]["index"]["enum"] == list(range(1, n + 1))
    claims = constrain_schema(CLAIMS_SCHEMA)["properties"]["claims"]
    assert claims["maxItems"] * claims["items"]["maxLength"] <= 400  # fits max_tokens 512 even at a token a character


def test_constrain_schema_copies_and_is_idempotent():
    original = RubricVerdict.model_json_schema()
    before = json.dumps(original, sort_keys=True)
    once = constrain_schema(original)
    assert json.dumps(original, sort_keys=True) == before
    assert constrain_schema(once) == once


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed")
@settings(max_examples=25, deadline=None)
@given(lo=st.integers(0, 20), span=st.integers(1, 20))
def test_llama_cpp_grammar_allows_only_the_scale(lo, span):
    """What llama-cpp-python's converter (the embedded server's) makes of the schema: the score rule is the
    list of the scale's integers, nothing else (`minimum`/`maximum` alone would give any integer)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(_rubric_schema(lo, lo + span)))
    rule = next(line for line in gbnf.splitlines() if line.startswith("score ::="))
    alternatives = [a.strip().strip('"') for a in rule.split("::=", 1)[1].split("|")]
    assert alternatives == [str(i) for i in range(lo, lo + span + 1)]
    reasoning = next(line for line in gbnf.splitlines() if line.startswith("reasoning ::="))
    assert reasoning.count("char") == MAX_CHARS  # a bounded string: at most MAX_CHARS characters


def test_faithfulness_asks_for_exactly_one_verdict_per_claim():
    replies = iter(['{"claims": ["Paris is in France.", "Paris has 2 million people."]}',
                    '{"verdicts": [{"claim": "Paris is in France.", "verdict": "yes", "reason": "stated"}, '
                    '{"claim": "Paris has 2 million people.", "verdict": "idk", "reason": "not said"}]}'])
    bodies = []

    async def complete(body, repeat):
        bodies.append(body)

        class C:
            output, error, cached, input_tokens, output_tokens, finish_reason, extra = (
                next(replies), None, False, 10, 5, "stop", None)
        return C()

    services = JudgeServices({"default": Judge("default", JudgeConfig(response_format="json_object"), "m", complete)})
    fn = judged.faithfulness(judged.JudgeArgs())
    result = asyncio.run(fn(Sample(case_id="c", output="Paris is in France and has 2 million people.",
                                   messages=[{"role": "user", "content": "Tell me about Paris."}],
                                   context=["Paris is the capital of France."], services=services)))
    assert result.value == 0.5 and result.metadata.get("judge_error") is None
    claims_schema, verdicts_schema = (b["response_format"]["schema"] for b in bodies)
    assert claims_schema["properties"]["claims"]["maxItems"] == 6
    v = verdicts_schema["properties"]["verdicts"]
    assert (v["minItems"], v["maxItems"]) == (2, 2)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed")
@pytest.mark.parametrize("schema", [constrain_schema(m.model_json_schema()) for m in VERDICTS]
                         + [constrain_schema(CLAIMS_SCHEMA), constrain_schema(_one_per(FaithfulnessVerdict, 3)),
                            constrain_schema(_one_per(ContextRelevancyVerdict, 3)), _rubric_schema(1, 5)],
                         ids=lambda s: s.get("title", "schema"))
def test_every_schema_sent_converts_to_a_grammar(schema):
    """llama-cpp-python falls back to free JSON, silently, when its converter raises on a schema: each schema a
    judge is sent must convert, and its lists and enums must be in the grammar."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    assert "root ::=" in gbnf
    if "verdicts" in schema.get("properties", {}) and "minItems" in schema["properties"]["verdicts"]:
        rule = next(line for line in gbnf.splitlines() if line.startswith("verdicts ::="))
        assert rule.count("verdicts-item") == 3 and "?" not in rule  # exactly three entries


def test_a_raw_newline_inside_a_string_still_parses():
    """llama-cpp-python's grammar `char` rule is [^"\\\\]: a raw newline may sit inside a string. Such a verdict is
    the one the grammar allowed, so it parses (seen with SmolLM2 on claims.j2)."""
    v, err = parse_verdict('{"claims": ["Milan is\\nthe capital", "b"]}'.replace("\\n", "\n"), ClaimsVerdict, "stop")
    assert err is None and v.claims == ["Milan is\nthe capital", "b"]
    v, err = parse_verdict('{"claims": ["a"', ClaimsVerdict, "length")
    assert v is None and err.startswith("truncated verdict")


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_a_list_verdict_fits_max_tokens_even_one_token_a_character(n):
    """Smol once wrote 10 claims of digits (a token a character) and hit max_tokens: the strings of a list
    verdict are bounded in all, not only each."""
    from evalharness.scorers.judged import RELEVANCY_SCHEMA, STRING_BUDGET

    s = constrain_schema(_one_per(FaithfulnessVerdict, n))
    entry = s["$defs"]["ClaimVerdict"]["properties"]
    assert n * (entry["claim"]["maxLength"] + entry["reason"]["maxLength"]) <= max(STRING_BUDGET, n * 16)
    rel = constrain_schema(RELEVANCY_SCHEMA)
    assert rel["properties"]["statements"]["maxItems"] * rel["$defs"]["Statement"]["properties"]["statement"]["maxLength"] <= 300
