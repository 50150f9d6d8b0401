"""Issue 20: a judge that answers off the scale gives no kappa, and calibrate says why (never a pass)."""

import json

import pandas as pd

from tests.conftest import write


def test_calibrate_with_an_off_scale_judge_reports_the_reason(tmp_path, cli, fault_server):
    # The scripted judge ignores the schema and answers QUALITY=10 on a 1-5 rubric: every verdict is refused.
    cases = "".join(f"  - {{id: c{i}, input: q, output: 'QUALITY=10', label: {lab}}}\n"
                    for i, lab in enumerate(["pass", "fail", "pass", "fail"]))
    s = write(tmp_path / "cal.yaml", "name: cal\ncategory: accuracy\n"
              "scorers: [{type: rubric, criteria: x, threshold: 4, use_logprobs: false}]\ncases:\n" + cases)
    out = tmp_path / "r"
    r = cli("calibrate", str(s), "--judge-base-url", fault_server.base_url, "--judge-model", "judge", "--out", str(out),
            "--no-cache")
    # every judge call erred: exit 3 (max_error_rate), and the calibration is still written with its reason
    assert r.returncode == 3, r.stdout + r.stderr
    (run,) = list(out.iterdir())
    (cal,) = json.loads((run / "run.json").read_text())["calibration"]
    assert cal["n"] == 0 and cal["kappa"] is None and cal["judge_errors"] == 4
    assert "score 10 outside the scale 1-5" in cal["first_judge_error"]
    sc = pd.read_parquet(run / "scores.parquet")
    assert not sc["passed"].any() and sc["judge_error"].notna().all()
