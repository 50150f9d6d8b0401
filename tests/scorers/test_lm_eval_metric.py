"""`lm_eval_match` against lm-eval itself: for random responses, the bridge's scorers (built from the task by
suite/lmeval.py, run by scorers/lm_eval_metric.py) give what lm-eval's own evaluator path gives — the task's
FilterEnsembles applied to the instance, then `ConfigurableTask.process_results` — for every filter of a
gsm8k-style task, a regex-filter task, a no-filter task and a multiple-target task. Plus the refusals."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evalharness.errors import ConfigError
from evalharness.scorers.base import Sample, get_scorer
from evalharness.suite.loader import load_suite

pytest.importorskip("lm_eval")

TASKS = Path(__file__).parents[1] / "suite" / "lmeval_tasks"
MULTI_TASK = """task: eh_multi
dataset_path: json
dataset_kwargs:
  data_files:
    test: multi.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Name a {{kind}}."
doc_to_target: answers
generation_kwargs:
  until: ["\\n"]
filter_list:
  - name: lower-word
    filter:
      - function: lowercase
      - function: regex
        regex_pattern: "([a-z]+)"
        group_select: -1
      - function: take_first
  - name: none
    filter:
      - function: take_first
metric_list:
  - metric: exact_match
    regexes_to_ignore: ["^ +", "(?s)\\\\..*"]
"""
MULTI_DATA = [{"kind": "colour", "answers": ["red", "blue", "Green"]}, {"kind": "fruit", "answers": ["apple", "fig"]},
              {"kind": "sea", "answers": ["baltic"]}]


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tasks")
    shutil.copytree(TASKS, d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (d / "multi_gen.yaml").write_text(MULTI_TASK)
    (d / "multi.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MULTI_DATA))
    (d / "suite_multi.yaml").write_text("name: multi\ncategory: accuracy\nlm_eval:\n  task: eh_multi\n  include_path: .\n")
    for name in HELD_OUT:
        (d / "held_out" / f"suite_{name}.yaml").write_text(f"name: {name}\ncategory: accuracy\nlm_eval:\n  task: {name}.yaml\n")
    return d


def lm_eval_task(folder: Path, file: str):
    """The task as lm-eval's own TaskManager builds it (no evalharness code involved)."""
    from lm_eval.tasks import TaskManager

    folder = (folder / file).parent
    config = yaml.safe_load((folder / Path(file).name).read_text())
    if "include" in config:
        config = {**yaml.safe_load((folder / config.pop("include")).read_text()), **config}
    files = config["dataset_kwargs"]["data_files"]
    config["dataset_kwargs"]["data_files"] = {k: str(folder / v) for k, v in files.items()}
    (task,) = TaskManager(include_defaults=False, verbosity="ERROR").load([config])["tasks"].values()
    return task


def lm_eval_scores(task, doc: dict, response: str) -> dict[str, float]:
    """evaluator.evaluate's path for one generate_until document: every filter, then process_results."""
    inst = types.SimpleNamespace(resps=[response], doc=doc, filtered_resps={})
    out = {}
    for ensemble in task._filters:
        ensemble.apply([inst])
        for metric, value in task.process_results(doc, [inst.filtered_resps[ensemble.name]]).items():
            out[f"{metric},{ensemble.name}"] = float(value)
    return out


def bridge_scores(case, response: str) -> dict[str, float]:
    out = {}
    for b in case.scorers:
        s = b.fn(Sample(case.case.id, response, expected=case.case.expected))
        out[b.name] = s.value
    return out


CASES = [("suite_apples.yaml", "apples_gsm.yaml"), ("suite_words_first.yaml", "words_first.yaml"),
         ("suite_words.yaml", "words_gen.yaml"), ("suite_multi.yaml", "multi_gen.yaml")]
# tasks written apart from the bridge (tests/suite/test_lmeval_held_out.py): jinja targets, multiple targets with a
# plain-string exception (lm-eval's list(gold)), a metric and a filter listed twice, doc_to_choice with int targets
HELD_OUT = ("ho_inc", "ho_multi_str", "ho_dup", "ho_jchoice")
CASES += [(f"held_out/suite_{name}.yaml", f"held_out/{name}.yaml") for name in HELD_OUT]
PIECES = st.sampled_from(["#### ", "The answer is ", "$", ",", ".", " ", "\n", "1", "7", "42", "1,350", "-", "İ",
                          "Red", "blue", "GREEN", "fig", "apple", "Baltic", "word", "Word", "WORD!", "Sure: "])
RESPONSE = st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=10).map("".join)


@pytest.mark.parametrize("suite_file, task_file", CASES)
def test_the_scorer_equals_lm_evals_filters_and_metric(tasks, suite_file, task_file):
    suite = load_suite(tasks / suite_file)
    task = lm_eval_task(tasks, task_file)
    docs = list(task.eval_docs)
    assert len(docs) == len(suite.cases)
    seen: set[float] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
    @given(i=st.integers(0, len(docs) - 1), response=RESPONSE, gold_answer=st.booleans())
    def check(i, response, gold_answer):
        if gold_answer:  # the document's own answer somewhere in the response: right answers get generated too
            target = suite.cases[i].case.expected
            response = response + str(target[0] if isinstance(target, list) else target).split("#### ")[-1]
        theirs = lm_eval_scores(task, docs[i], response)
        assert bridge_scores(suite.cases[i], response) == theirs
        seen.update(theirs.values())

    check()
    assert seen == {0.0, 1.0}  # both verdicts occurred: the agreement is not trivial


