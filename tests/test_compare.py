"""Two recorded runs with injected flips: a significant regression fails, a small drop does not."""

import json

from tests.conftest import write


def make_run(tmp_path, cli, name: str, failing: set[int]) -> str:
    cases = "".join(f"  - {{id: c{i}, input: q, output: '{'no' if i in failing else 'ok'}', tags: [{'even' if i % 2 == 0 else 'odd'}]}}\n"
                    for i in range(40))
    s = write(tmp_path / name / "s.yaml", f"name: reg\ncategory: regression\nscorers: [{{type: exact, value: ok}}]\ncases:\n{cases}")
    out = tmp_path / name / "out"
    r = cli("run", str(s), "--target", "recorded", "--out", str(out))
    assert r.returncode == 0, r.stderr
    (run,) = list(out.iterdir())
    return str(run)


def test_significant_regression_fails_small_drop_passes(tmp_path, cli):
    base = make_run(tmp_path, cli, "a", failing={0, 1})
    big = make_run(tmp_path, cli, "b", failing={0, 1} | set(range(10, 22)))  # 12 pass->fail flips
    small = make_run(tmp_path, cli, "c", failing={0, 2, 3})  # 2 pass->fail, 1 fail->pass

    r = cli("compare", base, big)
    assert r.returncode == 1, r.stdout
    assert "REGRESSION" in r.stdout and "0.0005" in r.stdout  # exact McNemar 2/4096 = 0.000488
    assert "pass->fail reg/c10" in r.stdout
    assert "tag:even" in r.stdout and "tag:odd" in r.stdout and "scorer:exact" in r.stdout

    r = cli("compare", base, small)
    assert r.returncode == 0, r.stdout
    assert "worse, not significant" in r.stdout and "1.0000" in r.stdout  # b=2, c=1: p = 1
    assert "fail->pass reg/c1: A='no' B='ok'" in r.stdout

    r = cli("compare", base, big, "--max-regression", "0.5")
    assert r.returncode == 0  # a 30-point drop is tolerated when the bar is 50 points


# ---- One pairing rule ----

import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from evalharness.compare import PairingError, pair_targets  # noqa: E402

names = st.lists(st.sampled_from(["a", "b", "c", "d", "local", "recorded"]), unique=True, max_size=4)


@settings(max_examples=300, deadline=None)
@given(base=names, cand=names)
def test_pairing_rule(base, cand):
    pairing = pair_targets(base, cand)
    assert set(pairing) <= set(cand) and set(pairing.values()) <= set(base)
    for c in cand:
        if c in base:
            assert pairing[c] == c  # the same name first
        elif len(base) == 1:
            assert pairing[c] == base[0]  # a model swap: the baseline's only target
        else:
            assert c not in pairing  # ambiguous: left unpaired, and the gate says so
    for b in base:
        assert pair_targets(base, cand, explicit=b) == {c: b for c in cand}


def test_explicit_baseline_target_must_exist():
    with pytest.raises(PairingError, match="'zz' is not a target of the baseline run"):
        pair_targets(["a"], ["b"], explicit="zz")


def swap_suite(tmp_path, failing_for_b: set[int]):
    """40 cases answered by the scripted server: model A always right, model B wrong on `failing_for_b`."""
    cases = "".join(f"  - {{id: c{i}, input: \"q{i}\\nREPLY@A=ok\\nREPLY@B={'no' if i in failing_for_b else 'ok'}\"}}\n"
                    for i in range(40))
    return write(tmp_path / "swap.yaml", "name: reg\ncategory: regression\nscorers: [{type: exact, value: ok}]\n"
                 "gate: {max_regression: 0.02, significance: 0.05}\ncases:\n" + cases)


