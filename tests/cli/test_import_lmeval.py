"""`evalharness import lm-eval OUTPUT_DIR` as a real process: lm-eval's --log_samples output (from a real
lm-eval run on a loopback scripted server) becomes a run folder that `compare` and the gate read; bad
input is exit 2 with file:line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import write
from tests.fixtures.scripted import ScriptedServer

pytest.importorskip("lm_eval")
from tests.suite.test_lmeval import TASKS, lm_eval_cli


@pytest.fixture(scope="module")
def lm_out(tmp_path_factory):
    server = ScriptedServer(str(TASKS / "answer_server.py"))
    try:
        yield lm_eval_cli(server.base_url, "scripted", tmp_path_factory.mktemp("lm") / "out")
    finally:
        server.stop()


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_import_writes_a_gated_run(lm_out, tmp_path, cli):
    out = tmp_path / "reports"
    r = cli("import", "lm-eval", str(lm_out), "--out", str(out), "--suite", str(TASKS / "suite_gen.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    run = only_run(out)
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["targets"][0]["name"] == "scripted"
    assert manifest["gate"]["passed"] is True  # suite_gen.yaml's gate: min_pass_rate 0.5, lm-eval scored 0.75
    resp, scores = pd.read_parquet(run / "responses.parquet"), pd.read_parquet(run / "scores.parquet")
    assert sorted(set(resp.suite)) == ["eh_words_first", "eh_words_gen", "lmeval-arith"]  # --suite's name, else the task
    assert len(resp) == 20 and set(scores.response_id) == set(resp.response_id)
    samples = {json.loads(line)["doc_id"]: json.loads(line) for f in lm_out.glob("*/samples_eh_arith_gen_*.jsonl")
               for line in f.read_text().splitlines()}
    arith = scores[scores.suite == "lmeval-arith"].set_index("case_id")
    for doc_id, s in samples.items():
        assert arith.loc[f"doc-{doc_id}", "score"] == s["exact_match"]
        assert arith.loc[f"doc-{doc_id}", "scorer"] == "exact_match,strict-match"
    row = resp[(resp.suite == "lmeval-arith") & (resp.case_id == "doc-0")].iloc[0]
    assert json.loads(row.messages)[-1]["content"] == "Question: What is 2 + 3?\nAnswer:"
    assert row.output == samples[0]["resps"][0][0]


def test_a_strict_gate_fails_the_import(lm_out, tmp_path, cli):
    suite = tmp_path / "s" / "suite.yaml"
    for f in TASKS.glob("arith*"):
        write(tmp_path / "s" / f.name, f.read_text())
    write(suite, "name: strict\ncategory: accuracy\nlm_eval:\n  task: eh_arith_gen\ngate:\n  min_pass_rate: 0.9\n")
    r = cli("import", "lm-eval", str(lm_out), "--out", str(tmp_path / "reports"), "--suite", str(suite))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL strict" in r.stdout


def test_compare_reads_the_imported_run(lm_out, tmp_path, cli):
    out = tmp_path / "reports"
    for target in ("a", "b"):
        assert cli("import", "lm-eval", str(lm_out), "--out", str(out), "--target", target).returncode == 0
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    r = cli("compare", str(runs[0]), str(runs[1]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "eh_arith_gen" in r.stdout


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ('{"doc_id": "x", "metrics": []}', "`doc_id` must be an integer"),
    ('{"doc_id": 0, "metrics": ["exact_match"], "exact_match": "yes"}', "must be a finite number"),
    ('{"doc_id": 0, "metrics": ["exact_match"], "exact_match": NaN}', "must be a finite number"),
    ("[1, 2]", "must be a JSON object"),
])
def test_bad_samples_are_exit_2_with_file_and_line(lm_out, tmp_path, cli, line, message):
    bad = tmp_path / "bad" / "m"
    bad.mkdir(parents=True)
    (results,) = lm_out.glob("*/results_*.json")
    (bad / results.name).write_text(results.read_text())
    stamp = results.stem.removeprefix("results_")
    good = next(lm_out.glob(f"*/samples_eh_arith_gen_{stamp}.jsonl")).read_text().splitlines()
    (bad / f"samples_eh_arith_gen_{stamp}.jsonl").write_text("\n".join([good[0], line, *good[1:]]) + "\n")
    r = cli("import", "lm-eval", str(tmp_path / "bad"), "--out", str(tmp_path / "reports"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"samples_eh_arith_gen_{stamp}.jsonl:2" in r.stderr and message in r.stderr
    assert "Traceback" not in r.stderr


def test_not_an_lm_eval_folder(tmp_path, cli):
    r = cli("import", "lm-eval", str(tmp_path), "--out", str(tmp_path / "reports"))
    assert r.returncode == 2 and "no results_*.json" in r.stderr
    write(tmp_path / "results_x.json", "{not json")
    r = cli("import", "lm-eval", str(tmp_path), "--out", str(tmp_path / "reports"))
    assert r.returncode == 2 and "results_x.json" in r.stderr and "Traceback" not in r.stderr
