"""Tasks written apart from the bridge's own fixtures (lmeval_tasks/held_out/), run through the bridge and
through lm-eval's CLI on the same scripted endpoint: the same request bodies, and per (document, filter)
the same exact_match. They use what the first fixtures do not: include: of a base and of another task,
jinja with filters, plain column names, doc_to_choice as a list expression and a column with an int
target, multiple targets with a plain-string exception, a metric and a filter listed twice, several and
more than 4 `until` strings, csv data, multi_choice_regex, tuple regex groups. Plus: what the bridge
cannot map is exit 2 naming the task file, never a traceback."""

from __future__ import annotations

import collections
import glob
import json
import shutil
from pathlib import Path

import pytest

from evalharness import api
from evalharness.errors import ConfigError
from evalharness.suite.loader import load_suite
from tests.fixtures.scripted import ScriptedServer
from tests.suite.test_lmeval import TASKS, lm_eval_cli, requests_seen

pytest.importorskip("lm_eval")

HELD = TASKS / "held_out"
NAMES = ("inc", "multi_str", "dup", "col", "jchoice", "b2")


def suites(d: Path) -> list[Path]:
    out = []
    for n in NAMES:
        p = d / f"suite_{n}.yaml"
        p.write_text(f"name: ho-{n}\ncategory: accuracy\nlm_eval:\n  task: eh_ho_{n}\n  include_path: .\n")
        out.append(p)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("held") / "tasks"
    shutil.copytree(HELD, d)
    server = ScriptedServer(str(TASKS / "answer_server.py"))
    try:
        lm_out = lm_eval_cli(server.base_url, "scripted", d.parent / "lm", tasks=[f"eh_ho_{n}" for n in NAMES], cwd=d)
        mid = requests_seen(server)
        result = api.run(suites(d), targets=api.Endpoint(server.base_url, "scripted"), out=d.parent / "rep", cache=False)
        after = requests_seen(server)
    finally:
        server.stop()
    return {"lm_out": lm_out, "lm_requests": mid, "bridge_requests": after[len(mid):], "run": result.load()}


def test_the_bridge_sends_lm_evals_requests(runs):
    assert len(runs["lm_requests"]) == 48
    assert collections.Counter(runs["lm_requests"]) == collections.Counter(runs["bridge_requests"])


def test_every_document_and_filter_scores_as_in_lm_eval(runs):
    theirs = {}
    for f in glob.glob(str(runs["lm_out"] / "*" / "samples_*.jsonl")):
        task = Path(f).name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            theirs[(task.removeprefix("eh_ho_"), d["filter"], d["doc_id"])] = float(d["exact_match"])
    scores = runs["run"].scores_df()
    assert runs["run"].responses_df()["error"].isna().all()
    ours = {(r.suite.removeprefix("ho-"), r.scorer.split(",", 1)[1], int(r.case_id.removeprefix("doc-"))): float(r.score)
            for r in scores.itertuples()}
    assert ours == theirs and len(ours) == 8 * 9  # 8 documents × the tasks' 9 (task, filter) pairs
    assert 0 < sum(ours.values()) < len(ours)
    # lm-eval's list(gold): the one-alias document's target "no" became ["n", "o"], so "no" is wrong there
    assert ours[("multi_str", "w", 5)] == 0.0 and ours[("multi_str", "w", 3)] == 1.0
    reasons = {r.case_id: r.reason for r in scores.itertuples() if r.suite == "ho-multi_str"}
    assert reasons["doc-5"].endswith('filtered "no" vs ["n", "o"]'), reasons
    # the metric listed twice scores with its last options (ignore_case), the filter `w` is its last pipeline
    assert {k[1] for k in ours if k[0] == "dup"} == {"w", "z"}


def write_task(d: Path, body: str, task: str = "t") -> Path:
    shutil.copy(HELD / "docs.jsonl", d / "docs.jsonl")
    (d / f"{task}.yaml").write_text(f"task: {task}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
                                    f"    test: docs.jsonl\ntest_split: test\n{body}")
    (d / "suite.yaml").write_text(f"name: x\ncategory: accuracy\nlm_eval:\n  task: {task}.yaml\n")
    return d / "suite.yaml"


