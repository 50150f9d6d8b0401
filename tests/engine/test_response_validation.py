"""The response models and JSON reading (evalharness/engine/response.py), in-process, and the
ChatClient reading canned bodies from the fuzz server (a real process on loopback)."""

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalharness.engine.cache import ResponseCache, cache_key, cached_complete
from evalharness.engine.client import ChatClient, Completion, _completion, _Fatal
from evalharness.engine.response import CHUNK, MAX_DEPTH, Malformed, parse_json, validate
from evalharness.lifecycle.configure import load_targets
from tests.conftest import write
from tests.fixtures.fuzz_server import FuzzServer

CHOICE = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
VALID = {"id": "x", "choices": [CHOICE], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def complete(doc) -> Completion:
    return _completion(parse_json(json.dumps(doc).encode(), "response"))


def error_of(doc) -> str:
    with pytest.raises(Malformed) as e:
        complete(doc)
    return str(e.value)


# ---- the named families: each a precise, one-line error ----

@pytest.mark.parametrize("doc, message", [
    ({"choices": [{**CHOICE, "finish_reason": 5}]}, "malformed response: choices[0].finish_reason: expected a string"),
    ({"choices": ["ok"]}, "malformed response: choices[0]: expected an object"),
    ({"choices": ["ok", "no"]}, "malformed response: choices[0]: expected an object (+1 more)"),
    ({**VALID, "usage": "12 tokens"}, "malformed response: usage: expected an object"),
    ({"choices": [{**CHOICE, "message": {"content": "x", "tool_calls": {"name": "f"}}}]},
     "malformed response: choices[0].message.tool_calls: expected a list"),
    ([VALID], "malformed response: top level: expected an object"),
    ({"choices": [{**CHOICE, "message": {"content": ["part"]}}]}, "malformed response: choices[0].message.content: expected a string"),
    ({**VALID, "usage": {"prompt_tokens": True}}, "malformed response: usage.prompt_tokens: expected an integer"),
    ({**VALID, "usage": {"prompt_tokens": 3.0}}, "malformed response: usage.prompt_tokens: expected an integer"),
    ({**VALID, "usage": {"completion_tokens": -1}}, "malformed response: usage.completion_tokens: must not be negative"),
    ({**VALID, "usage": {"prompt_tokens": 2**63}}, f"malformed response: usage.prompt_tokens: must be at most {2**53 - 1}"),
    ({"choices": [{**CHOICE, "message": {"tool_calls": [{"function": {"name": "f"}}]}}]},
     "malformed response: choices[0].message.tool_calls[0].function.arguments: missing"),
    ({"choices": [{**CHOICE, "message": {"tool_calls": [{"function": {"name": "f", "arguments": ["x"]}}]}}]},
     "malformed response: choices[0].message.tool_calls[0].function.arguments: expected a string"),
    ({"choices": [{**CHOICE, "message": {"tool_calls": ["f()"]}}]}, "malformed response: choices[0].message.tool_calls[0]: expected an object"),
])
def test_response_families(doc, message):
    assert error_of(doc) == message


@pytest.mark.parametrize("chunk, message", [
    ({"choices": [{"delta": {}, "finish_reason": 1}]}, "malformed stream chunk 2: choices[0].finish_reason: expected a string"),
    ({"choices": ["a"]}, "malformed stream chunk 2: choices[0]: expected an object"),
    ({"choices": [], "usage": "n/a"}, "malformed stream chunk 2: usage: expected an object"),
    ({"choices": [{"delta": {"tool_calls": {"index": 0}}}]}, "malformed stream chunk 2: choices[0].delta.tool_calls: expected a list"),
    ([{"choices": []}], "malformed stream chunk 2: top level: expected an object"),
    ({"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]},
     "malformed stream chunk 2: choices[0].delta.tool_calls[0].index: expected an integer"),
    ({"choices": [{"delta": {"tool_calls": [{"index": -1}]}}]},
     "malformed stream chunk 2: choices[0].delta.tool_calls[0].index: must not be negative"),
    ({"choices": [{"delta": {"content": 7}}]}, "malformed stream chunk 2: choices[0].delta.content: expected a string"),
])
def test_stream_chunk_families(chunk, message):
    with pytest.raises(Malformed) as e:
        validate(CHUNK, chunk, "stream chunk 2")
    assert str(e.value) == message


def test_no_choices_is_its_own_fatal_error():
    for doc in ({"id": "x", "choices": []}, {"id": "x"}, {"choices": None}):
        with pytest.raises(_Fatal, match="^response has no choices$"):
            complete(doc)


# ---- lenient where the spec and real servers are ----

def test_lenient_where_servers_are():
    c = complete({"choices": [{"message": {"content": None, "refusal": None}, "finish_reason": None, "x": 1}], "usage": None, "y": [1]})
    assert (c.output, c.finish_reason, c.input_tokens, c.tool_calls) == ("", None, None, None)
    filtered = complete({"choices": [{"finish_reason": "content_filter"}]})  # no message at all
    assert filtered.finish_reason == "content_filter" and filtered.output == ""
    calls = complete({"choices": [{**CHOICE, "message": {"tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"q": "ü"}}, "extra_content": {"sig": "s"}},
        {"function": {"name": "g", "arguments": "{}"}},
    ]}, "logprobs": {"content": [{"token": "ok", "logprob": float("nan")}]}}]})
    # arguments given as an object are serialised; unknown keys on a call are kept (they go back to the model)
    assert calls.tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"q": "ü"}'}, "extra_content": {"sig": "s"}},
        {"function": {"name": "g", "arguments": "{}"}},
    ]
    assert calls.extra["logprobs"]["content"][0]["token"] == "ok"


