"""Secrets never reach an output: every registered credential, in every form it is echoed in, is masked."""

import base64
import json
from urllib.parse import quote

from hypothesis import given, settings, strategies as st

from evalharness import redact as r

secret_chars = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@/:\\\"'")
secrets_ = st.text(secret_chars, min_size=r.MIN_SECRET_LEN, max_size=40)
# Text around the secret from another alphabet (Greek, spaces, newlines), so it cannot contain a secret itself.
filler = st.text(st.sampled_from("αβγδεζηθ \n"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(key=secrets_, user=st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
       password=secrets_, before=filler, after=filler, form=st.integers(0, 6))
def test_registered_secrets_never_survive_in_any_form(key, user, password, before, after, form):
    r.register(key)
    r.register_url(f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:9/v1")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    echoed = [key, quote(key, safe=""), f"Authorization: Bearer {key}", json.dumps({"authorization": f"Basic {basic}"}),
              f"bad key: Basic {basic}", f"http://{user}:{password}@127.0.0.1:9/v1", password][form]
    out = r.redact(before + echoed + after)
    for s in (key, password, basic, f"{user}:{password}"):
        if len(s) >= r.MIN_SECRET_LEN:
            assert s not in out, (s, out)


def test_credentials_of_unknown_origin_are_masked_and_plain_words_are_not():
    cases = {
        "Authorization: Bearer sk-unknown-77": "Authorization: Bearer ***",
        '{"Authorization": "Basic dXNlcjpwYXNz"}': '{"Authorization": "Basic ***"}',
        "see http://u:p4ss@host/x": "see http://***@host/x",
        "x-api-key: abc123def": "x-api-key: ***",
    }
    for text, want in cases.items():
        assert r.redact(text) == want
    prose = "A basic understanding of token economics, with a bearer bond. Visit https://example.com/docs."
    assert r.redact(prose) == prose


def test_strip_userinfo_keeps_host_port_and_path():
    assert r.strip_userinfo("http://a:b@127.0.0.1:8000/v1?x=1") == "http://127.0.0.1:8000/v1?x=1"
    assert r.strip_userinfo("https://tok@h/v1") == "https://h/v1"
    assert r.strip_userinfo("http://[::1]:8/v1") == "http://[::1]:8/v1"
    assert r.strip_userinfo(None) is None


def test_redacting_stream_masks_what_is_written():
    import io

    r.register("stream-secret-1")
    buf = io.StringIO()
    s = r.RedactingStream(buf)
    assert s.write("token stream-secret-1\n") == len("token stream-secret-1\n")
    assert buf.getvalue() == "token ***\n"


def test_userinfo_with_a_slash_and_json_escaped_secrets_are_masked():
    r.register_url("http://user:Sekr1t/PASSWORD-xyz@127.0.0.1:1/v1")
    assert "Sekr1t/PASSWORD-xyz" not in r.redact("error for http://user:Sekr1t/PASSWORD-xyz@127.0.0.1:1/v1")
    assert r.strip_userinfo("http://user:Sekr1t/PASSWORD-xyz@127.0.0.1:1/v1") == "http://127.0.0.1:1/v1"
    assert r.strip_userinfo("http://h/v1?x=a@b") == "http://h/v1?x=a@b"
    quoted = 'sk-"q\\x!9zTOPsecret\'QQ'
    r.register(quoted)
    assert "9zTOPsecret" not in r.redact(json.dumps({"error": f"bad key {quoted}"}))


def test_redaction_is_linear_on_adversarial_text():
    import time

    text = "a." * 200_000 + "://"  # a scheme-like run before every "://" used to backtrack quadratically
    t0 = time.process_time()
    r.redact(text)
    assert time.process_time() - t0 < 5  # 400 KB: milliseconds now; minutes before


def test_every_field_of_a_completion_is_redacted():
    from evalharness.engine.client import Completion, _redacted

    r.register("sk-echoed-in-fields-1")
    c = Completion(output="x", finish_reason="stop sk-echoed-in-fields-1",
                   tool_calls=[{"id": "sk-echoed-in-fields-1", "type": "function", "extra": "sk-echoed-in-fields-1",
                                "function": {"name": "sk-echoed-in-fields-1", "arguments": "{}"}}],
                   extra={"logprobs": {"content": [{"token": "sk-echoed-in-fields-1"}]}})
    out = _redacted(c)
    assert "sk-echoed-in-fields-1" not in json.dumps([out.finish_reason, out.tool_calls, out.extra])
