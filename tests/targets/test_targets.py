import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalharness.errors import ConfigError
from evalharness.lifecycle.configure import load_targets, resolve_targets
from evalharness.lifecycle.options import RunOptions
from evalharness.targets.config import TargetConfig, redact_url
from evalharness.targets.kinds import LOCAL_MODEL_NAME, SMOL_MODEL_NAME, LocalTarget
from evalharness.targets.serve import ServeError, ServeSpec, llamacpp_command, vllm_command
from tests.conftest import write


def test_default_target_is_both_embedded_models_smallest_first():
    for opts in (RunOptions(paths=["s"]), RunOptions(paths=["s"], target_names=["local"])):
        smol, gemma = resolve_targets(opts)
        assert (smol.name, smol.config.model, smol.config.size) == ("local-smol", SMOL_MODEL_NAME, "135M")
        assert (gemma.name, gemma.config.model, gemma.config.size) == ("local-gemma", LOCAL_MODEL_NAME, "270M")
        assert isinstance(smol.kind, LocalTarget) and smol.kind.which == "smol" and gemma.kind.which == "gemma"
    (only,) = resolve_targets(RunOptions(paths=["s"], target_names=["local-gemma"]))
    assert only.name == "local-gemma"


def test_targets_file_errors_have_lines(tmp_path):
    p = write(tmp_path / "t.yaml", "targets:\n  - name: a\n    base_url: ftp://x\n    model: m\n"
              "  - name: a\n    base_url: http://127.0.0.1:1/v1\n    model: m\n    concurency: 3\n")
    with pytest.raises(ConfigError) as e:
        load_targets(p)
    msgs = [str(x) for x in e.value.problems]
    assert any(m.startswith(f"{p}:3: targets[0].base_url: base_url must be an http(s) URL") for m in msgs)
    assert f"{p}:8: targets[1].concurency: unknown key 'concurency'" in msgs


def test_targets_file_duplicate_and_reserved_names(tmp_path):
    p = write(tmp_path / "t.yaml", "targets:\n  - {name: x, base_url: 'http://127.0.0.1:1/v1', model: m}\n"
              "  - {name: x, base_url: 'http://127.0.0.1:1/v1', model: m}\n"
              "  - {name: recorded, base_url: 'http://127.0.0.1:1/v1', model: m}\n")
    with pytest.raises(ConfigError) as e:
        load_targets(p)
    msgs = " | ".join(map(str, e.value.problems))
    assert "duplicate target name 'x'" in msgs and "'recorded' is a built-in target name" in msgs


def test_public_view_hides_credentials_in_url():
    t = TargetConfig(name="t", base_url="http://user:pw@127.0.0.1:8000/v1", model="m", api_key_env="K")
    d = t.public()
    assert "pw" not in str(d) and d["api_key_env"] == "K"
    assert redact_url("http://127.0.0.1:1/v1") == "http://127.0.0.1:1/v1"


def test_llamacpp_command_line():
    cmd = llamacpp_command("/m/x.gguf", 8123, alias="x")
    assert cmd[:3] == [sys.executable, "-m", "llama_cpp.server"]
    joined = " ".join(cmd)
    assert "--model /m/x.gguf" in joined and "--host 127.0.0.1" in joined and "--port 8123" in joined
    assert "--chat_format gemma" in joined and "--model_alias x" in joined
    assert "--interrupt_requests false" in joined  # a new request must never cut a running stream


def test_vllm_command_line_and_clear_message_without_vllm():
    spec = ServeSpec.parse("vllm:/models/my-finetune")
    assert spec.name == "my-finetune"
    assert spec.command(9000) == vllm_command("/models/my-finetune", 9000, served_name="my-finetune")
    assert spec.command(9000)[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert "--host" in spec.command(9000) and "127.0.0.1" in spec.command(9000)
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(ServeError, match="needs vLLM"):
            spec.check()


def test_serve_spec_parsing():
    s = ServeSpec.parse("llamacpp:/a/b/model-q4.gguf")
    assert (s.backend, s.model, s.name) == ("llamacpp", "/a/b/model-q4.gguf", "model-q4")
    for bad in ("ollama:x", "llamacpp:", "nocolon"):
        with pytest.raises(ValueError):
            ServeSpec.parse(bad)
    with pytest.raises(ServeError, match="not found"):
        ServeSpec.parse("llamacpp:/nonexistent/x.gguf").check()


def test_targets_file_tokenizer_is_relative_to_the_file(tmp_path, monkeypatch):
    p = write(tmp_path / "conf" / "t.yaml", "targets:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1', model: m, "
              "tokenizer: tok, size: 7B}\n  - {name: b, base_url: 'http://127.0.0.1:1/v1', model: m, tokenizer: /abs/tok}\n")
    monkeypatch.chdir(tmp_path)
    got = load_targets(p)
    assert got["a"].tokenizer == str((tmp_path / "conf" / "tok").resolve()) and got["a"].size == "7B"
    assert got["b"].tokenizer == "/abs/tok"
    bad = write(tmp_path / "bad.yaml", "targets:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1', model: m, size: huge}\n")
    with pytest.raises(ConfigError) as e:
        load_targets(bad)
    assert "targets[0].size" in str(e.value.problems[0])


EMBEDDED_NAMES = {None: "smol", "local": "smol", "local-smol": "smol", SMOL_MODEL_NAME: "smol",
                  "local-gemma": "gemma", LOCAL_MODEL_NAME: "gemma"}


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.sampled_from(sorted(n for n in EMBEDDED_NAMES if n)), st.text(max_size=30)))
def test_a_judge_without_base_url_runs_only_on_an_embedded_model_it_names(model):
    from evalharness.targets.kinds import embedded_which

    if model in EMBEDDED_NAMES:
        assert embedded_which(model, "j") == EMBEDDED_NAMES[model]
    else:  # a typo ('local-gema') or a remote model's name must not be judged silently by SmolLM2
        with pytest.raises(ConfigError) as e:
            embedded_which(model, "j")
        assert "not an embedded model" in str(e.value) and "'j'" in str(e.value)
    assert embedded_which(None) == "smol"


@pytest.mark.parametrize("raw,servers,expected", [("", 1, None), ("", 2, None), ("3", 2, 3), (" 1 ", 2, 1),
                                                  ("0", 2, "error"), ("two", 1, "error"), ("-1", 1, "error")])
def test_embedded_threads_split_the_cores_or_follow_the_variable(monkeypatch, raw, servers, expected):
    import os

    from evalharness.targets.kinds import embedded_threads

    monkeypatch.setenv("EVALHARNESS_EMBEDDED_THREADS", raw)
    if expected == "error":
        with pytest.raises(ConfigError, match="EVALHARNESS_EMBEDDED_THREADS"):
            embedded_threads(servers)
    else:
        assert embedded_threads(servers) == (expected or max(1, (os.cpu_count() or 1) // servers))


def test_a_suite_judge_naming_no_embedded_model_is_exit_2_before_anything_starts(tmp_path, cli):
    suite = write(tmp_path / "s.yaml", "name: judged\ncategory: accuracy\njudges:\n  default: {model: local-gema}\n"
                  "scorers: [{type: rubric, criteria: 'Is it right?'}]\ncases: [{id: a, input: q, output: x}]\n")
    r = cli("run", str(suite), "--target", "recorded", "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{suite}: judges.default.model: 'local-gema' is not an embedded model" in r.stderr, r.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())  # nothing started, nothing written
