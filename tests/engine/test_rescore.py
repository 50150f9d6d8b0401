"""Re-scoring a stored run with changed scorers, with the model server gone."""

import pandas as pd

from tests.conftest import ServerProc, write


def test_rescore_without_the_model(tmp_path, cli):
    server = ServerProc()
    s = write(tmp_path / "s.yaml", "name: rs\ncategory: accuracy\nscorers: [{type: exact, value: 'ok yes'}]\n"
              "cases:\n  - {id: a, input: 'REPLY=ok yes'}\n  - {id: b, input: 'REPLY=no way'}\n")
    out = tmp_path / "r"
    try:
        r = cli("run", str(s), "--base-url", server.base_url, "--model", "m", "--no-cache", "--out", str(out))
        assert r.returncode == 0, r.stderr
    finally:
        server.stop()  # from here on, no model is reachable
    (run,) = list(out.iterdir())
    s2 = write(tmp_path / "s2" / "s.yaml", "name: rs\ncategory: accuracy\nscorers: [{type: contains_any, values: [ok, way]}, "
               "{type: length, max: 5, name: short}]\ngate: {min_pass_rate: 0.5}\n"
               "cases:\n  - {id: a, input: 'REPLY=ok yes'}\n  - {id: b, input: 'REPLY=no way'}\n")
    out2 = tmp_path / "r2"
    r = cli("rescore", str(run), "--suite", str(s2), "--out", str(out2))
    assert r.returncode == 1, r.stdout + r.stderr  # `short` fails both: pass rate 0 < 0.5
    (new,) = list(out2.iterdir())
    old_resp = pd.read_parquet(run / "responses.parquet").drop(columns=["run_id"]).sort_values("case_id").reset_index(drop=True)
    new_resp = pd.read_parquet(new / "responses.parquet").drop(columns=["run_id"]).sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(old_resp, new_resp)  # the same responses, untouched
    sc = pd.read_parquet(new / "scores.parquet").set_index(["case_id", "scorer"])
    assert set(sc.index.get_level_values("scorer")) == {"contains_any", "short"}
    assert sc.loc[("a", "contains_any"), "passed"] and sc.loc[("b", "contains_any"), "passed"]
    assert not sc.loc[("a", "short"), "passed"]
    # default: the run's own suites
    r = cli("rescore", str(run), "--out", str(tmp_path / "r3"))
    assert r.returncode == 0
    (again,) = list((tmp_path / "r3").iterdir())
    assert pd.read_parquet(again / "scores.parquet")["passed"].tolist().count(True) == 1
    # a suite that no longer has case b: b is left out of the new run (not counted as a pass) and reported
    s3 = write(tmp_path / "s3" / "s.yaml", "name: rs\ncategory: accuracy\nscorers: [{type: contains, value: way}]\n"
               "cases:\n  - {id: a, input: 'REPLY=ok yes'}\n")
    r = cli("rescore", str(run), "--suite", str(s3), "--out", str(tmp_path / "r4"))
    assert r.returncode == 0, r.stdout + r.stderr
    (only_a,) = list((tmp_path / "r4").iterdir())
    assert pd.read_parquet(only_a / "responses.parquet")["case_id"].tolist() == ["a"]
    sc = pd.read_parquet(only_a / "scores.parquet")
    assert sc["case_id"].tolist() == ["a"] and not sc["passed"].any()
    import json
    manifest = json.loads((only_a / "run.json").read_text())
    assert manifest["rescore"] == {"responses": 2, "skipped_not_in_suites": 1}
    assert manifest["summary"][0]["responses"] == 1 and manifest["summary"][0]["pass_rate"] == 0.0


def test_rescore_with_a_judge_scores_every_response_once(tmp_path, cli, fault_server):
    """Judge scorers are scored by concurrent workers: 150 responses (more than the workers), each
    scored exactly once, with the verdict the scripted judge gives for that response."""
    cases = "".join(f"  - {{id: c{i}, input: q{i}, output: 'answer {i} QUALITY={4 if i % 2 else 2}'}}\n"
                    for i in range(150))
    s = write(tmp_path / "s.yaml", "name: rj\ncategory: hallucination\nscorers: [{type: contains, value: answer}]\n"
              "cases:\n" + cases)
    out = tmp_path / "r"
    assert cli("run", str(s), "--target", "recorded", "--no-cache", "--out", str(out)).returncode == 0
    (run,) = list(out.iterdir())
    s2 = write(tmp_path / "s2" / "s.yaml",
               "name: rj\ncategory: hallucination\n"
               "scorers: [{type: rubric, criteria: 'Correct.', scale: [1, 5], threshold: 3}]\ncases:\n" + cases)
    r = cli("rescore", str(run), "--suite", str(s2), "--out", str(tmp_path / "r2"), "--cache-dir", str(tmp_path / "c"),
            "--judge-base-url", fault_server.base_url, "--judge-model", "judge")
    assert r.returncode == 0, r.stdout + r.stderr
    (new,) = list((tmp_path / "r2").iterdir())
    sc = pd.read_parquet(new / "scores.parquet")
    assert len(sc) == 150 and sc["case_id"].is_unique and set(sc["scorer"]) == {"rubric"}
    assert sc["judge_error"].isna().all() and (sc["judge_model"] == "judge").all()
    by_case = sc.set_index("case_id")
    for i in range(150):
        assert by_case.loc[f"c{i}", "passed"] == bool(i % 2), i
