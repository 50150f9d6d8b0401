"""Repeats, flakiness, quarantine, the Wilson gate and the regression gate against a baseline run."""

import json

import pandas as pd

from tests.conftest import write


def only_run(out):
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_repeats_flaky_and_quarantine(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", "name: fl\ncategory: accuracy\nscorers: [{type: exact, value: ok}]\n"
              "quarantine: [flaky]\ngate: {min_pass_rate: 1.0}\ncases:\n"
              "  - {id: steady, input: 'REPLY=ok'}\n  - {id: flaky, input: 'FAULT:flaky'}\n")
    out = tmp_path / "r"
    r = cli("run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--repeats", "4", "--no-cache",
            "--concurrency", "1", "--out", str(out))
    assert r.returncode == 0, r.stdout  # the flaky case is quarantined: the gate sees only `steady`
    run = only_run(out)
    cs = pd.read_parquet(run / "cases.parquet").set_index("case_id")
    assert cs.loc["flaky", "repeats"] == 4 and cs.loc["flaky", "passes"] == 2 and cs.loc["flaky", "flaky"]
    assert cs.loc["flaky", "pass_at_k"] == 1.0 and cs.loc["flaky", "pass_hat_k"] == 0.0 and cs.loc["flaky", "quarantined"]
    assert cs.loc["steady", "pass_hat_k"] == 1.0 and not cs.loc["steady", "flaky"]
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["cases"] == {"flaky": ["fl/flaky"], "quarantined": ["fl/flaky"]}


def test_unknown_quarantine_id_is_config_error(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: q\ncategory: accuracy\nscorers: [{type: exact}]\nquarantine: [nope]\n"
              "cases: [{id: a, input: q, output: o}]\n")
    r = cli("validate", str(s))
    assert r.returncode == 2 and f"{s}:4: quarantine[0]: no case with id 'nope'" in r.stderr


def recorded(tmp_path, name, failing, gate=""):
    cases = "".join(f"  - {{id: c{i}, input: q, output: '{'no' if i in failing else 'ok'}'}}\n" for i in range(40))
    return write(tmp_path / name / "s.yaml", f"name: reg\ncategory: regression\nscorers: [{{type: exact, value: ok}}]\n"
                 f"{gate}cases:\n{cases}")


def test_wilson_lower_bound_gate(tmp_path, cli):
    s = recorded(tmp_path, "w", failing=set(range(8)), gate="gate: {min_pass_rate: 0.7, use_wilson: true}\n")
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "w" / "out"))
    # 32/40 = 0.80 passes the point value, but the Wilson lower bound is 0.652 < 0.7
    assert r.returncode == 1 and "pass_rate_wilson_lb 0.652" in r.stdout


def test_regression_gate_against_baseline(tmp_path, cli):
    gate = "gate: {max_regression: 0.02, significance: 0.05}\n"
    r = cli("run", str(recorded(tmp_path, "base", {0, 1}, gate)), "--target", "recorded", "--out", str(tmp_path / "base" / "out"))
    base = only_run(tmp_path / "base" / "out")
    big = recorded(tmp_path, "big", {0, 1} | set(range(10, 22)), gate)
    md = tmp_path / "summary.md"
    r = cli("run", str(big), "--target", "recorded", "--baseline", str(base), "--out", str(tmp_path / "big" / "out"),
            "--summary", str(md))
    assert r.returncode == 1
    assert f"FAIL reg [recorded vs recorded@{base.name}] vs baseline (p=0.0005) significant_drop 0.300" in r.stdout
    text = md.read_text()
    assert "### Against the baseline" in text
    assert f"| reg | recorded | recorded@{base.name} | 40 | 95.0% | 65.0% | -0.300 |" in text
    assert "`reg/c10`" in text
    small = recorded(tmp_path, "small", {0, 2, 3}, gate)
    r = cli("run", str(small), "--target", "recorded", "--baseline", str(base), "--out", str(tmp_path / "small" / "out"))
    assert r.returncode == 0
    assert f"PASS reg [recorded vs recorded@{base.name}] vs baseline (p=1.0000) significant_drop 0.000" in r.stdout
