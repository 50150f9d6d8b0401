"""Per-target and per-judge infrastructure verdicts: one dead target, or a dead judge, is exit 3 and is named,
whatever the other targets did, with or without a gate."""

import json

import pytest

from tests.conftest import write


def two_targets(tmp_path, server):
    return write(tmp_path / "targets.yaml", "targets:\n"
                 f"  - {{name: good, base_url: '{server.base_url}', model: good, max_retries: 0}}\n"
                 f"  - {{name: dead, base_url: '{server.base_url}', model: dead, max_retries: 0}}\n")


@pytest.mark.parametrize("gate", ["", "gate: {min_pass_rate: 0.5}\n"])
def test_dead_target_beside_a_healthy_one_is_exit_3(tmp_path, cli, fault_server, gate):
    cases = "".join(f"  - {{id: c{i}, input: 'q{i} FAULT@dead:500'}}\n" for i in range(6))
    s = write(tmp_path / "s.yaml", f"name: qa\ncategory: accuracy\nscorers: [{{type: contains, value: ok}}]\n{gate}"
              f"cases:\n{cases}")
    r = cli("run", str(s), "--targets", str(two_targets(tmp_path, fault_server)), "--target", "good", "--target", "dead",
            "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "infrastructure failure: target 'dead': qa: 6 of 6 requests errored" in r.stdout
    assert "target 'good'" not in r.stdout  # half of all requests errored, but only one target is dead
    (run,) = list((tmp_path / "r").iterdir())
    m = json.loads((run / "run.json").read_text())
    assert m["exit_code"] == 3 and any("'dead'" in x for x in m["infrastructure"])


def test_max_error_rate_is_a_gate_key(tmp_path, cli, fault_server):
    """Two of six requests error (33%): fine by default, an infrastructure failure under max_error_rate 0.2."""
    cases = "".join(f"  - {{id: c{i}, input: 'q{i} {'FAULT:500' if i < 2 else 'REPLY=ok'}'}}\n" for i in range(6))
    for bound, code in (("", 0), ("gate: {max_error_rate: 0.2}\n", 3)):
        s = write(tmp_path / "s.yaml", f"name: qa\ncategory: accuracy\nscorers: [{{type: contains, value: ok}}]\n"
                  f"{bound}cases:\n{cases}")
        r = cli("run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--max-retries", "0", "--no-cache",
                "--out", str(tmp_path / f"r{code}"))
        assert r.returncode == code, r.stdout + r.stderr


def test_every_judge_call_erroring_is_exit_3_without_a_gate(tmp_path, cli, fault_server):
    cases = "".join(f"  - {{id: c{i}, input: q, output: 'answer {i} JUDGE_BROKEN'}}\n" for i in range(4))
    s = write(tmp_path / "s.yaml", "name: judged\ncategory: accuracy\n"
              "scorers: [{type: rubric, criteria: 'Is it good?', metric_only: true}]\ncases:\n" + cases)
    r = cli("run", str(s), "--target", "recorded", "--judge-base-url", fault_server.base_url, "--judge-model", "j",
            "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "infrastructure failure: judge 'default': 4 of 4 judge calls errored" in r.stdout


def test_a_judge_scorer_that_judged_nothing_fails_its_gate(tmp_path, cli, fault_server):
    """Even with max_error_rate 1.0, a judge that answered nothing is infrastructure (exit 3), and the gate's
    own line for the scorer fails too: neither verdict is dropped."""
    cases = "".join(f"  - {{id: c{i}, input: q, output: 'answer {i} JUDGE_BROKEN'}}\n" for i in range(4))
    s = write(tmp_path / "s.yaml", "name: judged\ncategory: accuracy\ngate: {max_error_rate: 1.0}\n"
              "scorers: [{type: rubric, criteria: 'Is it good?', metric_only: true}]\ncases:\n" + cases)
    r = cli("run", str(s), "--target", "recorded", "--judge-base-url", fault_server.base_url, "--judge-model", "j",
            "--no-cache", "--out", str(tmp_path / "r"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "infrastructure failure: judge 'default': 4 of 4 judge calls errored" in r.stdout
    assert "FAIL judged [recorded] scorer:rubric judged n/a (every one of its 4 judge calls errored)" in r.stdout


def test_infrastructure_failure_says_why_on_the_console(tmp_path, cli):
    """`run suites/ --target recorded` on cases with nothing recorded: exit 3, and the reason is printed,
    not only stored in responses.parquet."""
    s = write(tmp_path / "s.yaml", "name: live\ncategory: accuracy\nscorers: [{type: contains, value: x}]\n"
              "cases:\n  - {id: a, input: q}\n  - {id: b, input: q}\n")
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "r"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "target 'recorded': most common error (2 of 2): recorded target: case has no recorded" in r.stdout