def test_stream_delta_without_index_starts_a_new_call():
    chunk = validate(CHUNK, {"choices": [{"delta": {"tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}}]}, "c")
    (tc,) = chunk["choices"][0]["delta"]["tool_calls"]
    assert "index" not in tc and tc["function"]["arguments"] == '{"a": 1}'


# ---- JSON ----

def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("inner", [b"", b'"\xff"'])  # invalid UTF-8 takes the standard library's path
def test_depth_limit_is_the_same_on_both_parsers(inner):
    def body(depth: int) -> bytes:
        return b"[" * depth + inner + b"]" * depth

    assert parse_json(body(MAX_DEPTH), "response") is not None
    with pytest.raises(Malformed, match=f"^malformed JSON in response: nested deeper than {MAX_DEPTH} levels$"):
        parse_json(body(MAX_DEPTH + 1), "response")


@pytest.mark.parametrize("raw", [nested(10_000), nested(1_000_000), b"[" * 1_000_000, b"{\"a\":" * 300_000])
def test_very_deep_bodies_are_malformed_not_fatal_to_the_process(raw):
    with pytest.raises(Malformed) as e:
        parse_json(raw, "response")
    assert len(str(e.value)) < 200 and "\n" not in str(e.value)


def test_json_oddities():
    assert parse_json(b'{"a": "ok\xff", "b": NaN}', "r")["a"] == "ok\ufffd"  # invalid UTF-8 replaced
    assert parse_json(b'{"a": "\\ud800x\\ud83d\\ude00"}', "r") == {"a": "\ufffdx\U0001F600"}  # lone surrogate replaced
    assert parse_json(b"123456789012345678901234567890", "r") == 123456789012345678901234567890
    for raw in (b"", b"{", b"\x00\x01", b"1" * 5000, b'{"a": 1} x', b"\xef\xbb\xbf{}"):
        with pytest.raises(Malformed, match="^malformed JSON in r: "):
            parse_json(raw, "r")
    assert error_of({"choices": [{"message": {"content": float("nan")}}]}).endswith("content: expected a string")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.just("\ud800"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["choices", "message", "content", "delta", "tool_calls", "function", "name", "arguments", "index",
         "finish_reason", "usage", "prompt_tokens", "x"]), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_json_is_a_completion_or_one_bounded_line(doc):
    raw = json.dumps(doc).encode()
    for parse in (lambda: _completion(parse_json(raw, "response")), lambda: validate(CHUNK, parse_json(raw, "c"), "c")):
        try:
            parse()
        except Malformed as e:
            assert "\n" not in str(e) and len(str(e)) <= 300
        except _Fatal as e:
            assert str(e) == "response has no choices"


# ---- the cache: a row that does not fit is a miss ----

def test_cache_rows_round_trip_and_bad_rows_are_misses():
    c = complete({**VALID, "choices": [{**CHOICE, "message": {"content": "hi", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}, "k": [1]}]}}]})
    c.latency_ms, c.ttft_ms, c.extra = 12.5, 3.0, {"turns": 2}
    back = Completion.from_cached(json.loads(json.dumps(c.cacheable())))
    assert back.cacheable() == c.cacheable() and back.cached
    for row in ([1], {"output": 5}, {**c.cacheable(), "finish_reason": 3}, {**c.cacheable(), "input_tokens": "7"},
                {**c.cacheable(), "tool_calls": "f()"}, {**c.cacheable(), "surprise": 1}):
        assert Completion.from_cached(row) is None


def test_cached_complete_asks_again_for_a_row_that_does_not_fit(tmp_path):
    class Client:
        calls = 0

        async def complete(self, body):
            Client.calls += 1
            return Completion(output="fresh", finish_reason="stop")

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cache = ResponseCache(tmp_path)
    cache.put(cache_key("base", body, 0), {"output": "old", "finish_reason": 5})  # written before responses were checked
    first = asyncio.run(cached_complete(cache, "base", Client(), body, 0))
    second = asyncio.run(cached_complete(cache, "base", Client(), body, 0))
    cache.close()
    assert (first.output, first.cached, second.output, second.cached, Client.calls) == ("fresh", False, "fresh", True, 1)


# ---- the client against canned bodies ----

@pytest.fixture(scope="module")
def fuzz_server():
    s = FuzzServer()
    yield s
    s.stop()


def ask(server, key: str, **kw) -> Completion:
    async def go():
        c = ChatClient(server.base_url, max_retries=0, **kw)
        try:
            return await c.complete({"model": "m", "messages": [{"role": "user", "content": key}]})
        finally:
            await c.aclose()

    return asyncio.run(go())


def sse(*chunks) -> bytes:
    return b"".join(b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n" for c in chunks)


def test_size_cap_is_a_constructor_argument(fuzz_server):
    body = json.dumps({"choices": [{**CHOICE, "message": {"content": "x" * 3000}}]}).encode()
    fuzz_server.load({"cap": ("application/json", body), "capstream": ("text/event-stream", sse({"choices": []}) * 100)})
    assert ask(fuzz_server, "cap", max_response_bytes=2000).error == "response too large: over 2000 bytes"
    assert ask(fuzz_server, "cap", max_response_bytes=len(body)).output == "x" * 3000  # the cap itself is allowed
    assert ask(fuzz_server, "capstream", max_response_bytes=1000, stream=True).error == "response too large: over 1000 bytes"


def test_sse_lines_longer_than_aiohttps_readline_limit_are_read_whole(fuzz_server):
    text = "y" * (3 << 20)  # 3 MiB in one `data:` line: arrives in many blocks
    fuzz_server.load({"long": ("text/event-stream", sse({"choices": [{"delta": {"content": text}}]},
                                                         {"choices": [{"delta": {}, "finish_reason": "stop"}]}, b"[DONE]"))})
    c = ask(fuzz_server, "long", stream=True)
    assert c.error is None and c.output == text


def test_stream_tool_calls_assembled_and_checked(fuzz_server):
    start = {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get", "arguments": ""}}]}}]}
    more = {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}}]}
    end = {"choices": [{"delta": {}, "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}
    bad = {"choices": [{"delta": {"tool_calls": [{"index": 0.5}]}}]}
    fuzz_server.load({"tc": ("text/event-stream", sse(start, more, end, b"[DONE]")),
                      "tcbad": ("text/event-stream", sse(start, bad, end, b"[DONE]"))})
    ok = ask(fuzz_server, "tc", stream=True)
    assert ok.tool_calls == [{"type": "function", "id": "c1", "function": {"name": "get", "arguments": '{"a": 1}'}}]
    assert (ok.finish_reason, ok.input_tokens, ok.output_tokens) == ("tool_calls", 4, 2)
    assert ask(fuzz_server, "tcbad", stream=True).error == \
        "malformed stream chunk 2: choices[0].delta.tool_calls[0].index: expected an integer"


def test_max_response_bytes_in_a_targets_file(tmp_path):
    p = write(tmp_path / "t.yaml", "targets:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1', model: m, max_response_bytes: 1048576}\n"
              "  - {name: b, base_url: 'http://127.0.0.1:1/v1', model: m}\n")
    targets = load_targets(p)
    assert targets["a"].max_response_bytes == 1 << 20 and targets["b"].max_response_bytes == 16 * 1024 * 1024
