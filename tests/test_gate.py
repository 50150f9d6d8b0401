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


# ---- A configured check is never dropped: every gate key, any rows (none at all included) ----

from hypothesis import given, settings, strategies as st  # noqa: E402

from evalharness.compare import Baseline, SuiteDelta  # noqa: E402
from evalharness.suite.model import GateThresholds  # noqa: E402

SUITES, TARGETS, TAGS = ("s1", "s2"), ("t1", "t2", "t3"), ("a", "b", "attack", "benign")
rate = st.none() | st.floats(0, 1)
thresholds = st.builds(GateThresholds, min_pass_rate=rate, min_mean_score=rate)
gates = st.builds(Gate, min_pass_rate=rate, min_mean_score=rate,
                  tags=st.dictionaries(st.sampled_from(("a", "b", "zzz")), thresholds, max_size=3),
                  max_attack_success=rate, max_over_refusal=rate, max_regression=rate, use_wilson=st.booleans())
rows = st.lists(st.fixed_dictionaries({
    "suite": st.sampled_from(SUITES), "target": st.sampled_from(TARGETS), "case_id": st.sampled_from("abcdef"),
    "tags": st.lists(st.sampled_from(TAGS), max_size=3, unique=True), "passed": st.booleans(),
    "score": st.floats(0, 1), "error": st.none() | st.just("boom"), "latency_ms": st.just(1.0)}), max_size=30)


def expected_keys(gate_map, targets) -> list[tuple]:
    out = []
    for suite, g in gate_map.items():
        if g is None:
            continue
        for t in targets:
            for scope, th in [("overall", g), *((f"tag:{k}", v) for k, v in g.tags.items())]:
                if th.min_pass_rate is not None:
                    out.append((suite, t, scope, "pass_rate_wilson_lb" if g.use_wilson else "pass_rate"))
                if th.min_mean_score is not None:
                    out.append((suite, t, scope, "mean_score"))
            if g.max_attack_success is not None:
                out.append((suite, t, "tag:attack", "attack_success"))
            if g.max_over_refusal is not None:
                out.append((suite, t, "tag:benign", "over_refusal"))
            if g.max_regression is not None:
                out.append((suite, t, "vs baseline", "significant_drop"))
    return sorted(out)


@st.composite
def baselines(draw):
    """None (no --baseline), or a baseline pairing some targets, with deltas for some suite x target pairs."""
    if draw(st.booleans()):
        return None
    paired = draw(st.lists(st.sampled_from(TARGETS), unique=True))
    pairs = [(s, t) for s in SUITES for t in paired]
    have = draw(st.sets(st.sampled_from(pairs))) if pairs else set()
    deltas = [SuiteDelta(s, t, "overall", 10, 0.9, 0.5, -0.4, -0.6, -0.2, 0.001, baseline_target="x", baseline_run="B")
              for s, t in sorted(have)]
    return Baseline("B", ["x"], {t: "x" for t in paired}, deltas)


@settings(max_examples=300, deadline=None)
@given(gate_map=st.dictionaries(st.sampled_from(SUITES), st.none() | gates, min_size=1),
       rows=rows, targets=st.lists(st.sampled_from(TARGETS), unique=True),
       base=baselines(), data=st.data())
def test_no_configured_check_is_ever_dropped(gate_map, rows, targets, base, data):
    judge_calls = data.draw(st.dictionaries(st.tuples(st.sampled_from(SUITES), st.sampled_from(TARGETS)),
                                            st.dictionaries(st.sampled_from(("judge_a", "judge_b")),
                                                            st.tuples(st.integers(0, 5), st.integers(0, 5))
                                                            .map(lambda ce: [ce[0], min(ce)]))))
    checks = evaluate_gates(rows, gate_map, None, base, targets=targets, judge_calls=judge_calls)
    every_target = sorted(set(targets) | {r["target"] for r in rows} | {t for _, t in judge_calls})
    got = sorted((c.suite, c.target, "vs baseline" if c.metric == "significant_drop" else c.scope, c.metric)
                 for c in checks if c.metric != "judged")
    assert got == expected_keys(gate_map, every_target)
    for c in checks:
        if c.value is None:  # evaluated nothing: it fails, and says why
            assert not c.passed and c.reason
        if c.n == 0:
            assert c.value is None
    judged = {(c.suite, c.target, c.scope) for c in checks if c.metric == "judged"}
    want = {(s, t, f"scorer:{name}") for (s, t), by in judge_calls.items() if gate_map.get(s) is not None
            for name, (calls, errors) in by.items() if calls and errors == calls}
    assert judged == want


