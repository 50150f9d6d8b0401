"""The lm-eval bridge against lm-eval itself: the same task, the same loopback endpoint (a scripted server
in its own process), lm-eval's `local-chat-completions` with `--apply_chat_template` on one side and an
evalharness run of a suite with `lm_eval:` on the other. The requests must be identical, body for body,
and so must the per-document correctness. Plus: the multiple-choice mapping and the configuration errors."""

from __future__ import annotations

import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from evalharness import api
from evalharness.errors import ConfigError
from evalharness.suite.loader import load_suite
from tests.fixtures.scripted import ScriptedServer

pytest.importorskip("lm_eval")

TASKS = Path(__file__).parent / "lmeval_tasks"
GEN_TASKS = ("eh_arith_gen", "eh_words_gen", "eh_words_first")
GEN_SUITES = [TASKS / "suite_gen.yaml", TASKS / "suite_words.yaml", TASKS / "suite_words_first.yaml"]
SUITE_TASK = {"lmeval-arith": "eh_arith_gen", "lmeval-words": "eh_words_gen", "lmeval-words-first": "eh_words_first"}
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def lm_eval_cli(base_url: str, model: str, out: Path, tasks=GEN_TASKS, cwd: Path = TASKS, timeout: float = 600):
    """lm-eval's own run (its CLI, a real process) of the tasks on the endpoint, with --log_samples."""
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "local-chat-completions",
           "--model_args", f"base_url={base_url}/chat/completions,model={model},tokenizer_backend=None",
           "--apply_chat_template", "--tasks", ",".join(tasks), "--include_path", ".",
           "--log_samples", "--output_path", str(out)]
    r = subprocess.run(cmd, cwd=cwd, env={**os.environ, **OFFLINE}, capture_output=True, text=True, timeout=timeout, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def lm_eval_scores(out: Path) -> dict[tuple[str, int], float]:
    """(task, doc_id) -> exact_match, from lm-eval's samples files."""
    found = {}
    for f in glob.glob(str(out / "*" / "samples_*.jsonl")):
        task = Path(f).name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            found[(task, d["doc_id"])] = d["exact_match"]
    return found


def bridge_scores(run) -> dict[tuple[str, int], float]:
    scores = run.scores_df()
    resp = run.responses_df()
    suite_task = SUITE_TASK
    assert set(scores["scorer"]) <= {"exact_match,strict-match", "exact_match,none", "exact_match,first-word"}
    assert len(scores) == len(resp) and resp["error"].isna().all()
    return {(suite_task[r.suite], int(r.case_id.removeprefix("doc-"))): float(r.score) for r in scores.itertuples()}


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer(str(TASKS / "answer_server.py"))
    yield s
    s.stop()


def requests_seen(server) -> list[str]:
    with urllib.request.urlopen(server.url + "/__requests", timeout=10) as r:
        return [json.dumps(b, sort_keys=True) for b in json.load(r)]


@pytest.fixture(scope="module")
def both(server, tmp_path_factory):
    """lm-eval's run, then the bridge's, on the same server; the request bodies of each."""
    tmp = tmp_path_factory.mktemp("lmeval")
    before = len(requests_seen(server))
    lm_out = lm_eval_cli(server.base_url, "scripted", tmp / "lm")
    mid = requests_seen(server)
    result = api.run(GEN_SUITES, targets=api.Endpoint(server.base_url, "scripted"), out=tmp / "reports", cache=False)
    after = requests_seen(server)
    return {"lm_out": lm_out, "lm_requests": mid[before:], "bridge_requests": after[len(mid):],
            "run": result.load(), "result": result}


def test_the_bridge_sends_exactly_lm_evals_requests(both):
    lm, bridge = both["lm_requests"], both["bridge_requests"]
    assert len(lm) == 20 and len(bridge) == 20
    assert collections.Counter(lm) == collections.Counter(bridge)
    # Few-shot as chat turns, lm-eval's stop strings, max_tokens and seed: all in the bodies compared above.
    body = json.loads(next(b for b in bridge if "2 + 3" in b and "system" in b))
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert body["stop"] == ["\n\n", "Question:"] and body["max_tokens"] == 48 and body["seed"] == 1234


def test_per_document_correctness_agrees_with_lm_eval(both):
    theirs, ours = lm_eval_scores(both["lm_out"]), bridge_scores(both["run"])
    assert theirs == ours
    values = list(theirs.values())
    assert 0 < sum(values) < len(values)  # both right and wrong answers: the agreement is not trivial
    results = json.loads(next((both["lm_out"]).glob("*/results_*.json")).read_text())["results"]
    assert results["eh_arith_gen"]["exact_match,strict-match"] == pytest.approx(
        sum(v for (t, _), v in ours.items() if t == "eh_arith_gen") / 8)


def test_import_of_lm_evals_output_compares_with_the_bridge_run(both, tmp_path):
    """lm-eval's samples become a run folder (suite names and case ids from the bridge suites) that
    `compare` pairs with the bridge's run: no document changes."""
    from evalharness.lifecycle.imports import import_lm_eval
    from evalharness.results.run import load_run

    outcome = import_lm_eval(both["lm_out"], tmp_path, target="scripted",
                             suites=GEN_SUITES)
    imported = load_run(outcome.run_dir)
    a = {(r.suite, r.case_id): r.passed for r in imported.scores_df().itertuples()}
    b = {(r.suite, r.case_id): r.passed for r in both["run"].scores_df().itertuples()}
    assert a == b and len(a) == 20


def test_multiple_choice_is_asked_generatively_and_scored_by_choice(server, tmp_path):
    suite = load_suite(TASKS / "suite_mc.yaml")
    first = suite.cases[0]
    text = first.case.messages[-1].content
    assert "A. Berlin\nB. Paris\nC. Rome\nD. Madrid" in text and first.case.expected == "B"
    assert [s.name for s in first.scorers] == ["choice"]
    res = api.run([TASKS / "suite_mc.yaml"], targets=api.Endpoint(server.base_url, "scripted"), out=tmp_path, cache=False)
    scores = res.load().scores_df()
    assert len(scores) == 6 and 0 < scores["passed"].sum() < 6


def copy_tasks(tmp_path: Path) -> Path:
    d = tmp_path / "suite"
    shutil.copytree(TASKS, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return d


def problems_of(path: Path, **kw) -> str:
    with pytest.raises(ConfigError) as e:
        load_suite(path, **kw)
    return str(e.value)


@pytest.mark.parametrize("edit, where, message", [
    (("doc_to_text", 'doc_to_text: !function utils.doc_to_text'), "arith_gen.yaml:", "runs Python code"),
    (("dataset_path: json", "dataset_path: gsm8k"), "arith_gen.yaml:2", "only local files"),
    (("train: arith.jsonl", "train: ../../../etc/passwd"), "arith_gen.yaml:", "outside the suite root"),
    (("train: arith.jsonl", "train: https://example.com/x.jsonl"), "arith_gen.yaml:", "must be a local path"),
    (("- metric: exact_match", "- metric: bleu"), "arith_gen.yaml", "only exact_match"),
    (("aggregation: mean", "aggregation: mean\n    hf_evaluate: true"), "arith_gen.yaml", "hf_evaluate"),
    (("ignore_case: true", "ignore_case: true\n    colour: red"), "arith_gen.yaml", "does not take them"),
    (("function: regex", "function: custom"), "arith_gen.yaml", "`custom` filter calls a Python function"),
    (("function: regex", "function: no_such_filter"), "eh_arith_gen", "Unknown filter 'no_such_filter'"),
])
def test_what_cannot_be_mapped_is_a_configuration_error(tmp_path, edit, where, message):
    d = copy_tasks(tmp_path)
    f = d / "arith_gen.yaml"
    old, new = edit
    text = f.read_text()
    assert old in text
    if old == "doc_to_text":
        text = "\n".join(new if line.startswith("doc_to_text") else line for line in text.splitlines())
    else:
        text = text.replace(old, new)
    f.write_text(text)
    msg = problems_of(d / "suite_gen.yaml")
    assert where in msg and message in msg, msg


def test_paths_stay_inside_the_suite_root(tmp_path):
    d = copy_tasks(tmp_path)
    (d / "suite_gen.yaml").write_text("name: x\ncategory: accuracy\nlm_eval:\n  task: eh_arith_gen\n  include_path: ..\n")
    msg = problems_of(d / "suite_gen.yaml")
    assert "suite_gen.yaml:5" in msg and "outside the suite root" in msg, msg
    (d / "suite_gen.yaml").write_text("name: x\ncategory: accuracy\nlm_eval:\n  task: no_such_task\n")
    msg = problems_of(d / "suite_gen.yaml")
    assert "suite_gen.yaml:4" in msg and "eh_arith_gen" in msg, msg


def test_without_lm_eval_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lm_eval", None)
    msg = problems_of(TASKS / "suite_gen.yaml")
    assert "pip install -e '.[lmeval]'" in msg and "suite_gen.yaml:3" in msg


def test_templates_render_in_the_sandbox(tmp_path):
    d = copy_tasks(tmp_path)
    f = d / "words_gen.yaml"
    f.write_text(f.read_text().replace("{{word}}.", "{{ word.__class__.__mro__ }}."))
    msg = problems_of(d / "suite_words.yaml")
    assert "could not build task" in msg and ("unsafe" in msg or "Security" in msg), msg


def test_limit_and_num_fewshot(tmp_path):
    d = copy_tasks(tmp_path)
    (d / "s.yaml").write_text("name: x\ncategory: accuracy\nlm_eval:\n  task: eh_arith_gen\n  limit: 3\n  num_fewshot: 0\n")
    s = load_suite(d / "s.yaml")
    assert [c.case.id for c in s.cases] == ["doc-0", "doc-1", "doc-2"]
    assert [m.role for m in s.cases[0].case.messages] == ["system", "user"]


def test_an_endless_template_is_stopped(tmp_path):
    d = copy_tasks(tmp_path)
    f = d / "words_gen.yaml"
    loop = "{% for i in range(9999) %}{% for j in range(9999) %}{% for k in range(9999) %}{% endfor %}{% endfor %}{% endfor %}"
    f.write_text(f.read_text().replace("{{word}}.", "{{word}}." + loop))
    msg = problems_of(d / "suite_words.yaml")
    assert "could not build task" in msg and "RenderLimit" in msg, msg


def test_the_example_loads():
    s = load_suite(Path(__file__).parents[2] / "examples" / "lmeval" / "suite.yaml")
    assert len(s.cases) == 8 and s.suite.gate.min_pass_rate == 0.5
    assert [m.role for m in s.cases[1].case.messages] == ["system", "user", "assistant", "user"]


def test_another_lm_eval_version_is_refused(monkeypatch):
    from evalharness.suite import lmeval

    monkeypatch.setattr(lmeval, "_lm_eval_version", lambda: "0.5.0")
    msg = problems_of(TASKS / "suite_gen.yaml")
    assert "lm-eval 0.4.13, found 0.5.0" in msg and "suite_gen.yaml:3" in msg
