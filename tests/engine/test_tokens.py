"""Token counts from a local tokenizer (targets.yaml `tokenizer:`) where the endpoint reports no usage.

The tokenizer is built here with the `tokenizers` library (word level, whitespace pre-tokeniser) and a
chat template, so every count below is known by hand: one token per word or run of punctuation, one
per role marker."""

from __future__ import annotations

import asyncio
import json
import re
import string
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness.engine import tokens
from evalharness.engine.client import Completion
from evalharness.errors import ConfigError
from evalharness.targets.config import TargetConfig

TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tool role') }}"
            "{% endif %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
ROLES = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
WORDS = ["[UNK]", "[PAD]", *ROLES, "hello", "world", "be", "brief", "ok"]


def build(dest: Path, template: str | None = TEMPLATE) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]",
                                  additional_special_tokens=ROLES)
    if template is not None:
        tok.chat_template = template
    tok.save_pretrained(dest)
    return dest


@pytest.fixture(scope="module")
def tokdir(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("tok") / "chat")


@pytest.fixture(scope="module")
def counter(tokdir) -> tokens.TokenCounter:
    return tokens.load_counter(str(tokdir), "t")


def pieces(text: str) -> int:
    """What the whitespace pre-tokeniser makes of a text: words and runs of punctuation."""
    return len(re.findall(r"\w+|[^\w\s]+", text))


USER = [{"role": "user", "content": "hello world"}]


def test_prompt_uses_the_chat_template(counter):
    assert counter.templated
    assert counter.prompt(USER, None) == 4  # <|user|> hello world <|assistant|>
    sys_user = [{"role": "system", "content": "be brief"}, *USER]
    assert counter.prompt(sys_user, None) == 7
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert counter.prompt(parts, None) is not None


def test_template_that_refuses_leaves_the_prompt_unknown(counter):
    assert counter.prompt([*USER, {"role": "tool", "content": "x"}], None) is None


def test_without_a_template_counts_the_texts(tmp_path):
    c = tokens.load_counter(str(build(tmp_path / "plain", template=None)), "t")
    assert not c.templated
    assert c.prompt([{"role": "system", "content": "be brief"}, *USER], None) == 4


def test_completion_counts_text_and_tool_calls(counter):
    assert counter.completion({"role": "assistant", "content": "hello world, ok!"}) == 5
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}
    spec = json.dumps({"name": "f", "arguments": "{\"a\": 1}"})
    assert counter.completion({"role": "assistant", "content": None, "tool_calls": [call]}) == pieces(spec)


def test_agent_transcript_sums_every_turn(counter):
    transcript = [*USER,
                  {"role": "assistant", "content": "ok", "tool_calls": None},
                  {"role": "user", "content": "hello"},
                  {"role": "assistant", "content": "hello world"}]
    # turn 1: prompt 4, answer 1; turn 2: prompt <|user|> hello world <|assistant|> ok <|user|> hello <|assistant|> = 8
    assert counter.count(transcript, 1, None) == (4 + 8, 1 + 2)


def run_fill(counter, comp, transcript, start=1):
    return asyncio.run(tokens.fill(counter, comp, transcript, start, None))


def test_fill_only_what_the_endpoint_left_out(counter):
    t = [*USER, {"role": "assistant", "content": "hello world"}]
    assert run_fill(counter, Completion(output="hello world"), t) == (4, 2, "tokenizer")
    assert run_fill(counter, Completion(output="hello world", input_tokens=9, output_tokens=7), t) == (9, 7, "endpoint")
    assert run_fill(counter, Completion(output="hello world", input_tokens=9), t) == (9, 2, "endpoint+tokenizer")
    assert run_fill(counter, Completion(error="http 500"), t) == (None, None, None)
    assert run_fill(None, Completion(output="x"), t) == (None, None, None)
    refused = [*USER, {"role": "tool", "content": "x"}, {"role": "assistant", "content": "ok"}]
    assert run_fill(counter, Completion(output="ok"), refused, 2) == (None, 1, "tokenizer")


def test_missing_or_broken_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="target t1.*tokenizer directory not found"):
        tokens.load_counter(str(tmp_path / "nope"), "t1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load a tokenizer"):
        tokens.load_counter(str(tmp_path / "empty"), "t1")


def test_loaded_once_per_directory(tokdir):
    assert tokens.load_counter(str(tokdir), "a") is tokens.load_counter(str(tokdir / "."), "b")


def test_target_config_keeps_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert TargetConfig(name="x", tokenizer="tok").tokenizer == str(tmp_path / "tok")
    with pytest.raises(ValueError):
        TargetConfig(name="x", tokenizer="  ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " \t\n", max_size=120))
def test_completion_count_matches_the_pre_tokeniser(counter, text):
    assert counter.completion({"role": "assistant", "content": text}) == pieces(text)


class _NoUsage(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        doc = {"choices": [{"message": {"role": "assistant", "content": "hello world, ok"}, "finish_reason": "stop"}]}
        if "usage" in body["messages"][-1]["content"]:
            doc["usage"] = {"prompt_tokens": 11, "completion_tokens": 13}
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def no_usage_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _NoUsage)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()
    th.join()


def test_a_run_records_tokenizer_counts_where_usage_is_missing(tokdir, tmp_path, no_usage_server):
    import pyarrow.parquet as pq

    from evalharness import api

    suite = tmp_path / "s.yaml"
    suite.write_text("name: tok\ncategory: accuracy\ncases:\n"
                     "  - {id: counted, input: hello world}\n  - {id: reported, input: hello usage}\n"
                     "scorers:\n  - {type: contains, value: ok}\n")
    tf = tmp_path / "targets.yaml"
    tf.write_text(f"targets:\n  - {{name: m, base_url: '{no_usage_server}', model: m, tokenizer: '{tokdir}'}}\n")
    res = api.run(suite, targets="m", targets_file=tf, out=tmp_path / "out", cache=False)
    rows = {r["case_id"]: r for r in pq.read_table(Path(res.run_dir) / "responses.parquet").to_pylist()}
    assert (rows["counted"]["input_tokens"], rows["counted"]["output_tokens"]) == (4, 4)  # "hello world , ok"
    assert (rows["reported"]["input_tokens"], rows["reported"]["output_tokens"]) == (11, 13)
    if "tokens_source" in rows["counted"]:  # once results/schema.py has the column
        assert rows["counted"]["tokens_source"] == "tokenizer" and rows["reported"]["tokens_source"] == "endpoint"
