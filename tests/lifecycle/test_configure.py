"""lifecycle/configure.py: judges resolved from a targets file, the command line and suites."""

from types import SimpleNamespace

import pytest

from evalharness.errors import ConfigError
from evalharness.lifecycle.configure import resolve_judges
from evalharness.lifecycle.options import RunOptions, saved_options


def _suites_using(*judges):
    """The little of a loaded suite resolve_judges reads: scorers that need the named judges."""
    scorers = [SimpleNamespace(needs_judge=True, config={"judge": j}) for j in judges]
    return [SimpleNamespace(cases=[SimpleNamespace(scorers=scorers)], suite=SimpleNamespace(judges=None), path="s.yaml")]


def test_judge_concurrency_applies_to_every_judge(tmp_path):
    t = tmp_path / "targets.yaml"
    t.write_text("judges:\n  default: {base_url: 'http://127.0.0.1:9/v1', model: a, concurrency: 3}\n"
                 "  other: {base_url: 'http://127.0.0.1:9/v1', model: b}\n")
    got = resolve_judges(RunOptions(paths=[], targets_file=str(t), judge_concurrency=32), _suites_using("default", "other"))
    assert {n: c.concurrency for n, c in got.items()} == {"default": 32, "other": 32}
    got = resolve_judges(RunOptions(paths=[], targets_file=str(t)), _suites_using("default", "other"))
    assert {n: c.concurrency for n, c in got.items()} == {"default": 3, "other": 4}
    with pytest.raises(ConfigError, match="--judge-concurrency"):
        resolve_judges(RunOptions(paths=[], judge_concurrency=0), _suites_using("default"))


def test_judge_flags_replace_the_endpoint_only(tmp_path):
    """--judge-base-url/--judge-model keep what the targets file says of the same judge (its key's
    variable, its concurrency) unless given themselves."""
    t = tmp_path / "targets.yaml"
    t.write_text("judges:\n  default: {base_url: 'http://127.0.0.1:9/v1', model: a, api_key_env: JUDGE_KEY, "
                 "concurrency: 12}\n")
    (got,) = resolve_judges(RunOptions(paths=[], targets_file=str(t), judge_base_url="http://127.0.0.1:8/v1",
                                       judge_model="m"), _suites_using("default")).values()
    assert (got.base_url, got.model, got.api_key_env, got.concurrency) == ("http://127.0.0.1:8/v1", "m", "JUDGE_KEY", 12)


@pytest.mark.parametrize("saved, field", [({"paths": ["a"], "repeats": "many"}, "options.repeats"),
                                          ({"repeats": 2}, "options.paths"), ([1, 2], "options")])
def test_saved_options_of_the_wrong_shape_are_config_errors(saved, field):
    with pytest.raises(ConfigError) as e:
        saved_options(saved, "run.json")
    assert e.value.problems[0].field == field


def test_saved_options_ignore_keys_this_version_does_not_know():
    assert saved_options({"paths": ["a"], "renamed_long_ago": 1, "repeats": 3}).repeats == 3