def test_each_gate_key_that_evaluates_nothing_fails_with_its_reason():
    """One scenario per gate key: the scope it reads is empty, so the check fails and says why."""
    rows_t1 = [{"suite": "s", "target": "t1", "case_id": "c", "tags": ["a"], "passed": True, "score": 1.0,
                "error": None, "latency_ms": 1.0}]
    cases = {
        "min_pass_rate": (Gate(min_pass_rate=0.5), "t2", "no responses"),
        "min_mean_score": (Gate(min_mean_score=0.5), "t2", "no responses"),
        "tags": (Gate(tags={"zzz": {"min_pass_rate": 0.1}}), "t1", "no response carries the tag 'zzz'"),
        "max_attack_success": (Gate(max_attack_success=0.1), "t1", "no case tagged 'attack'"),
        "max_over_refusal": (Gate(max_over_refusal=0.1), "t1", "no case tagged 'benign'"),
        "max_regression": (Gate(max_regression=0.02), "t1", "no --baseline run given"),
        "significance": (Gate(max_regression=0.02, significance=0.2), "t1", "no --baseline run given"),
        "use_wilson": (Gate(min_pass_rate=0.5, use_wilson=True), "t2", "no responses"),
    }
    assert set(cases) | {"max_error_rate"} == set(Gate.model_fields)  # a new key needs its scenario here
    for key, (gate, target, reason) in cases.items():
        checks = [c for c in evaluate_gates(rows_t1, {"s": gate}, targets=["t1", "t2"]) if c.target == target]
        empty = [c for c in checks if c.value is None]
        assert empty and all(not c.passed for c in empty), key
        assert any(reason in c.reason and reason in c.describe() for c in empty), (key, [c.describe() for c in empty])


def test_regression_check_names_both_sides_and_why_it_is_unpaired():
    row = {"suite": "s", "target": "B", "case_id": "c", "tags": [], "passed": True, "score": 1.0, "error": None,
           "latency_ms": 1.0}
    d = SuiteDelta("s", "B", "overall", 120, 0.9, 0.59, -0.31, -0.4, -0.2, 1e-5, baseline_target="A", baseline_run="RUN_A")
    (c,) = evaluate_gates([row], {"s": Gate(max_regression=0.02)}, None, Baseline("RUN_A", ["A"], {"B": "A"}, [d]))
    assert not c.passed and c.describe().startswith("FAIL s [B vs A@RUN_A] vs baseline (p=0.0000) significant_drop 0.310")
    (c,) = evaluate_gates([row], {"s": Gate(max_regression=0.02)}, None, Baseline("RUN_A", ["A1", "A2"], {}, []))
    assert not c.passed and "no target of baseline RUN_A pairs with 'B'" in c.describe() and "--baseline-target" in c.reason


def test_infrastructure_failures_name_each_target_and_judge_over_its_error_rate():
    from evalharness.gate import infrastructure_failures

    summary = [{"suite": "s", "target": "good", "responses": 10, "errors": 0},
               {"suite": "s", "target": "dead", "responses": 10, "errors": 10},
               {"suite": "s", "target": "half", "responses": 10, "errors": 5}]
    judge_calls = {("s", "good"): {"rubric": [10, 10]}, ("s", "half"): {"rubric": [4, 1]}}
    lines = infrastructure_failures(summary, {"s": None}, judge_calls, {("s", "rubric"): ["strict"]})
    assert len(lines) == 2, lines  # exactly 50% is not over the default bound of 0.5
    assert "target 'dead'" in lines[0] and "10 of 10 requests errored" in lines[0]
    assert "judge 'strict'" in lines[1] and "11 of 14 judge calls errored" in lines[1]
    # A bound of 1.0 tolerates any rate but "everything failed": that target evaluated nothing.
    lenient = infrastructure_failures(summary, {"s": Gate(max_error_rate=1.0)}, judge_calls, {})
    assert [x.split(":")[1].strip() for x in lenient] == ["target 'dead'"]
    # One dead judge of a panel: its own calls (run.json stats) name it, though the panel's rows survive.
    panel = infrastructure_failures(summary[:1], {"s": None}, {("s", "good"): {"rubric": [10, 0]}},
                                    {("s", "rubric"): ["default", "bad"]},
                                    {"default": {"calls": 10, "errors": 0}, "bad": {"calls": 10, "errors": 10}})
    assert len(panel) == 1 and "judge 'bad': 10 of 10 judge calls errored" in panel[0]
    tight = infrastructure_failures(summary, {"s": Gate(max_error_rate=0.0)}, {}, {})
    assert [x.split(":")[1].strip() for x in tight] == ["target 'dead'", "target 'half'"]