def test_model_swap_regression_fails_the_gate_and_names_both_sides(tmp_path, cli, fault_server):
    suite = swap_suite(tmp_path, set(range(12)))
    common = ["--base-url", fault_server.base_url, "--no-cache"]
    r = cli("run", str(suite), *common, "--model", "A", "--baseline", "none", "--out", str(tmp_path / "a"))
    assert r.returncode == 2 and "none" in r.stderr  # a baseline that is not a run folder is a config error
    r = cli("run", str(suite), *common, "--model", "A", "--out", str(tmp_path / "a"))
    assert r.returncode == 1 and "no --baseline run given" in r.stdout  # a regression gate with nothing to compare
    (run_a,) = list((tmp_path / "a").iterdir())
    md = tmp_path / "summary.md"
    r = cli("run", str(suite), *common, "--model", "B", "--baseline", str(run_a), "--out", str(tmp_path / "b"),
            "--summary", str(md))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"FAIL reg [B vs A@{run_a.name}] vs baseline (p=0.0005) significant_drop 0.300" in r.stdout
    assert f"| reg | B | A@{run_a.name} | 40 |" in md.read_text()
    (run_b,) = list((tmp_path / "b").iterdir())
    manifest = json.loads((run_b / "run.json").read_text())
    assert manifest["baseline"]["pairing"] == {"B": "A"} and manifest["exit_code"] == 1
    r = cli("compare", str(run_a), str(run_b))
    assert r.returncode == 1 and "B vs A" in r.stdout and "REGRESSION" in r.stdout


def test_unpaired_target_fails_and_baseline_target_chooses(tmp_path, cli, fault_server):
    suite = swap_suite(tmp_path, set())
    targets = write(tmp_path / "targets.yaml", "targets:\n"
                    f"  - {{name: A, base_url: '{fault_server.base_url}', model: A}}\n"
                    f"  - {{name: A2, base_url: '{fault_server.base_url}', model: A}}\n")
    r = cli("run", str(suite), "--targets", str(targets), "--target", "A", "--target", "A2", "--no-cache",
            "--out", str(tmp_path / "a"))
    (run_a,) = list((tmp_path / "a").iterdir())
    base = ["run", str(suite), "--base-url", fault_server.base_url, "--model", "B", "--no-cache", "--baseline", str(run_a)]
    r = cli(*base, "--out", str(tmp_path / "b"))
    assert r.returncode == 1, r.stdout + r.stderr  # two baseline targets, neither named B: nothing to compare with
    assert "no target of baseline" in r.stdout and "pairs with 'B'" in r.stdout
    r = cli(*base, "--baseline-target", "A2", "--out", str(tmp_path / "c"))
    assert r.returncode == 0 and f"PASS reg [B vs A2@{run_a.name}]" in r.stdout, r.stdout + r.stderr
    r = cli(*base, "--baseline-target", "nope", "--out", str(tmp_path / "d"))
    assert r.returncode == 2 and "'nope' is not a target of" in r.stderr


def test_a_suite_only_one_run_has_is_named_and_a_dropped_one_fails(tmp_path, cli):
    """Suites present in only one run are never left out silently: one the candidate did not run fails
    the comparison (it was compared with nothing); a new one in the candidate is reported."""
    def run_of(name, suites):
        out = tmp_path / name / "out"
        paths = []
        for suite in suites:
            paths.append(str(write(tmp_path / name / f"{suite}.yaml", f"name: {suite}\ncategory: regression\n"
                                   "scorers: [{type: exact, value: ok}]\ncases:\n  - {id: c, input: q, output: ok}\n")))
        r = cli("run", *paths, "--target", "recorded", "--out", str(out))
        assert r.returncode == 0, r.stdout + r.stderr
        (run,) = list(out.iterdir())
        return run

    a, b = run_of("a", ["kept", "dropped"]), run_of("b", ["kept", "added"])
    r = cli("compare", str(a), str(b))
    assert r.returncode == 1, r.stdout
    assert f"NOT COMPARED: suite 'dropped' is in {a.name} but has no responses in {b.name}" in r.stdout
    assert f"new suite 'added': only in {b.name}" in r.stdout
    r = cli("compare", str(b), str(b))
    assert r.returncode == 0, r.stdout
