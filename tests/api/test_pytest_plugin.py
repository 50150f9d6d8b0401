"""The pytest plugin (evalharness/pytest_plugin.py), run by a real pytest in a subprocess on a
temporary project against the recorded target: no model."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib

from tests.conftest import ROOT, write

SUITE = """name: qa
category: accuracy
scorers: [{type: contains}]
gate: {min_pass_rate: 1.0}
cases:
  - {id: capital, input: "Capital of France?", expected: Paris, output: "Paris, of course."}
  - {id: italy, input: "Capital of Italy?", expected: Rome, output: "Milan is the capital."}
"""
PASSING = SUITE.replace("Milan is the capital.", "Rome.").replace("name: qa", "name: good")

TESTS = '''from pathlib import Path

HERE = Path(__file__).parent


def test_good_suite(eh):
    result = eh.run(HERE / "suites" / "good.yaml")
    result.assert_passed()
    assert result.run_dir.parent == HERE / "out"


def test_bad_suite(eh):
    eh.run(HERE / "suites" / "qa.yaml").assert_passed()
'''


def registered() -> bool:
    return any(e.name == "evalharness" for e in importlib.metadata.entry_points(group="pytest11"))


def pytest_in(project, *args: str) -> subprocess.CompletedProcess:
    # Installed (pip install -e .), pytest loads the plugin through its entry point; from a checkout
    # installed before the entry point existed, it is named explicitly.
    plugin = [] if registered() else ["-p", "evalharness.pytest_plugin"]
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "-p", "no:randomly",
                           "--rootdir", str(project), *args], capture_output=True, text=True, cwd=project, env=env,
                          timeout=300)


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"evalharness": "evalharness.pytest_plugin"}


def test_eh_fixture_passes_and_fails_with_the_scorer_reason(tmp_path):
    write(tmp_path / "suites" / "qa.yaml", SUITE)
    write(tmp_path / "suites" / "good.yaml", PASSING)
    write(tmp_path / "test_models.py", TESTS)
    r = pytest_in(tmp_path, "test_models.py", "--evalharness-target", "recorded", "--evalharness-out",
                  str(tmp_path / "out"), "--evalharness-no-cache")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 1 passed" in r.stdout, r.stdout
    assert "FAILED test_models.py::test_bad_suite" in r.stdout
    assert "FAIL qa [recorded] overall pass_rate 0.500 (min 1, n=2)" in r.stdout
    assert "qa/italy [recorded]: contains: does not contain 'Rome' (output: 'Milan is the capital.')" in r.stdout


def test_suite_files_are_collected_case_by_case(tmp_path):
    write(tmp_path / "evals" / "eval_qa.yaml", SUITE)
    write(tmp_path / "evals" / "notes.yaml", "not: a suite\n")  # only eval_*.yaml are collected
    r = pytest_in(tmp_path, "evals", "-v", "--evalharness-target", "recorded", "--evalharness-no-cache",
                  "--evalharness-out", str(tmp_path / "out"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "evals/eval_qa.yaml::capital PASSED" in r.stdout, r.stdout
    assert "evals/eval_qa.yaml::italy FAILED" in r.stdout
    assert "evals/eval_qa.yaml::gate FAILED" in r.stdout
    assert "2 failed, 1 passed" in r.stdout
    # The failure message is the scorer's reason, not a traceback into the plugin.
    assert "qa/italy [recorded]: contains: does not contain 'Rome' (output: 'Milan is the capital.')" in r.stdout
    assert "pytest_plugin.py" not in r.stdout
    (run,) = list((tmp_path / "out").iterdir())  # the suite ran once for all its items
    assert (run / "responses.parquet").is_file()


def test_targets_from_the_ini_file_and_a_configuration_problem(tmp_path):
    write(tmp_path / "eval_good.yaml", PASSING)
    write(tmp_path / "targets.yaml", "targets:\n  - {name: prod, base_url: 'http://127.0.0.1:9/v1', model: m}\n")
    write(tmp_path / "pytest.ini", "[pytest]\nevalharness_targets =\n    recorded\nevalharness_no_cache = true\n"
                                   f"evalharness_out = {tmp_path / 'out'}\n")
    r = pytest_in(tmp_path, "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "eval_good.yaml::capital PASSED" in r.stdout and "3 passed" in r.stdout
    # a configuration problem fails every item with its message (here: a target the file does not define)
    r = pytest_in(tmp_path, "-v", "--evalharness-target", "nope", "--evalharness-targets-file",
                  str(tmp_path / "targets.yaml"))
    assert r.returncode == 1 and "invalid configuration" in r.stdout and "unknown target 'nope'" in r.stdout, r.stdout


def test_an_invalid_suite_file_is_a_collection_error_with_its_problems(tmp_path):
    write(tmp_path / "eval_bad.yaml", "name: x\ncategory: accuracy\nscorers: [{type: exakt}]\ncases: [{id: a, input: q}]\n")
    r = pytest_in(tmp_path, "--evalharness-target", "recorded")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "unknown scorer type 'exakt'" in r.stdout and "Traceback" not in r.stdout, r.stdout
