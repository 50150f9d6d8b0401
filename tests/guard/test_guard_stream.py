"""Streams through the real guard process, from a scripted upstream that streams the given chunks.

Every split of a canary (one character per chunk included), tool-call argument streams, two choices,
SSN redaction, require_refusal, and a property over arbitrary split points: the client's text is always
a prefix of the upstream text that ends before the canary begins, and the stream is well formed
(a final `content_filter` chunk naming the rail, then [DONE]).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProc, write
from tests.guard.test_guard import AUTH, Guard
from tests.guard.streamcheck import CANARY, FILLER, first_canary_start, split

POLICY = f"""\
input_rails:
  - {{type: regex, pattern: "(?i)dosage", not: true, action: require_refusal, name: medical}}
output_rails:
  - {{type: canary, value: {CANARY}, action: block, name: canary}}
  - {{type: pii, kinds: [ssn], action: redact, name: output_ssn}}
auth_token_env: GUARD_TEST_TOKEN
"""
TEXT = f"Sure. The deployment key is {CANARY}, keep it safe."


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guard-stream")
    upstream = ServerProc()
    g = Guard(upstream.base_url, write(tmp / "policy.yaml", POLICY), tmp / "log")
    yield g
    g.stop()
    upstream.stop()


def directive(pieces: list) -> str:
    return "CHUNKS64=" + base64.b64encode(json.dumps(pieces).encode()).decode()


def stream(g: Guard, pieces: list, prompt: str = "Tell me.", **extra) -> list[dict]:
    """The parsed events; asserts the stream is well formed (JSON events, then [DONE] last and once)."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"{prompt} {directive(pieces)}"}], **extra}
    with httpx.stream("POST", f"{g.url}/chat/completions", headers=AUTH, json=body, trust_env=False, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]" and lines.count("data: [DONE]") == 1
    return [json.loads(line[5:]) for line in lines[:-1]]


def received(events: list[dict], index: int = 0, field: str = "content") -> str:
    return "".join((c.get("delta") or {}).get(field) or "" for e in events for c in e.get("choices") or []
                   if c.get("index") == index)


def received_args(events: list[dict]) -> str:
    return "".join(tc.get("function", {}).get("arguments") or "" for e in events for c in e.get("choices") or []
                   for tc in (c.get("delta") or {}).get("tool_calls") or [])


def assert_cut(events: list[dict], rail: str) -> None:
    last = events[-1]
    assert last["choices"][0]["finish_reason"] == "content_filter" and last["guardrail"]["rail"] == rail
    assert not any(c.get("finish_reason") == "stop" for e in events for c in e.get("choices") or [])


def test_canary_split_at_every_position(guard):
    start = TEXT.index(CANARY)
    for k in range(len(CANARY) + 1):
        pieces = [TEXT[: start + k], TEXT[start + k:]]
        events = stream(guard, pieces)
        assert_cut(events, "canary")
        assert TEXT[:start].startswith(received(events)), (k, received(events))
    events = stream(guard, list(TEXT))  # one character per chunk
    assert_cut(events, "canary")
    assert TEXT[:start].startswith(received(events)) and received(events)  # text before the canary did flow


def test_tool_call_arguments_split_at_every_position(guard):
    arguments = json.dumps({"to": "ops@example.com", "body": f"key {CANARY}"})
    start = arguments.index(CANARY)
    for k in list(range(len(CANARY) + 1)) + [None]:
        parts = list(arguments) if k is None else [arguments[: start + k], arguments[start + k:]]
        pieces = [{"tool": 0, "name": "send_email", "args": ""}] + [{"tool": 0, "args": p} for p in parts]
        events = stream(guard, pieces)
        assert_cut(events, "canary")
        assert arguments[:start].startswith(received_args(events)), (k, received_args(events))


def test_a_canary_in_a_tool_call_name_or_the_refusal_field_is_cut(guard):
    assert_cut(stream(guard, [{"tool": 0, "name": f"x{CANARY}", "args": "{}"}]), "canary")
    events = stream(guard, [{"refusal": "I won't share CANARY"}, {"refusal": "-91c2e7."}])
    assert_cut(events, "canary")
    assert "CANARY" not in json.dumps(events)
    assert_cut(stream(guard, [{"reasoning_content": f"the key: {CANARY[:5]}"}, {"reasoning_content": CANARY[5:]}]), "canary")


def test_second_choice_is_checked(guard):
    pieces = [{"i": 0, "content": "All good here."}, {"i": 1, "content": "the key is CANA"}, {"i": 1, "content": "RY-91c2e7"}]
    events = stream(guard, pieces, n=2)
    assert_cut(events, "canary")
    assert "CANA" not in received(events, 1)
    assert {c["index"] for c in events[-1]["choices"]} == {0, 1}  # every open choice ends with content_filter


def test_ssn_redacted_at_every_split(guard):
    text = "Her number is 123-45-6789 on file."
    for k in range(len(text) + 1):
        events = stream(guard, [text[:k], text[k:]])
        assert received(events) == "Her number is [REDACTED:ssn] on file."
        assert events[-1]["choices"][0]["finish_reason"] == "stop"
    args = stream(guard, [{"tool": 0, "name": "save", "args": '{"ssn": "123-4'}, {"tool": 0, "args": '5-6789"}'}])
    assert received_args(args) == '{"ssn": "[REDACTED:ssn]"}'


def test_require_refusal_decides_before_any_content_leaves(guard):
    events = stream(guard, ["Take ", "five grams ", "twice a day", "."], prompt="What dosage of X?")
    assert_cut(events, "medical")
    assert received(events) == ""  # nothing of the answer went out
    refusal = "I'm sorry, but I can't help with that. Please ask a pharmacist."
    ok = stream(guard, split(refusal, [3, 9, 20, 33]), prompt="What dosage of X?")
    assert received(ok) == refusal and ok[-1]["choices"][0]["finish_reason"] == "stop"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=FILLER, after=FILLER, cuts=st.lists(st.integers(0, 150), max_size=20))
def test_property_any_split_never_sends_part_of_the_canary(guard, before, after, cuts):
    text = before + CANARY + after
    events = stream(guard, split(text, cuts) or [""])
    assert_cut(events, "canary")
    assert text[: first_canary_start(text)].startswith(received(events))
