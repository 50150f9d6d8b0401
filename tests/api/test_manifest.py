"""run.json as a typed RunManifest: the one writer and reader, older and newer files, and the clear
error (never a traceback) for a file that is not a manifest."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness import api
from evalharness.errors import ConfigError
from evalharness.results.schema import SCHEMA_VERSION
from evalharness.results.manifest import (
    ManifestError, RunManifest, load_manifest, parse_manifest, read_manifest, write_manifest,
)
from tests.conftest import run_cli, write

FULL = {
    "run_id": "2026-01-01T00-00-00Z-abcdef", "started_at": "2026-01-01T00:00:00+00:00", "status": "complete",
    "harness_version": "0.1.0", "schema_version": 2, "git_sha": None,
    "suites": [{"name": "qa", "category": "accuracy", "path": "/s/qa.yaml", "content_hash": "h", "cases": 2,
                "params": {}, "scorers": [{"name": "contains", "type": "contains"}]}],
    "targets": [{"name": "recorded", "model": None, "served_model": None}],
    "options": {"paths": ["/s/qa.yaml"], "target_names": ["recorded"], "repeats": 1},
    "shard": None, "cli_args": ["run", "qa.yaml"], "judges": {}, "ended_at": "2026-01-01T00:00:01+00:00",
    "exit_code": 0, "infrastructure": [], "cases": {"flaky": [], "quarantined": []},
    "counts": {"responses": 2, "errors": 0}, "gate": {"passed": True, "checks": []},
    "summary": [{"suite": "qa", "target": "recorded", "pass_rate": 1.0}],
}


def test_round_trip(tmp_path):
    write_manifest(tmp_path, FULL)
    m = load_manifest(tmp_path)
    assert m.run_id == FULL["run_id"] and m.suites[0].scorers[0]["name"] == "contains" and m.gate.passed
    assert m.to_dict() == FULL == read_manifest(tmp_path)
    text = (tmp_path / "run.json").read_text()
    write_manifest(tmp_path, m)  # a model writes the same file as its dict
    assert (tmp_path / "run.json").read_text() == text


def test_a_real_runs_manifest_is_typed(tmp_path):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: exact, value: a}]\n"
                                   "cases: [{id: a, input: q, output: a}]\n")
    result = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False)
    m = api.load_run(result.run_dir).manifest
    assert m.schema_version == SCHEMA_VERSION == 3 and m.status == "complete" and m.counts["responses"] == 1
    assert m.suites[0].path == str(s.resolve()) and m.options["paths"] == [str(s.resolve())]
    assert isinstance(m.cli_args, list) and all(isinstance(a, str) for a in m.cli_args)
    assert isinstance(m.timing, dict) and m.gate is not None


def test_older_manifests_load_with_defaults_and_newer_fields_are_kept(tmp_path):
    old = {"run_id": "old", "started_at": "2025-01-01T00:00:00+00:00", "suites": [{"name": "qa", "path": "/qa.yaml"}]}
    (tmp_path / "run.json").write_text(json.dumps(old))
    m = load_manifest(tmp_path)
    assert m.schema_version == 1 and m.status is None and m.targets == [] and m.options == {} and m.gate is None
    assert m.suites[0].content_hash is None and read_manifest(tmp_path) == old  # nothing added for readers
    (tmp_path / "run.json").write_text(json.dumps({"status": "complete"}))  # no run_id: the folder's name
    assert load_manifest(tmp_path).run_id == tmp_path.name
    newer = {**FULL, "schema_version": 9, "provenance": {"signed": True},
             "suites": [{**FULL["suites"][0], "weights": [1, 2]}]}
    (tmp_path / "run.json").write_text(json.dumps(newer))
    m = load_manifest(tmp_path)
    assert m.schema_version == 9 and m.provenance == {"signed": True} and m.suites[0].weights == [1, 2]
    write_manifest(tmp_path, m)
    assert json.loads((tmp_path / "run.json").read_text()) == newer


@pytest.mark.parametrize("text, field", [
    ("{ nope", "not valid JSON"),
    ("[1, 2]", "a JSON object was expected, found list"),
    ('"x"', "a JSON object was expected, found str"),
    (json.dumps({**FULL, "suites": "qa"}), "suites: Input should be a valid list"),
    (json.dumps({**FULL, "exit_code": "zero"}), "exit_code: Input should be a valid integer"),
    (json.dumps({**FULL, "targets": [{"model": "m"}]}), "targets[0].name: Field required"),
    (json.dumps({**FULL, "run_id": 7}), "run_id: Input should be a valid string"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
])
def test_a_file_that_is_not_a_manifest_is_a_clear_config_error(tmp_path, text, field):
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(ManifestError) as e:
        load_manifest(tmp_path)
    assert isinstance(e.value, ConfigError) and isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"{path}:") and field in str(e.value)
    assert len(str(e.value).splitlines()) <= 11


def test_no_run_json_is_a_config_error(tmp_path):
    with pytest.raises(ManifestError, match="not a run folder"):
        load_manifest(tmp_path)
    with pytest.raises(OSError):  # internal readers keep the error they always caught
        read_manifest(tmp_path)


def test_commands_on_a_broken_run_json_are_exit_2(tmp_path):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: exact, value: a}]\n"
                                   "cases: [{id: a, input: q, output: a}]\n")
    run_dir = api.run(s, targets=["recorded"], out=tmp_path / "r", cache=False).run_dir
    (run_dir / "run.json").write_text(json.dumps({**FULL, "suites": [{"name": 3}]}))
    for args in (["rescore", str(run_dir), "--out", str(tmp_path / "x")],
                 ["snapshot", str(run_dir), "--suite", "s", "-o", str(tmp_path / "g.yaml")],
                 ["run", "--resume", str(run_dir)],
                 ["merge", str(run_dir), "-o", str(tmp_path / "m")]):
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout, (args, r.stderr)
        assert "suites[0].name" in r.stderr, (args, r.stderr)


# ---- property-based: whatever run.json holds, it loads or is a ManifestError ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = list(RunManifest.model_fields) + ["provenance", "x"]


@st.composite
def manifests(draw):
    doc = json.loads(json.dumps(FULL))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        action = draw(st.sampled_from(["drop", "replace", "replace"]))
        if action == "drop":
            doc.pop(key, None)
        else:
            doc[key] = draw(json_values)
    if draw(st.booleans()):  # a nested entry changed too
        first = doc["suites"][0] if isinstance(doc.get("suites"), list) and doc["suites"] else None
        suite = dict(first) if isinstance(first, dict) else {}
        suite[draw(st.sampled_from(["name", "path", "cases", "scorers", "extra"]))] = draw(json_values)
        doc["suites"] = [suite]
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_random_manifests_load_or_raise_the_clear_error(doc):
    text = json.dumps(doc)
    try:
        m = parse_manifest(text, "reports/r/run.json")
    except ManifestError as e:
        assert e.problems and all(p.file == "reports/r/run.json" for p in e.problems)
        assert str(e).startswith("reports/r/run.json")
        return
    # loaded: every field has its declared type, and the manifest writes and reads back the same
    assert isinstance(m.run_id, str) and isinstance(m.schema_version, int) and isinstance(m.suites, list)
    assert m.gate is None or isinstance(m.gate.passed, bool)
    text = json.dumps(m.to_dict(), default=str)
    assert json.dumps(parse_manifest(text, "x").to_dict(), default=str) == text  # (NaN != NaN: compare the text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, st.text(max_size=60), st.binary(max_size=60)))
def test_random_files_load_or_raise_the_clear_error(content):
    text = content if isinstance(content, (str, bytes)) else json.dumps(content)
    try:
        m = parse_manifest(text, "run.json")
    except ManifestError as e:
        assert e.problems and str(e).startswith("run.json")
    else:
        assert isinstance(m, RunManifest)
