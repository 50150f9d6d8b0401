"""A gsm8k-style task (lm-eval 0.4.13's gsm8k.yaml filters and exact_match options, local data) through the
bridge and through lm-eval's own CLI on the same scripted endpoint: the same requests, and per document the
same score for BOTH filters (strict-match and flexible-extract), which the old regex mapping refused."""

from __future__ import annotations

import collections
import glob
import json
from pathlib import Path

import pytest

from evalharness import api
from evalharness.suite.loader import load_suite
from tests.fixtures.scripted import ScriptedServer
from tests.suite.test_lmeval import TASKS, lm_eval_cli, requests_seen

pytest.importorskip("lm_eval")

SUITE = TASKS / "suite_apples.yaml"
FILTERS = ("strict-match", "flexible-extract")


def lm_eval_per_filter(out: Path) -> dict[tuple[str, int], float]:
    """(filter, doc_id) -> exact_match from lm-eval's samples file (one line per document and filter)."""
    found = {}
    (f,) = glob.glob(str(out / "*" / "samples_eh_apples_gsm_*.jsonl"))
    for line in Path(f).read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        found[(d["filter"], d["doc_id"])] = float(d["exact_match"])
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    server = ScriptedServer(str(TASKS / "answer_server.py"))
    try:
        tmp = tmp_path_factory.mktemp("gsm")
        lm_out = lm_eval_cli(server.base_url, "scripted", tmp / "lm", tasks=("eh_apples_gsm",))
        mid = requests_seen(server)
        result = api.run([SUITE], targets=api.Endpoint(server.base_url, "scripted"), out=tmp / "reports", cache=False)
        after = requests_seen(server)
    finally:
        server.stop()
    return {"lm_out": lm_out, "lm_requests": mid, "bridge_requests": after[len(mid):], "run": result.load()}


def test_the_bridge_sends_lm_evals_requests(runs):
    assert len(runs["lm_requests"]) == 12
    assert collections.Counter(runs["lm_requests"]) == collections.Counter(runs["bridge_requests"])


def test_both_filters_agree_with_lm_eval_per_document(runs):
    theirs = lm_eval_per_filter(runs["lm_out"])
    scores = runs["run"].scores_df()
    ours = {(r.scorer.split(",", 1)[1], int(r.case_id.removeprefix("doc-"))): float(r.score)
            for r in scores.itertuples()}
    assert set(scores["scorer"]) == {f"exact_match,{f}" for f in FILTERS}
    assert ours == theirs and len(ours) == 24
    for f in FILTERS:  # right and wrong answers under each filter, and the filters disagree somewhere
        values = [v for (g, _), v in ours.items() if g == f]
        assert 0 < sum(values) < len(values)
    assert any(ours[("strict-match", d)] != ours[("flexible-extract", d)] for d in range(12))
    results = json.loads(next(runs["lm_out"].glob("*/results_*.json")).read_text())["results"]["eh_apples_gsm"]
    for f in FILTERS:
        assert results[f"exact_match,{f}"] == pytest.approx(sum(v for (g, _), v in ours.items() if g == f) / 12)


def test_strict_match_decides_and_flexible_extract_is_recorded(runs):
    suite = load_suite(SUITE)
    bound = suite.cases[0].scorers
    assert [(b.name, b.metric_only) for b in bound] == [("exact_match,strict-match", False),
                                                        ("exact_match,flexible-extract", True)]
    scores = runs["run"].scores_df()
    strict = scores[scores["scorer"] == "exact_match,strict-match"].set_index("case_id")["passed"]
    resp = runs["run"].responses_df()
    assert len(resp) == 12 and resp["error"].isna().all()
    assert strict.sum() == sum(1 for (f, _), v in lm_eval_per_filter(runs["lm_out"]).items() if f == "strict-match" and v)


def test_choosing_flexible_extract_makes_it_decide(tmp_path):
    d = tmp_path / "s"
    import shutil

    shutil.copytree(TASKS, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (d / "suite_apples.yaml").write_text((d / "suite_apples.yaml").read_text().replace(
        "include_path: .", "include_path: .\n  filter: flexible-extract"))
    bound = load_suite(d / "suite_apples.yaml").cases[0].scorers
    assert [(b.name, b.metric_only) for b in bound] == [("exact_match,strict-match", True),
                                                        ("exact_match,flexible-extract", False)]


def test_import_of_lm_evals_samples_pairs_with_the_bridge_run_for_both_filters(runs, tmp_path):
    from evalharness.lifecycle.imports import import_lm_eval
    from evalharness.results.run import load_run

    outcome = import_lm_eval(runs["lm_out"], tmp_path, target="scripted", suites=[SUITE])
    imported = load_run(outcome.run_dir)
    a = {(r.suite, r.case_id, r.scorer): r.score for r in imported.scores_df().itertuples()}
    b = {(r.suite, r.case_id, r.scorer): r.score for r in runs["run"].scores_df().itertuples()}
    assert a == b and len(a) == 24


@pytest.mark.parametrize("chosen", [None, "strict-match", "flexible-extract"])
def test_the_import_decides_by_the_suites_filter(runs, tmp_path, chosen):
    """The imported run's deciding scorer is the suite's (its `lm_eval.filter`), as in a bridge run of that
    suite, so the gate and `compare` read the same verdicts from both; without a choice, the first filter."""
    import shutil

    from evalharness.lifecycle.imports import import_lm_eval
    from evalharness.results.run import load_run

    d = tmp_path / "s"
    shutil.copytree(TASKS, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    if chosen:
        (d / "suite_apples.yaml").write_text((d / "suite_apples.yaml").read_text().replace(
            "include_path: .", f"include_path: .\n  filter: {chosen}"))
    bound = {b.name: b.metric_only for b in load_suite(d / "suite_apples.yaml").cases[0].scorers}
    imported = load_run(import_lm_eval(runs["lm_out"], tmp_path / "out", target="scripted",
                                       suites=[d / "suite_apples.yaml"]).run_dir).scores_df()
    got = imported.groupby("scorer")["metric_only"].agg(lambda x: set(x))
    assert {k: v for k, v in got.items()} == {k: {v} for k, v in bound.items()}
    assert [k for k, v in bound.items() if not v] == [f"exact_match,{chosen or 'strict-match'}"]
