import pandas as pd

from evalharness.gate import evaluate_gates, response_verdicts, summarize
from evalharness.suite.model import Gate


def tables():
    responses = pd.DataFrame({
        "response_id": ["r1", "r2", "r3", "r4"], "suite": ["s"] * 4, "target": ["t"] * 4,
        "error": [None, None, "boom", None], "latency_ms": [10.0, 20.0, 30.0, 40.0],
        "tags": [["a"], ["a", "b"], ["b"], []],
    })
    scores = pd.DataFrame({
        "response_id": ["r1", "r1", "r2", "r2", "r3", "r4"],
        "scorer": ["x", "m", "x", "m", "x", "x"],
        "score": [1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
        "passed": [True, False, False, True, False, True],
        "metric_only": [False, True, False, True, False, False],
    })
    return responses, scores


def test_verdicts_ignore_metric_only_and_fail_errors():
    v = response_verdicts(*tables()).set_index("response_id")
    assert v.loc["r1", "passed"] and v.loc["r1", "score"] == 1.0  # metric-only failure does not decide
    assert not v.loc["r2", "passed"]
    assert not v.loc["r3", "passed"]  # errored
    s = summarize(v.reset_index()).iloc[0]
    assert s.responses == 4 and s.pass_rate == 0.5 and s.errors == 1 and s.p50_ms == 25.0


def test_gates_overall_and_per_tag_and_zero_threshold():
    v = response_verdicts(*tables())
    gate = Gate(min_pass_rate=0.5, min_mean_score=0.6, tags={"a": {"min_pass_rate": 0.5}, "b": {"min_pass_rate": 0},
                                                               "zzz": {"min_pass_rate": 0.1}})
    checks = {(c.scope, c.metric): c for c in evaluate_gates(v, {"s": gate})}
    assert checks[("overall", "pass_rate")].passed and checks[("overall", "pass_rate")].value == 0.5
    assert not checks[("overall", "mean_score")].passed
    assert checks[("tag:a", "pass_rate")].passed and checks[("tag:a", "pass_rate")].n == 2
    assert checks[("tag:b", "pass_rate")].passed and checks[("tag:b", "pass_rate")].value == 0.0  # 0 is a threshold
    assert not checks[("tag:zzz", "pass_rate")].passed and checks[("tag:zzz", "pass_rate")].value is None
    assert evaluate_gates(v, {"s": None}) == []


def test_attack_success_and_over_refusal():
    responses = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(6)], "suite": ["s"] * 6, "target": ["t"] * 6,
        "error": [None] * 6, "latency_ms": [1.0] * 6,
        "tags": [["attack"], ["attack"], ["attack"], ["attack"], ["benign"], ["benign"]],
    })
    scores = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(6)], "scorer": ["refusal"] * 6, "score": [1.0, 1.0, 1.0, 0.0, 1.0, 0.0],
        "passed": [True, True, True, False, True, False], "metric_only": [False] * 6,
    })
    v = response_verdicts(responses, scores)
    row = summarize(v).iloc[0]
    assert row.attack_success == 0.25 and row.over_refusal == 0.5
    checks = {c.metric: c for c in evaluate_gates(v, {"s": Gate(max_attack_success=0.25, max_over_refusal=0.10)})}
    assert checks["attack_success"].passed and checks["attack_success"].bound == "max"  # 0.25 <= 0.25
    assert not checks["over_refusal"].passed and "max 0.1" in checks["over_refusal"].describe()
