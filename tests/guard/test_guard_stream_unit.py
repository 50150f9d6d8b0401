"""The stream hold-back on its own (StreamGuard, no server): every split of an answer, property-based.

The oracle is independent of the implementation: the client's text must always be a prefix of what
the guard would send for the whole answer at once (the answer itself, or its redacted form), and never
reach into a match: for a canary, the received text ends before the first place where the canary
begins (verbatim or in the canary scorer's obfuscated form).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evalharness.guard.policy import load_policy
from evalharness.guard.stream import Cut, StreamGuard
from tests.conftest import write
from tests.guard.streamcheck import CANARY, FILLER, first_canary_start, split

POLICY = f"""\
output_rails:
  - {{type: canary, value: {CANARY}, action: block, name: canary}}
  - {{type: pii, kinds: [ssn], action: redact, name: ssn}}
  - {{type: pii, kinds: [email], action: redact, name: email}}
  - {{type: regex, pattern: "(?i)pipe bomb", not: true, action: block, name: weapons}}
  - {{type: regex, pattern: "(?i)secret plan.*revealed", not: true, action: block, name: unbounded}}
stream_max_hold_chars: 400
"""


def _policy(tmp_path_factory, text: str):
    return load_policy(write(tmp_path_factory.mktemp("p") / "policy.yaml", text))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return _policy(tmp_path_factory, POLICY)


# One rail family at a time, so that no other rail's hold-back hides a fault in this one's.
@pytest.fixture(scope="module")
def canary_only(tmp_path_factory):
    return _policy(tmp_path_factory, f"output_rails:\n  - {{type: canary, value: {CANARY}, action: block, name: canary}}\n")


@pytest.fixture(scope="module")
def ssn_only(tmp_path_factory):
    return _policy(tmp_path_factory, "output_rails:\n  - {type: pii, kinds: [ssn], action: redact, name: ssn}\n")


@pytest.fixture(scope="module")
def email_only(tmp_path_factory):
    return _policy(tmp_path_factory, "output_rails:\n  - {type: pii, kinds: [email], action: redact, name: email}\n")


@pytest.fixture(scope="module")
def contains_only(tmp_path_factory):
    return _policy(tmp_path_factory, "output_rails:\n  - {type: contains, value: top secret, not: true, action: block, name: words}\n")


@pytest.fixture(scope="module")
def schema_only(tmp_path_factory):
    return _policy(tmp_path_factory, "output_rails:\n"
                   "  - {type: json_schema, schema: {type: object, required: [answer]}, action: block, name: shape}\n")


SHORT = "Q-7!"  # too short for the obfuscated form: matched verbatim only


@pytest.fixture(scope="module")
def short_canary(tmp_path_factory):
    return _policy(tmp_path_factory, f"output_rails:\n  - {{type: canary, value: '{SHORT}', action: block, name: short}}\n")


@pytest.fixture(scope="module")
def bounded_only(tmp_path_factory):
    return _policy(tmp_path_factory, 'output_rails:\n  - {type: regex, pattern: "(?i)pipe bomb", not: true, action: block, name: weapons}\n')


def run(loaded, pieces: list[dict | str], must_refuse=None) -> tuple[list[dict], Cut | None]:
    """Feeds content pieces (or raw deltas) as upstream chunks; returns the chunks sent and the cut, if any."""
    sg = StreamGuard(loaded.output_rails, loaded.policy, must_refuse)
    sent: list[dict] = []
    try:
        for p in pieces:
            delta = {"content": p} if isinstance(p, str) else p
            sent += sg.feed({"id": "x", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        sent += sg.feed({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        sent += sg.finish()
    except Cut as c:
        return sent, c
    return sent, None


def content(chunks: list[dict], index: int = 0) -> str:
    return "".join((c.get("delta") or {}).get("content") or "" for ch in chunks for c in ch["choices"] if c["index"] == index)


def args(chunks: list[dict]) -> str:
    return "".join(tc.get("function", {}).get("arguments") or "" for ch in chunks for c in ch["choices"]
                   for tc in (c.get("delta") or {}).get("tool_calls") or [])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, sep=st.sampled_from(["", "-", " ", ". ", "_"]), cuts=st.lists(st.integers(0, 200), max_size=30))
@example(before="the key is ", after=" ok", sep="", cuts=list(range(40)))  # one character per chunk
@pytest.mark.parametrize("policy", ["canary_only", "loaded"])
def test_canary_never_partly_sent(request, policy, before, after, sep, cuts):
    secret = CANARY if sep == "" else sep.join(CANARY.replace("-", ""))  # verbatim, or spelled out with separators
    text = before + secret + after
    sent, cut = run(request.getfixturevalue(policy), split(text, cuts))
    received = content(sent)
    start = first_canary_start(text)
    assert start is not None and cut is not None and cut.name == "canary"
    assert text[:start].startswith(received), (received, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, cuts=st.lists(st.integers(0, 150), max_size=25))
def test_short_canary_never_partly_sent(short_canary, before, after, cuts):
    text = before + SHORT + after
    sent, cut = run(short_canary, split(text, cuts))
    assert cut is not None and text[: text.index(SHORT)].startswith(content(sent))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, gap=st.text(alphabet=" \n\t", min_size=1, max_size=20), cuts=st.lists(st.integers(0, 150), max_size=25))
def test_contains_deny_list_never_partly_sent(contains_only, before, after, gap, cuts):
    # `contains` ignores case and collapses whitespace: "TOP <any spaces> Secret" matches too.
    text = before + " TOP" + gap + "Secret " + after
    sent, cut = run(contains_only, split(text, cuts))
    assert cut is not None and text[: text.index(" TOP") + 1].startswith(content(sent))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, ssn=st.sampled_from(["123-45-6789", "234-56-7890"]), cuts=st.lists(st.integers(0, 200), max_size=30))
def test_ssn_redacted_whatever_the_split(ssn_only, before, after, ssn, cuts):
    text = before + " " + ssn + " " + after
    rail = ssn_only.output_rails[0]
    expected = rail.redact(text)
    sg = StreamGuard(ssn_only.output_rails, ssn_only.policy)
    received = ""
    for piece in split(text, cuts):
        received += content(sg.feed({"choices": [{"index": 0, "delta": {"content": piece}}]}))
        assert expected.startswith(received)  # at every step: no digit of the SSN before its redaction
        assert not re.search(r"\d", received)
    received += content(sg.finish())
    assert received == expected and ssn not in received


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, local=st.from_regex(r"[a-z][a-z0-9._+-]{0,30}", fullmatch=True),
       cuts=st.lists(st.integers(0, 200), max_size=30))
def test_email_of_any_length_redacted_whatever_the_split(email_only, before, after, local, cuts):
    email = f"{local}x@mail.example.org"
    text = before + " " + email + " " + after
    rail = email_only.output_rails[0]
    expected = rail.redact(text)
    sg = StreamGuard(email_only.output_rails, email_only.policy)
    received = ""
    for piece in split(text, cuts):
        received += content(sg.feed({"choices": [{"index": 0, "delta": {"content": piece}}]}))
        assert expected.startswith(received)
    received += content(sg.finish())
    assert received == expected and "@" not in received


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, cuts=st.lists(st.integers(0, 120), max_size=25))
def test_tool_call_arguments_are_held_back_like_content(canary_only, before, cuts):
    arguments = json.dumps({"note": before, "key": CANARY})
    deltas = [{"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "send", "arguments": ""}}]}]
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in split(arguments, cuts)]
    sent, cut = run(canary_only, deltas)
    assert cut is not None and cut.name == "canary"
    assert arguments[: first_canary_start(arguments)].startswith(args(sent))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=FILLER, cuts=st.lists(st.integers(0, 100), max_size=20))
def test_clean_text_is_released_whole_and_in_order(loaded, text, cuts):
    sent, cut = run(loaded, split(text, cuts))
    assert cut is None and content(sent) == text
    assert sent[-1]["choices"][0]["finish_reason"] == "stop"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, cuts=st.lists(st.integers(0, 150), max_size=25))
def test_bounded_regex_match_never_partly_sent(bounded_only, before, after, cuts):
    # `(?i)pipe bomb` matches at most 9 characters: 8 are held back (the regex's own width).
    text = before + "Pipe Bomb" + after
    sent, cut = run(bounded_only, split(text, cuts))
    assert cut is not None and cut.name == "weapons"
    assert text[: re.search(r"(?i)pipe bomb", text).start()].startswith(content(sent))


def test_unbounded_regex_is_held_to_sentence_ends(loaded):
    # `secret plan.*revealed` has no longest match: text goes out a sentence at a time, checked first.
    sent, cut = run(loaded, ["Intro line.\n", "The secret plan ", "is now ", "revealed", " fully."])
    assert cut is not None and cut.name == "unbounded"
    assert content(sent) == "Intro line.\n"


def test_two_choices_are_held_apart(loaded):
    sg = StreamGuard(loaded.output_rails, loaded.policy)
    out = []
    with pytest.raises(Cut):
        for i, piece in [(0, "fine answer. "), (1, "CANARY"), (0, "more text here. "), (1, "-91c2e7")]:
            out += sg.feed({"choices": [{"index": i, "delta": {"content": piece}}]})
        sg.finish()
    # choice 0 flowed (less the canary hold-back) while choice 1 was held
    assert content(out, 0).startswith("fine answer. m") and "fine answer. more text here. ".startswith(content(out, 0))
    assert "CANARY" not in content(out, 1) and "C" not in content(out, 1)


def test_hold_limit_fails_closed(loaded):
    # No sentence end for 400+ characters while an unbounded regex rail is active: cut, never released.
    sent, cut = run(loaded, ["x" * 50] * 10)
    assert cut is not None and "stream_max_hold_chars" in cut.detail and content(sent) == ""


def test_answer_rails_judge_the_whole_content_only(schema_only):
    # A rail that judges an answer (json_schema) holds the content to the end and ignores reasoning text.
    pieces = [{"reasoning_content": "Let me think. "}, '{"ans', 'wer": 42', "}"]
    sg = StreamGuard(schema_only.output_rails, schema_only.policy)
    early = []
    for p in pieces:
        early += sg.feed({"choices": [{"index": 0, "delta": {"content": p} if isinstance(p, str) else p}]})
    assert content(early) == ""  # held: the shape is only known at the end
    rest = sg.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    assert content(rest) == '{"answer": 42}'
    sent, cut = run(schema_only, ['{"question": ', "1}"])
    assert cut is not None and cut.name == "shape" and content(sent) == ""


def test_anchored_regex_sees_the_whole_text(tmp_path):
    # `^Sure` trips only on an answer that starts with it: a window must not make a later word a start.
    policy = _policy_at(tmp_path, 'output_rails:\n  - {type: regex, pattern: "^Sure", not: true, action: block, name: opener}\n')
    text = "Hi. " + "Sure " * 100
    sent, cut = run(policy, split(text, list(range(0, len(text), 7))))
    assert cut is None and content(sent) == text
    sent, cut = run(policy, split("Sure, here it is. " * 3, [4, 9]))
    assert cut is not None and cut.name == "opener" and content(sent) == ""


def _policy_at(tmp_path, text: str):
    return load_policy(write(tmp_path / "policy.yaml", text))
