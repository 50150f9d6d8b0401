import asyncio
import time
from email.utils import formatdate


from evalharness.engine.cache import ResponseCache, cache_key
from evalharness.engine.client import ChatClient, backoff_s, parse_retry_after


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert 25 <= when <= 31


def test_backoff_is_jittered_and_capped():
    vals = [backoff_s(3, base=0.5) for _ in range(200)]
    assert all(0 <= v <= 4.0 for v in vals) and len(set(vals)) > 100
    assert all(v <= 30 for v in (backoff_s(20) for _ in range(50)))


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_cache_key_covers_content_not_transport():
    k = cache_key("http://a/v1", BODY, 0)
    assert k == cache_key("http://a/v1", dict(reversed(list(BODY.items()))), 0)  # order-insensitive
    assert k != cache_key("http://b/v1", BODY, 0)  # endpoint
    assert k != cache_key("http://a/v1", {**BODY, "model": "m2"}, 0)  # model
    assert k != cache_key("http://a/v1", {**BODY, "temperature": 0.7}, 0)  # params
    assert k != cache_key("http://a/v1", {**BODY, "tools": [{"type": "function"}]}, 0)  # tools
    assert k != cache_key("http://a/v1", BODY, 1)  # repeat index
    assert k == cache_key("http://a/v1", {**BODY, "stream": True}, 0)  # transport only


def test_cache_roundtrip(tmp_path):
    c = ResponseCache(tmp_path, commit_every=2)
    c.put("k1", {"output": "a"})
    assert c.get("k1") == {"output": "a"}  # visible before commit
    c.put("k2", {"output": "b"})
    c.close()
    c2 = ResponseCache(tmp_path)
    assert c2.get("k2") == {"output": "b"} and c2.get("nope") is None
    c2.close()


def test_scrub_removes_secret():
    async def go():
        c = ChatClient("http://127.0.0.1:9/v1", api_key="sk-secret-value")
        try:
            return c.scrub("bad key sk-secret-value given")
        finally:
            await c.aclose()

    assert asyncio.run(go()) == "bad key *** given"


def test_client_against_fault_server(fault_server):
    async def go():
        c = ChatClient(fault_server.base_url, max_retries=1, timeout_s=5, backoff_base_s=0.01)
        try:
            ok = await c.complete({"model": "m", "messages": [{"role": "user", "content": "REPLY=hello there"}]})
            bad = await c.complete({"model": "m", "messages": [{"role": "user", "content": "FAULT:500"}]})
            models = await c.served_models()
        finally:
            await c.aclose()
        return ok, bad, models

    ok, bad, models = asyncio.run(go())
    assert ok.output == "hello there" and ok.error is None and ok.output_tokens == 2 and ok.attempts == 1
    assert bad.error.startswith("HTTP 500") and "after 2 attempts" in bad.error and bad.attempts == 2
    assert models == ["fault-model"]
