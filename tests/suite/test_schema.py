import jsonschema
import yaml

from evalharness.suite.schema import suite_json_schema
from tests.conftest import ROOT


def test_shipped_suites_validate_against_json_schema():
    schema = suite_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    files = sorted((ROOT / "suites").rglob("*.yaml"))
    assert files
    for f in files:
        errors = list(v.iter_errors(yaml.safe_load(f.read_text())))
        assert not errors, (f, [e.message for e in errors])


def test_schema_rejects_unknown_scorer_and_bad_args():
    v = jsonschema.Draft202012Validator(suite_json_schema())
    base = {"name": "x", "category": "accuracy", "cases": [{"id": "a", "input": "q"}]}
    assert not list(v.iter_errors({**base, "scorers": [{"type": "regex", "pattern": "a"}]}))
    assert list(v.iter_errors({**base, "scorers": [{"type": "nope"}]}))
    assert list(v.iter_errors({**base, "scorers": [{"type": "regex"}]}))
    assert list(v.iter_errors({**base, "scorers": [{"type": "regex", "pattern": "a", "bogus": 1}]}))
