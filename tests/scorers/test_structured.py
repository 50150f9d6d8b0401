import json

import pytest

from evalharness.scorers.base import Sample
from evalharness.scorers.bind import bind
from evalharness.suite.model import ScorerSpec

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def run(spec: dict, output: str = "", **kw):
    return bind(ScorerSpec.model_validate(spec)).score_sync(Sample(case_id="c", output=output, **kw))


def test_json_valid():
    assert run({"type": "json_valid"}, '{"a": 1}').passed
    assert run({"type": "json_valid"}, 'Here you go:\n```json\n{"a": 1}\n```').passed
    assert not run({"type": "json_valid", "extract": False}, 'Here: {"a": 1}').passed
    s = run({"type": "json_valid"}, '{"a": 1,}')
    assert not s.passed and "invalid JSON" in s.reason
    assert not run({"type": "json_valid"}, "").passed


def test_json_schema_output():
    assert run({"type": "json_schema", "schema": SCHEMA}, '{"city": "Paris"}').passed
    s = run({"type": "json_schema", "schema": SCHEMA}, '{"town": "Paris"}')
    assert not s.passed and "city" in s.reason


def test_json_schema_tool_arguments():
    calls = [{"type": "function", "function": {"name": "w", "arguments": json.dumps({"city": "Oslo"})}}]
    assert run({"type": "json_schema", "schema": SCHEMA, "source": "tool_arguments"}, tool_calls=calls).passed
    bad = [{"type": "function", "function": {"name": "w", "arguments": "{city: Oslo"}}]
    s = run({"type": "json_schema", "schema": SCHEMA, "source": "tool_arguments"}, tool_calls=bad)
    assert not s.passed and "invalid JSON arguments" in s.reason
    s = run({"type": "json_schema", "schema": SCHEMA, "source": "tool_arguments"}, tool_calls=None)
    assert not s.passed and "no tool calls" in s.reason


def test_json_schema_rejects_invalid_schema():
    with pytest.raises(Exception, match="invalid JSON Schema"):
        bind(ScorerSpec.model_validate({"type": "json_schema", "schema": {"type": "nonsense"}}))


def test_latency_and_tokens():
    assert run({"type": "latency", "max_ms": 100}, latency_ms=99.0).passed
    assert not run({"type": "latency", "max_ms": 100}, latency_ms=101.0).passed
    assert not run({"type": "latency", "max_ms": 100}).passed  # nothing recorded is not a pass
    assert run({"type": "tokens", "max": 10}, output_tokens=10).passed
    assert not run({"type": "tokens", "max": 10}, output_tokens=11).passed
    assert not run({"type": "tokens", "max": 10}).passed


def test_rouge_and_bleu():
    ref = "The Sun is the star at the center of our solar system."
    s = run({"type": "rouge_l"}, "The Sun is the star at the centre of the solar system.", expected=ref)
    assert s.passed and 0.7 < s.value < 1.0
    assert not run({"type": "rouge_l"}, "Bananas are yellow.", expected=ref).passed
    assert run({"type": "rouge_l"}, ref, expected=ref).value == pytest.approx(1.0)
    b = run({"type": "bleu"}, ref, expected=ref)
    assert b.passed and b.value == pytest.approx(1.0)
    assert not run({"type": "bleu"}, "completely different words", expected=ref).passed
    assert not run({"type": "rouge_l"}, "anything").passed  # no reference


def test_json_schema_refs_are_never_fetched(tmp_path):
    """A `$ref` to a URL or a file is an error, not a request (a suite's schema cannot reach a host or a file)."""
    import http.server
    import threading

    from evalharness.scorers.structured import offline_validator

    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"enum": ["x"]}')

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    secret = tmp_path / "f.json"
    secret.write_text('{"enum": ["FILE-SECRET"]}')
    try:
        for ref in (f"http://127.0.0.1:{srv.server_address[1]}/s.json", secret.as_uri()):
            v = offline_validator({"$ref": ref})
            with pytest.raises(Exception) as e:
                list(v.iter_errors("x"))
            assert "FILE-SECRET" not in str(e.value)
        assert hits == []
    finally:
        srv.shutdown()
