"""Property-based fuzzing of endpoint answers through the real client, writer and gate.

Hypothesis puts arbitrary JSON (and deletions, raw bytes, invalid UTF-8, huge numbers, NaN, deep
nesting) into every field of a valid response and of valid stream chunks. Each example is one batch
of bodies: the fuzz server serves them, one CLI run (a real process) asks for them, one case each.
A small reference checker below says, from the documented rules in evalharness/engine/response.py
and independently of its pydantic models, which bodies must be recorded as errors.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness.engine.response import MAX_DEPTH
from tests.conftest import run_cli
from tests.fixtures.fuzz_server import FuzzServer

MAX_TOKENS = 2**53 - 1
BATCH = 50
CALL = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
RESPONSE = {"id": "x", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "ok", "tool_calls": [CALL]}, "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
RESPONSE_FIELDS = [(), ("choices",), ("choices", 0), ("choices", 0, "message"), ("choices", 0, "message", "content"),
                   ("choices", 0, "message", "tool_calls"), ("choices", 0, "message", "tool_calls", 0),
                   ("choices", 0, "message", "tool_calls", 0, "function"),
                   ("choices", 0, "message", "tool_calls", 0, "function", "name"),
                   ("choices", 0, "message", "tool_calls", 0, "function", "arguments"),
                   ("choices", 0, "finish_reason"), ("choices", 0, "logprobs"), ("usage",), ("usage", "prompt_tokens")]
CHUNK_FIELDS = [(), ("choices",), ("choices", 0), ("choices", 0, "delta"), ("choices", 0, "delta", "content"),
                ("choices", 0, "delta", "tool_calls"), ("choices", 0, "delta", "tool_calls", 0),
                ("choices", 0, "delta", "tool_calls", 0, "index"), ("choices", 0, "delta", "tool_calls", 0, "function"),
                ("choices", 0, "delta", "tool_calls", 0, "function", "name"),
                ("choices", 0, "delta", "tool_calls", 0, "function", "arguments"),
                ("choices", 0, "finish_reason"), ("usage",), ("usage", "completion_tokens")]
DELETE = object()  # substituted "value": remove the key


def chunk(content: str, finish: str | None) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": content, "tool_calls": [CALL]}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}}


CHUNKS = [chunk("o", None), chunk("k", None), chunk("", "stop")]


def nest(depth: int):
    v: list = []
    for _ in range(depth - 1):
        v = [v]
    return v


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
           | st.sampled_from([2**53, 2**63, 2**64, 10**30, -1, 0, 1.0, "", "\ud800", "a\udfffb", "stop", "\x00"]))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["content", "name", "arguments", "index", "function", "finish_reason", "k", ""]) | st.text(max_size=3),
        inner, max_size=3),
    max_leaves=8) | st.sampled_from([nest(150), nest(MAX_DEPTH + 60)])
substitutes = json_values | st.just(DELETE)
raw_bytes = st.binary(max_size=40) | st.sampled_from([
    b"", b"null", b"[]", b"\xff\xfe", b"{", b"NaN", b"1" * 5000, b"[" * 200_000, b"[" * 100_000 + b"]" * 100_000,
    b'{"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]} trailing'])


def substituted(template, path: tuple, value):
    if not path:
        return {} if value is DELETE else value
    doc = copy.deepcopy(template)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        if isinstance(parent, dict):
            del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def encode(doc, ascii_only: bool, bad_utf8_in_content: bool) -> bytes:
    """JSON bytes: escaped or raw UTF-8 (lone surrogates then become invalid UTF-8); optionally with
    a stray byte 0xFF inside the message content (invalid UTF-8 in a string)."""
    if bad_utf8_in_content and isinstance(doc, dict):
        doc = substituted(doc, ("choices", 0, "message", "content"), "@@BAD@@") if _has_content(doc) else doc
    raw = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    return raw.replace(b"@@BAD@@", b"ok\xff")


def _has_content(doc) -> bool:
    try:
        return isinstance(doc["choices"][0]["message"], dict)
    except (KeyError, IndexError, TypeError):
        return False


@st.composite
def response_bodies(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(raw_bytes)
    doc = substituted(RESPONSE, draw(st.sampled_from(RESPONSE_FIELDS)), draw(substitutes))
    return encode(doc, draw(st.booleans()), draw(st.integers(0, 4)) == 0)


@st.composite
def chunk_lines(draw) -> list[bytes]:
    chunks: list[bytes] = [json.dumps(c).encode() for c in CHUNKS]
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(chunks) - 1))
        if draw(st.integers(0, 9)) == 0:
            chunks[i] = draw(raw_bytes)
        else:
            doc = substituted(CHUNKS[i], draw(st.sampled_from(CHUNK_FIELDS)), draw(substitutes))
            chunks[i] = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    return chunks


@st.composite
def stream_bodies(draw) -> tuple[str, bytes]:
    if draw(st.integers(0, 9)) == 0:  # a server that ignores `stream`
        return "application/json", draw(response_bodies())
    lines = draw(chunk_lines())
    body = b"".join(b"data: " + line + b"\n\n" for line in lines)
    return "text/event-stream", body + (b"data: [DONE]\n\n" if draw(st.integers(0, 4)) else b"")


# ---- the reference: which bodies must be errors (the documented rules, written out plainly) ----

class Invalid(Exception):
    pass


def need(condition) -> None:
    if not condition:
        raise Invalid


def depth(doc) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def parsed(raw: bytes):
    try:
        doc = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        raise Invalid from None
    need(depth(doc) <= MAX_DEPTH)
    return doc


def obj(v) -> dict:
    need(isinstance(v, dict))
    return v


def optional(d: dict, key: str, *types) -> None:
    need(d.get(key) is None or isinstance(d[key], types))


def items(d: dict, key: str) -> list:
    optional(d, key, list)
    return d.get(key) or []


def count(d: dict, key: str) -> None:
    v = d.get(key)
    need(v is None or (type(v) is int and 0 <= v <= MAX_TOKENS))


def check_usage(doc: dict) -> None:
    if doc.get("usage") is not None:
        usage = obj(doc["usage"])
        count(usage, "prompt_tokens")
        count(usage, "completion_tokens")


def check_response(raw: bytes) -> None:
    doc = obj(parsed(raw))
    choices = items(doc, "choices")
    need(choices)  # no choices: an error of its own
    for choice in choices:
        obj(choice)
        optional(choice, "finish_reason", str)
        if choice.get("message") is not None:
            msg = obj(choice["message"])
            optional(msg, "content", str)
            for call in items(msg, "tool_calls"):
                obj(call)
                optional(call, "id", str)
                optional(call, "type", str)
                fn = obj(call.get("function"))
                need(isinstance(fn.get("name"), str) and isinstance(fn.get("arguments"), (str, dict)))
    check_usage(doc)


def check_chunk(raw: bytes) -> bool:
    """Whether the chunk finishes the answer; Invalid when it does not fit."""
    doc = obj(parsed(raw))
    finished = False
    for choice in items(doc, "choices"):
        obj(choice)
        optional(choice, "finish_reason", str)
        finished = finished or bool(choice.get("finish_reason"))
        if choice.get("delta") is not None:
            delta = obj(choice["delta"])
            optional(delta, "content", str)
            for call in items(delta, "tool_calls"):
                obj(call)
                index = call.get("index")
                need(index is None or (type(index) is int and index >= 0))
                optional(call, "id", str)
                optional(call, "type", str)
                if call.get("function") is not None:
                    fn = obj(call["function"])
                    optional(fn, "name", str)
                    optional(fn, "arguments", str, dict)
    check_usage(doc)
    return finished


def check_stream(body: bytes) -> None:
    finished = False
    for line in body.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        finished = check_chunk(data) or finished
    need(finished)  # a stream without a finish_reason is truncated


def must_fail(ctype: str, body: bytes) -> bool:
    try:
        (check_stream if ctype == "text/event-stream" else check_response)(body)
    except Invalid:
        return True
    return False


# ---- the property ----

@pytest.fixture(scope="module")
def fuzz_server():
    s = FuzzServer()
    yield s
    s.stop()


def run_batch(server: FuzzServer, bodies: dict[str, tuple[str, bytes]], stream: bool) -> None:
    server.load(bodies)
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "fuzz.yaml"
        suite.write_text("name: fuzz\ncategory: accuracy\nscorers: [{type: regex, pattern: ''}]\ncases:\n"
                         + "".join(f"  - {{id: {k}, input: {k}}}\n" for k in bodies), encoding="utf-8")
        out = Path(tmp) / "out"
        r = run_cli("run", str(suite), "--base-url", server.base_url, "--model", "m", "--no-cache",
                    "--max-retries", "0", "--out", str(out), *(["--stream"] if stream else []))
        # exit 3 is also how an unexpected error ends (one line, error.log): status and rows tell them apart
        assert r.returncode in (0, 1, 3) and "Traceback" not in r.stderr, r.stdout + r.stderr
        assert "unexpected error" not in r.stderr, r.stderr
        (run,) = list(out.iterdir())
        assert json.loads((run / "run.json").read_text())["status"] == "complete"
        resp = pd.read_parquet(run / "responses.parquet")
        scores = pd.read_parquet(run / "scores.parquet")
    assert sorted(resp["case_id"]) == sorted(bodies)  # exactly one row per case
    errors = resp.set_index("case_id")["error"]
    for key, (ctype, body) in bodies.items():
        expected = must_fail(ctype, body)
        assert pd.notna(errors[key]) == expected, (key, ctype, body[:300], errors[key])
    failed = [k for k in bodies if pd.notna(errors[k])]
    assert not scores[scores["case_id"].isin(failed)]["passed"].any()  # an error is never a pass


FUZZ = settings(max_examples=8, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


@FUZZ
@given(st.lists(response_bodies(), min_size=BATCH, max_size=BATCH))
def test_fuzzed_responses(fuzz_server, bodies):
    run_batch(fuzz_server, {f"c{i}": ("application/json", b) for i, b in enumerate(bodies)}, stream=False)


@FUZZ
@given(st.lists(stream_bodies(), min_size=BATCH, max_size=BATCH))
def test_fuzzed_streams(fuzz_server, bodies):
    run_batch(fuzz_server, {f"c{i}": b for i, b in enumerate(bodies)}, stream=True)
