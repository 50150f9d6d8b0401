"""Suites are untrusted data: no endpoint, credential or file outside the suite root, whatever the shape."""

import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from evalharness.suite.errors import SuiteError
from evalharness.suite.loader import load_suite
from tests.conftest import write

BASE = {"name": "t", "category": "accuracy", "scorers": [{"type": "contains", "value": "ok"}],
        "cases": [{"id": "a", "input": "q", "output": "ok", "metadata": {"k": "v"}}]}
ENDPOINT_KEYS = ["base_url", "api_key_env", "api_key", "url", "endpoint", "Authorization", "headers", "api_base"]
URLS = ["http://attacker.example/v1", "https://10.0.0.1:8443/", "HTTP://x", "ftp://a/b", "ws://h/"]


def smuggle(where: int, key: str, value) -> dict:
    """BASE with `key: value` at one of the configuration positions a suite could use to reach an
    endpoint: the judge block, a suite scorer, defaults.params, a case's params, the gate, a case scorer."""
    doc = json.loads(json.dumps(BASE))
    if where == 0:
        doc["judges"] = {"default": {key: value}}
    elif where == 1:
        doc["scorers"][0][key] = value
    elif where == 2:
        doc["defaults"] = {"params": {key: value}}
    elif where == 3:
        doc["cases"][0]["params"] = {key: value}
    elif where == 4:
        doc["gate"] = {key: value}
    else:
        doc["cases"][0]["scorers"] = [{"type": "contains", "value": "ok", key: value}]
    return doc


@settings(max_examples=150, deadline=None)
@given(where=st.integers(0, 5), key=st.sampled_from(ENDPOINT_KEYS), url=st.sampled_from(URLS), as_key=st.booleans())
def test_endpoint_keys_and_urls_in_config_are_refused_with_file_and_line(tmp_path_factory, where, key, url, as_key):
    d = tmp_path_factory.mktemp("s")
    doc = smuggle(where, key if as_key else "model", url if not as_key or key != "api_key_env" else "CI_SECRET_KEY")
    f = write(d / "s.yaml", json.dumps(doc, indent=1))  # JSON is YAML, one key per line
    with pytest.raises(SuiteError) as e:
        load_suite(f)
    msgs = [p for p in e.value.problems if "suite" in p.message or "URL" in p.message or "not allowed" in p.message]
    assert msgs, [str(p) for p in e.value.problems]
    assert all(p.file == str(f) and p.line for p in msgs)


@settings(max_examples=60, deadline=None)
@given(url=st.sampled_from(URLS), field=st.sampled_from(["input", "expected", "output"]))
def test_urls_in_case_content_are_data(tmp_path_factory, url, field):
    d = tmp_path_factory.mktemp("s")
    doc = json.loads(json.dumps(BASE))
    doc["cases"][0][field] = f"summarise {url}"
    doc["cases"][0]["metadata"] = {"source": url}
    load_suite(write(d / "s.yaml", json.dumps(doc, indent=1)))


def test_trust_suite_endpoints_allows_a_judge_endpoint(tmp_path):
    doc = smuggle(0, "base_url", "http://127.0.0.1:9/v1")
    f = write(tmp_path / "s.yaml", json.dumps(doc, indent=1))
    with pytest.raises(SuiteError):
        load_suite(f)
    load_suite(f, trust_endpoints=True)


# ---- paths stay inside the suite root ----

def dataset_suite(d, ref: str):
    return write(d / "s.yaml", f"name: ds\ncategory: accuracy\ndataset: {json.dumps(ref)}\n"
                 "scorers: [{type: contains, value: x}]\n")


@pytest.mark.parametrize("trick", ["absolute", "dotdot", "symlink_file", "symlink_dir", "home"])
def test_dataset_paths_outside_the_root_are_refused_by_validate_and_run(tmp_path, cli, trick):
    secret = write(tmp_path / "outside" / "secret.jsonl", '{"id": "1", "input": "TOP-SECRET-CONTENT"}\n')
    suites = tmp_path / "suites"
    suites.mkdir()
    ref = {"absolute": str(secret), "dotdot": "../outside/secret.jsonl", "home": "~/secret.jsonl",
           "symlink_file": "link.jsonl", "symlink_dir": "linkdir/secret.jsonl"}[trick]
    if trick == "symlink_file":
        os.symlink(secret, suites / "link.jsonl")
    if trick == "symlink_dir":
        os.symlink(secret.parent, suites / "linkdir")
    s = dataset_suite(suites, ref)
    for args in (["validate", str(s)], ["run", str(s), "--target", "recorded", "--out", str(tmp_path / "r")]):
        r = cli(*args)
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"{s}:3: dataset:" in r.stderr and "Traceback" not in r.stderr
        assert "TOP-SECRET-CONTENT" not in r.stdout + r.stderr
    assert not (tmp_path / "r").exists()


def test_the_root_is_the_directory_given_and_suite_root_widens_it(tmp_path, cli):
    write(tmp_path / "suites" / "data" / "d.jsonl", '{"id": "1", "input": "q", "output": "x"}\n')
    s = dataset_suite(tmp_path / "suites" / "safety", "../data/d.jsonl")
    assert cli("validate", str(s)).returncode == 2  # the file's own folder is the root
    assert cli("validate", str(tmp_path / "suites")).returncode == 0  # the folder named on the command line
    assert cli("validate", str(s), "--suite-root", str(tmp_path / "suites")).returncode == 0


def test_judge_template_paths_stay_inside_the_root(tmp_path, cli):
    write(tmp_path / "outside" / "t.j2", "{{ output }} SECRET-TEMPLATE")
    inside = write(tmp_path / "suites" / "mine.j2", "Judge: {{ output | untrusted }} {{ criteria }} {{ lo }}-{{ hi }}")
    for ref, code in ((str(tmp_path / "outside" / "t.j2"), 2), ("../outside/t.j2", 2), ("mine.j2", 0),
                      ("rubric.j2", 0)):
        s = write(tmp_path / "suites" / "s.yaml", "name: j\ncategory: accuracy\ncases: [{id: a, input: q, output: o}]\n"
                  f"scorers:\n  - type: rubric\n    criteria: good\n    template: {json.dumps(ref)}\n")
        r = cli("validate", str(s))
        assert r.returncode == code, (ref, r.stderr)
        if code == 2:
            assert f"{s}:7: scorers[0].template:" in r.stderr, r.stderr
    assert inside.is_file()
