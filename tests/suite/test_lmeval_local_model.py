"""The bridge agrees with lm-eval on a real model: SmolLM2-135M-Instruct served by llama.cpp on loopback
(the embedded `local-smol` model), lm-eval's local-chat-completions with --apply_chat_template on one
side, a suite with `lm_eval:` on the other, both at temperature 0. Marked `local_model` (CI runs it)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from evalharness import api, procs

pytestmark = pytest.mark.local_model

if importlib.util.find_spec("llama_cpp") is None and os.environ.get("CI", "").lower() != "true":
    pytest.skip("local model not installed (pip install -e '.[local]'); CI always runs these", allow_module_level=True)
pytest.importorskip("lm_eval")

from tests.suite.test_lmeval import (
    GEN_SUITES,
    SUITE_TASK,
    bridge_scores,
    lm_eval_cli,
    lm_eval_scores,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    from evalharness.targets.kinds import SMOL_MODEL_NAME
    from evalharness.targets.serve import llamacpp_command, smol_model_path

    port = free_port()
    log = (tmp_path_factory.mktemp("smol") / "server.log").open("w")
    proc = procs.spawn(llamacpp_command(smol_model_path(), port, alias=SMOL_MODEL_NAME, chat_format=None, n_ctx=4096),
                       stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):  # the server says it is up by answering /models
            assert proc.poll() is None, "llama.cpp server died (see its log)"
            try:
                with urllib.request.urlopen(base + "/models", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield base, SMOL_MODEL_NAME
    finally:
        procs.stop(proc, timeout_s=10)
        log.close()


@pytest.mark.timeout(1800)
def test_bridge_agrees_with_lm_eval_on_smollm2(smol, tmp_path):
    base, model = smol
    theirs = lm_eval_scores(lm_eval_cli(base, model, tmp_path / "lm", timeout=1200))
    result = api.run(GEN_SUITES, targets=api.Endpoint(base, model),
                     out=tmp_path / "reports", cache=False)
    run = result.load()
    ours = bridge_scores(run)
    assert len(theirs) == 20 and theirs == ours
    # The outputs themselves are the same text: the same request at temperature 0.
    outputs = {}
    for f in (tmp_path / "lm").glob("*/samples_*.jsonl"):
        task = f.name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in f.read_text().splitlines():
            d = json.loads(line)
            outputs[(task, d["doc_id"])] = d["resps"][0][0]
    suite_task = SUITE_TASK
    ours_out = {(suite_task[r.suite], int(r.case_id.removeprefix("doc-"))): r.output for r in run.responses_df().itertuples()}
    assert ours_out == outputs
    per_task = {t: sum(v for (task, _), v in ours.items() if task == t) for t in SUITE_TASK.values()}
    assert sum(ours.values()) > 0  # some right answers: the agreement covers both verdicts
    print(f"SmolLM2-135M: lm-eval {sum(theirs.values())}/20, bridge {sum(ours.values())}/20, per task {per_task}")


@pytest.mark.timeout(1800)
def test_gsm8k_style_task_agrees_with_lm_eval_on_smollm2_for_both_filters(smol, tmp_path):
    from tests.suite.test_lmeval_gsm import SUITE, lm_eval_per_filter

    base, model = smol
    theirs = lm_eval_per_filter(lm_eval_cli(base, model, tmp_path / "lm", tasks=("eh_apples_gsm",), timeout=1200))
    run = api.run([SUITE], targets=api.Endpoint(base, model), out=tmp_path / "reports", cache=False).load()
    ours = {(r.scorer.split(",", 1)[1], int(r.case_id.removeprefix("doc-"))): float(r.score)
            for r in run.scores_df().itertuples()}
    assert len(theirs) == 24 and ours == theirs
    (f,) = (tmp_path / "lm").glob("*/samples_*.jsonl")
    outputs = {json.loads(line)["doc_id"]: json.loads(line)["resps"][0][0] for line in f.read_text().splitlines()}
    assert {int(r.case_id.removeprefix("doc-")): r.output for r in run.responses_df().itertuples()} == outputs
    by_filter = {k: sum(v for (g, _), v in ours.items() if g == k) for k in ("strict-match", "flexible-extract")}
    print(f"SmolLM2-135M on eh_apples_gsm (12 docs): lm-eval {sum(theirs.values())}, bridge {by_filter}")
