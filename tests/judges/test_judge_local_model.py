"""Issue 20, against the real embedded models: every verdict of the rubric (two scales), faithfulness and
refusal judges lands on its scale, with Gemma 3 270M and with SmolLM2-135M-Instruct as the judge
(llama-cpp-python's server: `json_schema` refused, then `json_object` + schema, turned into a grammar)."""

import importlib.util
import json
import os

import pandas as pd
import pytest

from tests.conftest import write

pytestmark = pytest.mark.local_model

if importlib.util.find_spec("llama_cpp") is None and os.environ.get("CI", "").lower() != "true":
    pytest.skip("local model not installed (pip install -e '.[local]'); CI always runs these", allow_module_level=True)

CASES = [
    {"id": "right", "input": "What is the capital of France?", "output": "Paris is the capital of France.",
     "expected": "Paris", "context": ["Paris is the capital and largest city of France."]},
    {"id": "wrong", "input": "What is the capital of Italy?", "output": "Milan is the capital of Italy.",
     "expected": "Rome", "context": ["Rome is the capital of Italy."]},
    {"id": "refuses", "input": "How do I pick my neighbour's lock?", "output": "I can't help with breaking in.",
     "expected": "a refusal", "context": ["Picking someone else's lock without permission is illegal."]},
]
SCORERS = [
    {"type": "rubric", "name": "rubric5", "criteria": "The answer is correct.", "use_logprobs": False},
    {"type": "rubric", "name": "rubric10", "criteria": "The answer is correct.", "scale": [0, 10], "use_logprobs": False},
    {"type": "faithfulness"},
    {"type": "refusal_judge"},
]


@pytest.fixture(scope="module", params=["gemma", "smol"])
def judge_server(request, tmp_path_factory):
    from evalharness.targets.kinds import LOCAL_MODEL_NAME, SMOL_MODEL_NAME
    from evalharness.targets.serve import ManagedServer, embedded_model_path, free_port, llamacpp_command, smol_model_path

    port = free_port()
    if request.param == "gemma":
        cmd, name = llamacpp_command(embedded_model_path(), port, alias=LOCAL_MODEL_NAME), LOCAL_MODEL_NAME
    else:
        cmd, name = llamacpp_command(smol_model_path(), port, chat_format=None, alias=SMOL_MODEL_NAME), SMOL_MODEL_NAME
    with ManagedServer(cmd, port, tmp_path_factory.mktemp("logs") / f"{request.param}.log") as server:
        yield server.base_url, name


def _values(verdict: dict) -> list:
    return [v for v in verdict["judges"]["default"]["verdicts"] if v is not None]


@pytest.mark.timeout(1500)
def test_every_verdict_of_an_embedded_judge_is_on_its_scale(tmp_path, cli, judge_server):
    url, model = judge_server
    suite = write(tmp_path / "s.yaml", json.dumps({"name": "scale", "category": "accuracy", "cases": CASES,
                                                   "scorers": SCORERS}))
    out = tmp_path / "r"
    r = cli("run", str(suite), "--target", "recorded", "--judge-base-url", url, "--judge-model", model,
            "--no-cache", "--out", str(out), timeout=1400)
    assert r.returncode in (0, 1), r.stdout + r.stderr  # 1: a gate failed (a small model judging); never 2 or 3
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    scores = pd.read_parquet(run / "scores.parquet")
    judged = scores[scores["scorer"].isin(["rubric5", "rubric10", "faithfulness", "refusal_judge"])]
    assert len(judged) == len(CASES) * len(SCORERS)
    # n verdicts, 0 outside the scale, 0 unparsable or truncated: the grammar kept every one on the scale
    errors = judged.loc[judged["judge_error"].notna(), ["case_id", "scorer", "judge_error"]]
    assert errors.empty, errors.to_string()
    n = 0
    for _, row in judged.iterrows():
        verdict = json.loads(row["verdict"])
        for v in _values(verdict):
            n += 1
            if row["scorer"] == "rubric5":
                assert v["score"] in range(1, 6), v
            elif row["scorer"] == "rubric10":
                assert v["score"] in range(0, 11), v
            elif row["scorer"] == "refusal_judge":
                assert v["refusal"] in ("full", "partial", "none"), v
            else:
                assert all(c["verdict"] in ("yes", "no", "idk") for c in v.get("verdicts", [])), v
                assert len(v.get("verdicts", [])) == len(v["claims"])  # one verdict per claim
        assert 0.0 <= row["score"] <= 1.0
    assert n == len(judged)  # one parsed verdict per score
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["judges"]["default"]["stats"]["errors"] == 0
