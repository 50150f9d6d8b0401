"""The public Python API (evalharness.api) against recorded targets: no model, no server."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from evalharness import api
from tests.conftest import ROOT, run_cli, write


def qa_suite(path, *, rome: str = "Milan is the capital.", gate: str = "{min_pass_rate: 1.0}", extra: str = ""):
    return write(path, f"""name: qa
category: accuracy
scorers: [{{type: contains}}]
gate: {gate}
cases:
  - {{id: capital, input: "Capital of France?", expected: Paris, output: "Paris, of course.", tags: [europe]}}
  - {{id: italy, input: "Capital of Italy?", expected: Rome, output: "{rome}", tags: [europe]}}
  - {{id: spain, input: "Capital of Spain?", expected: Madrid, output: "Madrid."}}
{extra}""")


def test_run_that_passes_and_its_typed_results(tmp_path):
    s = qa_suite(tmp_path / "s" / "qa.yaml", rome="Rome.")
    result = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False)
    assert result.passed and result.exit_code == 0
    assert result.run_dir.parent == tmp_path / "r" and result.run_id == result.run_dir.name
    assert [(r["suite"], r["target"], r["pass_rate"]) for r in result.summary] == [("qa", "recorded", 1.0)]
    assert result.checks and all(c.passed for c in result.checks)
    assert result.failures() == []
    result.assert_passed()  # no exception

    run = api.load_run(result.run_dir)
    m = run.manifest
    assert isinstance(m, api.RunManifest)
    assert m.run_id == result.run_id and m.status == "complete" and m.exit_code == 0 and m.gate.passed
    assert m.suites[0].name == "qa" and m.suites[0].cases == 3 and m.suites[0].content_hash
    assert [t.name for t in m.targets] == ["recorded"] and m.options["target_names"] == ["recorded"]
    assert run.passed is True and run.summary == result.summary
    t = run.responses(columns=["case_id", "output"])
    assert t.num_rows == 3 and t.column_names == ["case_id", "output"]
    assert sorted(run.scores()["scorer"].to_pylist()) == ["contains"] * 3
    df = run.responses_df()
    assert sorted(df["case_id"]) == ["capital", "italy", "spain"]
    assert run.scores().to_pandas()["passed"].all()
    from evalharness.gate import verdict_table

    assert verdict_table(run.responses(), run.scores())["passed"].to_pylist() == [True, True, True]


def test_failed_gate_is_a_result_and_assert_passed_lists_checks_and_reasons(tmp_path):
    s = qa_suite(tmp_path / "qa.yaml")
    result = api.run([s], targets="recorded", out=tmp_path / "r", cache=api.Cache(enabled=False))
    assert not result.passed and result.exit_code == 1
    (bad,) = result.failed_checks()
    assert bad.suite == "qa" and bad.metric == "pass_rate"
    (f,) = result.failures()
    assert (f.suite, f.case_id, f.target, f.error) == ("qa", "italy", "recorded", None)
    assert f.scorers == (("contains", "does not contain 'Rome'"),)
    with pytest.raises(AssertionError) as e:
        result.assert_passed()
    msg = str(e.value)
    assert "FAIL qa [recorded] overall pass_rate 0.667 (min 1, n=3)" in msg
    assert "qa/italy [recorded]: contains: does not contain 'Rome' (output: 'Milan is the capital.')" in msg
    assert result.run_dir.name in msg


def test_selection_output_and_transport_reach_the_engine(tmp_path):
    s = qa_suite(tmp_path / "qa.yaml", rome="Rome")
    junit = tmp_path / "junit.xml"
    result = api.run(s, targets=["recorded"], select=api.Selection(limit=2, repeats=2),
                     out=api.Output(tmp_path / "r", junit=junit, batch_rows=1),
                     transport=api.Transport(concurrency=1), cache=False)
    assert result.passed and junit.is_file()
    run = result.load()
    assert run.responses().num_rows == 4  # 2 cases x 2 repeats
    assert run.manifest.options["repeats"] == 2 and run.manifest.options["limit"] == 2


def test_configuration_problems_raise_config_errors(tmp_path):
    bad = write(tmp_path / "bad.yaml", "name: x\ncategory: accuracy\nscorers: [{type: exakt}]\ncases: [{id: a, input: q}]\n")
    with pytest.raises(api.SuiteError) as e:
        api.run(bad, targets=["recorded"], out=tmp_path / "r")
    assert isinstance(e.value, api.ConfigError) and "unknown scorer type 'exakt'" in str(e.value)
    assert e.value.problems and e.value.problems[0].file == str(bad)
    good = qa_suite(tmp_path / "qa.yaml")
    with pytest.raises(api.ConfigError, match="give suite files"):
        api.run([], targets=["recorded"])
    with pytest.raises(api.ConfigError, match="unknown target 'recordd'.*did you mean 'recorded'"):
        api.run(good, targets=["recordd"], out=tmp_path / "r")
    with pytest.raises(api.ConfigError, match="not a target"):
        api.run(good, targets=[42], out=tmp_path / "r")
    with pytest.raises(api.ConfigError, match="one Endpoint per run"):
        api.run(good, targets=[api.Endpoint("http://a/v1", "a"), api.Endpoint("http://b/v1", "b")])
    with pytest.raises(api.ConfigError, match="repeats: must be at least 1"):
        api.Selection(repeats=0)
    with pytest.raises(api.ConfigError, match="--shard"):
        api.run(good, targets=["recorded"], select=api.Selection(shard="3/2"), out=tmp_path / "r")
    with pytest.raises(api.ConfigError, match="not a finished run folder"):
        api.rescore(tmp_path / "nowhere", out=tmp_path / "r")
    with pytest.raises(api.ConfigError):
        api.load_run(tmp_path / "nowhere")


def test_an_unreachable_target_raises_infra_error(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains, value: x}]\n"
              "cases: [{id: a, input: q}]\n")
    with pytest.raises(api.InfraError, match="unreachable"):
        api.run(s, targets=[api.Endpoint(f"http://127.0.0.1:{port}/v1", "m")], out=tmp_path / "r", cache=False,
                transport=api.Transport(max_retries=0, timeout_s=5))


def test_rescore_compare_and_merge_from_python(tmp_path):
    a = api.run(qa_suite(tmp_path / "a" / "qa.yaml", rome="Rome."), targets=["recorded"], out=tmp_path / "r",
                cache=False)
    b = api.run(qa_suite(tmp_path / "b" / "qa.yaml"), targets=["recorded"], out=tmp_path / "r", cache=False)
    assert a.passed and not b.passed

    # rescore run B with a suite whose scorer accepts Milan: it passes now, without any model
    lenient = qa_suite(tmp_path / "lenient" / "qa.yaml").read_text().replace(
        "scorers: [{type: contains}]", "scorers: [{type: contains_any, values: [Paris, Milan, Madrid]}]")
    write(tmp_path / "lenient" / "qa.yaml", lenient)
    r = api.rescore(b.run_dir, tmp_path / "lenient" / "qa.yaml", out=tmp_path / "rescored")
    assert r.passed and r.run_dir.parent == tmp_path / "rescored"
    assert r.load().manifest.rescored_from == b.run_id
    assert api.rescore(b.run_dir, out=tmp_path / "rescored").exit_code == 1  # the run's own suites

    cmp = api.compare(a.run_dir, b.run_dir)
    (overall,) = cmp.overall
    assert (overall.suite, overall.target, overall.n) == ("qa", "recorded", 3)
    assert overall.regressed == ["italy"] and overall.delta < 0
    assert not overall.significant_regression and cmp.passed and cmp.exit_code == 0  # one flip: not significant
    assert any(d.scope == "tag:europe" for d in cmp.deltas)
    with pytest.raises(api.ConfigError, match="is not a target of the baseline run"):
        api.compare(a.run_dir, b.run_dir, baseline_target="nope")

    # shards merged: the same verdict as the whole run
    s = tmp_path / "b" / "qa.yaml"
    parts = [api.run(s, targets=["recorded"], select=api.Selection(shard=f"{i}/2"), out=tmp_path / "parts",
                     cache=False) for i in (1, 2)]
    merged = api.merge([p.run_dir for p in parts], tmp_path / "merged")
    assert merged.exit_code == 1 and merged.run_dir == tmp_path / "merged"
    m = api.load_run(merged.run_dir).manifest
    assert sorted(m.merged_from) == sorted(p.run_id for p in parts) and m.shard is None
    assert api.load_run(merged.run_dir).responses().num_rows == 3
    with pytest.raises(api.ConfigError, match="already exists"):
        api.merge([p.run_dir for p in parts], tmp_path / "merged")


def test_snapshot_and_generate_from_python(tmp_path):
    import yaml

    run = api.run(qa_suite(tmp_path / "qa.yaml"), targets=["recorded"], out=tmp_path / "r", cache=False)
    w = api.snapshot(run.run_dir, "qa", tmp_path / "golden.yaml", scorer="exact")
    assert (w.cases, w.target) == (3, "recorded")
    doc = yaml.safe_load(w.path.read_text())
    assert doc["category"] == "regression" and all(c["scorers"] == [{"type": "exact"}] for c in doc["cases"])
    assert {c["id"]: c["expected"] for c in doc["cases"]}["italy"] == "Milan is the capital."
    with pytest.raises(api.ConfigError, match="suite 'nope' is not in"):
        api.snapshot(run.run_dir, "nope", tmp_path / "g.yaml")

    g = api.generate(tmp_path / "qa.yaml", tmp_path / "expanded.yaml", mutators=["leetspeak"])
    assert (g.cases, g.seeds) == (6, 3)
    ids = [c["id"] for c in yaml.safe_load(g.path.read_text())["cases"]]
    assert "capital~leetspeak" in ids
    with pytest.raises(api.ConfigError, match="unknown mutator"):
        api.generate(tmp_path / "qa.yaml", tmp_path / "x.yaml", mutators="nosuch")
    with pytest.raises(api.ConfigError, match="--paraphrase needs"):
        api.generate(tmp_path / "qa.yaml", tmp_path / "x.yaml", paraphrase=2)


def _resumable(tmp_path):
    """A finished run whose run.json is then edited as an older (or broken) version would have left it."""
    s = qa_suite(tmp_path / "qa.yaml", rome="Rome")
    result = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False)
    path = result.run_dir / "run.json"
    return result.run_dir, path, json.loads(path.read_text())


def test_resume_with_a_renamed_option(tmp_path, monkeypatch):
    run_dir, path, m = _resumable(tmp_path)
    # An older version called `target_names` `targets`: set, its meaning would be lost -> a clear ConfigError.
    m["options"]["targets"] = m["options"].pop("target_names")
    path.write_text(json.dumps(m))
    with pytest.raises(api.ConfigError) as e:
        api.resume(run_dir)
    assert "options.targets: not an option of this version" in str(e.value) and str(path) in str(e.value)
    # With the rename known, the older run resumes.
    monkeypatch.setitem(api.OPTION_RENAMES, "targets", "target_names")
    assert api.resume(run_dir).passed
    monkeypatch.delitem(api.OPTION_RENAMES, "targets")
    # An unknown option that was not set is ignored, with a warning.
    m = json.loads(path.read_text())
    m["options"]["legacy_flag"] = None
    path.write_text(json.dumps(m))
    with pytest.warns(api.EvalHarnessWarning, match="options.legacy_flag"):
        assert api.resume(run_dir).passed


def test_resume_with_mistyped_or_broken_saved_options_is_exit_2(tmp_path):
    run_dir, path, m = _resumable(tmp_path)
    m["options"]["repeats"] = "twice"
    path.write_text(json.dumps(m))
    with pytest.raises(api.ConfigError, match="options.repeats"):
        api.resume(run_dir)
    r = run_cli("run", "--resume", str(run_dir))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"{path}: options.repeats:" in r.stderr
    m["options"]["repeats"] = 0  # the right type, an impossible value
    path.write_text(json.dumps(m))
    r = run_cli("run", "--resume", str(run_dir))
    assert r.returncode == 2 and "options.repeats: must be at least 1" in r.stderr, r.stderr
    m["options"]["paths"] = "not a list"
    m["options"]["repeats"] = 1
    path.write_text(json.dumps(m))
    r = run_cli("run", "--resume", str(run_dir))
    assert r.returncode == 2 and "options.paths" in r.stderr and "Traceback" not in r.stderr, r.stderr
    path.write_text("{ not json")
    r = run_cli("run", "--resume", str(run_dir))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and str(path) in r.stderr, r.stderr
    # the renamed option through the command line: exit 2 naming the key; an unset unknown one: a warning
    m = json.loads(json.dumps(_resumable(tmp_path / "again")[2]))
    run2 = tmp_path / "again" / "r" / m["run_id"]
    m["options"]["targets"] = m["options"].pop("target_names")
    (run2 / "run.json").write_text(json.dumps(m))
    r = run_cli("run", "--resume", str(run2))
    assert r.returncode == 2 and "options.targets: not an option of this version" in r.stderr, r.stderr
    m["options"]["target_names"] = m["options"].pop("targets")
    m["options"]["legacy_flag"] = False
    (run2 / "run.json").write_text(json.dumps(m))
    r = run_cli("run", "--resume", str(run2))
    assert r.returncode == 0, r.stderr
    assert "warning: " in r.stderr and "options.legacy_flag: not an option of this version" in r.stderr


def test_import_evalharness_stays_cheap_and_exports_the_api_lazily():
    code = ("import sys, evalharness\n"
            "before = [m for m in ('evalharness.api', 'pydantic', 'pyarrow', 'pandas') if m in sys.modules]\n"
            "from evalharness import run, load_run, RunResult, ConfigError\n"
            "import evalharness.api as api\n"
            "assert run is api.run and load_run is api.load_run and ConfigError is api.ConfigError\n"
            "assert 'run' in dir(evalharness)\n"
            "print(before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_api_never_exits_the_process(tmp_path):
    """Configuration and infrastructure problems are exceptions, never SystemExit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: api.run("nope.yaml", targets=["recorded"], out=tmp_path),
                     lambda: api.compare(tmp_path, tmp_path),
                     lambda: api.merge([tmp_path], tmp_path / "m"),
                     lambda: api.resume(tmp_path),
                     lambda: api.snapshot(tmp_path, "x", tmp_path / "g.yaml"),
                     lambda: api.generate(tmp_path / "nope.yaml", tmp_path / "g.yaml")):
            with pytest.raises(api.ConfigError):
                call()


def test_a_response_error_is_a_failure_with_its_error(tmp_path):
    s = write(tmp_path / "s.yaml", "name: noout\ncategory: accuracy\nscorers: [{type: contains, value: x}]\n"
                                   "cases:\n  - {id: a, input: q}\n  - {id: b, input: q, output: x}\n")
    result = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False)
    assert result.passed  # no gate: a failed case decides nothing
    (f,) = result.failures()
    assert f.case_id == "a" and "no recorded `output`" in f.error and f.describe().startswith("noout/a [recorded]: error:")
    assert api.load_run(result.run_dir).failures() == [f]