def args(**kw):
    return get_scorer("lm_eval_match").args.model_validate(kw)


@pytest.mark.parametrize("kw, message", [
    ({"metric": "bleu"}, "corpus-level"),
    ({"metric": "acc"}, "not a per-document generate_until metric"),
    ({"filter": [{"function": "custom", "kwargs": {}}, {"function": "take_first"}]}, "calls a Python function"),
    ({"filter": [{"function": "regex"}]}, "must end with take_first"),
    ({"regexes_to_ignore": ["("]}, "invalid regex"),
    ({"filter": [{"function": "take_first", "kwargs": {"x": "y" * 30_000}}]}, "at most 16 keys"),
    ({"colour": "red"}, "Extra inputs"),
])
def test_bad_arguments_are_refused(kw, message):
    with pytest.raises(ValueError) as e:
        args(**kw)
    assert message in str(e.value)


@pytest.mark.parametrize("steps, message", [
    ([{"function": "no_such_filter"}, {"function": "take_first"}], "unknown lm-eval filter 'no_such_filter'"),
    ([{"function": "regex", "kwargs": {"regex_pattern": "(("}}, {"function": "take_first"}], "rejects"),
    ([{"function": "regex", "kwargs": {"colour": 1}}, {"function": "take_first"}], "rejects"),
])
def test_bad_filters_are_configuration_errors_at_binding(steps, message):
    from evalharness.scorers.bind import ScorerConfigError

    with pytest.raises(ScorerConfigError) as e:
        get_scorer("lm_eval_match").build(args(filter=steps))
    assert message in str(e.value)


def test_a_bad_filter_in_a_suite_names_the_line(tmp_path):
    (tmp_path / "s.yaml").write_text("name: x\ncategory: accuracy\ncases:\n  - id: a\n    input: hi\n    expected: '1'\n"
                                     "    scorers:\n      - type: lm_eval_match\n        filter: [{function: nope}, "
                                     "{function: take_first}]\n")
    with pytest.raises(ConfigError) as e:
        load_suite(tmp_path / "s.yaml")
    assert "s.yaml:8" in str(e.value) and "unknown lm-eval filter" in str(e.value), str(e.value)


def test_a_hand_written_case_uses_expected_and_shows_the_filtered_answer():
    fn = get_scorer("lm_eval_match").build(args(filter_name="strict", filter=[
        {"function": "regex", "kwargs": {"regex_pattern": r"#### (\-?[0-9\.\,]+)"}}, {"function": "take_first"}],
        regexes_to_ignore=[","], ignore_case=True))
    s = fn(Sample("a", "so... #### 1,234", expected="1234"))
    assert (s.value, s.passed, s.metadata["filtered"]) == (1.0, True, "1,234")
    assert fn(Sample("a", "1234", expected="1234")).passed is False  # strict: no "####", the fallback
    assert "no target" in fn(Sample("a", "1234")).reason
    assert "list target needs multiple_target" in get_scorer("lm_eval_match").build(args(multiple_target=False))(
        Sample("a", "x", expected=["x"])).reason


def test_without_lm_eval_the_error_names_the_extra(monkeypatch):
    from evalharness.scorers.bind import ScorerConfigError

    for name in [m for m in sys.modules if m == "lm_eval" or m.startswith("lm_eval.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ScorerConfigError) as e:
        get_scorer("lm_eval_match").build(args())
    assert "pip install -e '.[lmeval]'" in str(e.value)


def rebuilt(case, target) -> dict:
    """The case's scorers, rebuilt from their stored configuration with another target."""
    info = get_scorer("lm_eval_match")
    out = {}
    for b in case.scorers:
        kw = {k: v for k, v in b.config.items() if k not in ("type", "name", "metric_only")}
        out[b.name] = info.build(info.args.model_validate({**kw, "target": target}))
    return out


TARGET = st.lists(st.one_of(PIECES, st.text(max_size=3)), min_size=1, max_size=6).map("".join)


@pytest.mark.parametrize("suite_file, task_file, field, multiple", [
    ("suite_apples.yaml", "apples_gsm.yaml", "answer", False), ("suite_multi.yaml", "multi_gen.yaml", "answers", True)])
def test_random_targets_too(tasks, suite_file, task_file, field, multiple):
    case = load_suite(tasks / suite_file).cases[0]
    task = lm_eval_task(tasks, task_file)
    doc0 = dict(task.eval_docs[0])
    seen: set[float] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
    @given(targets=st.lists(TARGET, min_size=1, max_size=3), response=RESPONSE, copy=st.booleans())
    @example(targets=["42"], response="#### ", copy=True)  # a right answer for each task, always tried: the
    @example(targets=["red"], response="", copy=True)  # `seen` check below must not depend on random draws
    def check(targets, response, copy):
        target = targets if multiple else targets[0]
        if copy:
            response = response + targets[-1].split("#### ")[-1]
        theirs = lm_eval_scores(task, {**doc0, field: target}, response)
        ours = {name: fn(Sample("a", response)).value for name, fn in rebuilt(case, target).items()}
        assert ours == theirs
        seen.update(theirs.values())

    check()
    assert seen == {0.0, 1.0}