GEN = 'output_type: generate_until\ndoc_to_text: "{{question}}"\n'


@pytest.mark.parametrize("body, message", [
    (GEN + "doc_to_choice: choices\ndoc_to_target: answer\n",
     "document 0: doc_to_target gave ' Blue ': with doc_to_choice it must be the index"),
    (GEN + 'doc_to_choice: choices\ndoc_to_target: "{{[label, 0]}}"\n', "doc_to_target gave [2, 0]"),
    (GEN + "doc_to_target: answer\ngeneration_kwargs:\n  until: 5\n", "generation_kwargs.until 5: must be a string"),
    (GEN + 'doc_to_target: "{{ nosuchfield }}"\n', "could not build task 't': UndefinedError"),
    (GEN + "doc_to_target: answer\nmetric_list: []\n", "an empty metric_list or filter_list"),
    (GEN + "doc_to_target: answer\nrepeats: 3\nfilter_list:\n  - name: maj\n    filter:\n      - function: majority_vote\n"
     "      - function: take_first\n", "majority_vote combines the task's 3 repeats"),
    ('output_type: multiple_choice\ndoc_to_text: num\ndoc_to_choice: "{{[opt_a, opt_b]}}"\ndoc_to_target: " is right."\n',
     "multiple_choice with several inputs"),
])
def test_what_lm_eval_itself_would_fail_on_is_a_configuration_error(tmp_path, body, message):
    with pytest.raises(ConfigError) as e:
        load_suite(write_task(tmp_path, body))
    assert f"{tmp_path / 't.yaml'}:" in str(e.value) and message in str(e.value), str(e.value)


def test_a_group_or_a_tag_is_refused_with_its_tasks(tmp_path):
    d = tmp_path / "tasks"
    shutil.copytree(HELD, d)
    (d / "group.yaml").write_text("group: eh_ho_group\ntask:\n  - eh_ho_col\n  - eh_ho_dup\n")
    for name, tasks in (("eh_ho_tag", "eh_ho_b1, eh_ho_b2"), ("eh_ho_group", "eh_ho_col, eh_ho_dup")):
        (d / "suite.yaml").write_text(f"name: x\ncategory: accuracy\nlm_eval:\n  task: {name}\n")
        with pytest.raises(ConfigError) as e:
            load_suite(d / "suite.yaml")
        assert f"suite.yaml:4: lm_eval: {name!r} is a group or tag of tasks ({tasks})" in str(e.value), str(e.value)
    (d / "suite.yaml").write_text("name: x\ncategory: accuracy\nlm_eval:\n  task: group.yaml\n")
    with pytest.raises(ConfigError) as e:
        load_suite(d / "suite.yaml")
    assert "group.yaml:1: a group of tasks" in str(e.value), str(e.value)


def test_cli_validate_and_run_exit_2_without_a_traceback(tmp_path, cli):
    suite = write_task(tmp_path, GEN + "doc_to_choice: choices\ndoc_to_target: answer\n")
    for args in (("validate", str(suite)), ("run", str(suite), "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                            "--out", str(tmp_path / "rep"), "--no-cache")):
        r = cli(*args)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "t.yaml: document 0" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr


def test_data_files_relative_to_the_suite_folder_as_lm_eval_reads_them(tmp_path):
    """lm-eval (datasets) reads a relative data_files path from its working directory: a task under
    tasks/ naming tasks/docs.jsonl, run from the suite's folder, loads in both."""
    (tmp_path / "tasks").mkdir()
    shutil.copy(HELD / "docs.jsonl", tmp_path / "tasks" / "docs.jsonl")
    (tmp_path / "tasks" / "t.yaml").write_text("task: t\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
                                               "    test: tasks/docs.jsonl\ntest_split: test\n" + GEN + "doc_to_target: answer\n")
    (tmp_path / "suite.yaml").write_text("name: x\ncategory: accuracy\nlm_eval:\n  task: t\n  include_path: tasks\n")
    assert len(load_suite(tmp_path / "suite.yaml").cases) == 8
