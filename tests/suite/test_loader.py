import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evalharness.suite.errors import SuiteError
from evalharness.suite.loader import load_suite, load_suites
from tests.conftest import ROOT, write


def problems(path) -> list[str]:
    with pytest.raises(SuiteError) as e:
        load_suite(path)
    return [str(p) for p in e.value.problems]


def test_shipped_suites_load():
    suites = load_suites([ROOT / "suites"])
    cats = {s.category for s in suites}
    assert cats == {"accuracy", "hallucination", "safety", "tool_calling", "regression"}
    assert all(len(s.cases) >= 3 for s in suites)


def test_every_problem_named_with_file_line_field(tmp_path):
    p = write(tmp_path / "bad.yaml", """\
name: bad
category: acuracy
descripton: typo
cases:
  - id: a
    input: hi
    scorers:
      - {type: exakt}
  - id: a
    input: again
  - id: b
    input: x
    messages: [{role: user, content: y}]
  - id: c
    input: 5
  - id: d
    input: y
    scorers: [{type: regex}]
scorers:
  - {type: contains, threshhold: 0.5}
""")
    got = problems(p)
    f = str(p)
    assert f"{f}:2: category: Input should be" in got[0]
    assert f"{f}:3: descripton: unknown key 'descripton' (did you mean 'description'?)" in got
    assert f"{f}:20: scorers[0].threshhold: unknown key 'threshhold' (did you mean 'threshold'?)" in got
    assert f"{f}:8: cases[0].scorers[0].type: unknown scorer type 'exakt' (did you mean 'exact'?)" in got
    assert any(g.startswith(f"{f}:9: cases[1].id: duplicate case id 'a'") for g in got)
    assert f"{f}:11: cases[2]: give exactly one of `input` or `messages`" in got
    assert f"{f}:15: cases[3].input: Input should be a valid string (got 5)" in got
    assert f"{f}:18: cases[4].scorers[0].pattern: missing required key 'pattern'" in got
    assert len(got) == 8


def test_yaml_syntax_error_has_line(tmp_path):
    p = write(tmp_path / "s.yaml", "name: x\ncategory: accuracy\ncases:\n  - id: a\n    input: [unclosed\n")
    (msg,) = problems(p)
    assert msg.startswith(f"{p}:") and "invalid YAML" in msg


def test_duplicate_yaml_key(tmp_path):
    p = write(tmp_path / "s.yaml", "name: x\nname: y\ncategory: accuracy\ncases: [{id: a, input: q}]\nscorers: [{type: exact}]\n")
    assert f"{p}:2: name: duplicate key (first at line 1)" in problems(p)


def test_yaml_is_loaded_safely(tmp_path):
    p = write(tmp_path / "s.yaml", "name: !!python/object/apply:os.system ['echo pwned']\ncategory: accuracy\n")
    (msg,) = problems(p)
    assert "invalid YAML" in msg and "python/object" in msg


def test_scorer_threshold_bounds(tmp_path):
    p = write(tmp_path / "s.yaml", "name: x\ncategory: accuracy\ncases: [{id: a, input: q}]\nscorers:\n  - {type: exact, threshold: 2}\n")
    (msg,) = problems(p)
    assert msg.startswith(f"{p}:5: scorers[0].threshold:")


def test_case_without_scorers(tmp_path):
    p = write(tmp_path / "s.yaml", "name: x\ncategory: accuracy\ncases:\n  - {id: a, input: q}\n")
    assert problems(p) == [f"{p}:4: cases[0]: case has no scorers (add suite-level `scorers` or case `scorers`)"]


def test_jsonl_dataset_with_fields_and_prompt(tmp_path):
    write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in [
        {"qid": 1, "a": 2, "b": 3, "ans": "5", "ctx": '["c1", "c2"]'},
        {"qid": 2, "a": 4, "b": 4, "ans": "8", "ctx": "single"},
    ]))
    p = write(tmp_path / "s.yaml", """\
name: ds
category: accuracy
dataset: d.jsonl
fields: {qid: id, ans: expected, ctx: context}
prompt: "What is {{ a }} + {{ b }}?"
scorers: [{type: numeric}]
""")
    s = load_suite(p)
    c1, c2 = (lc.case for lc in s.cases)
    assert (c1.id, c1.input, c1.expected, c1.context) == ("1", "What is 2 + 3?", "5", ["c1", "c2"])
    assert c2.context == ["single"] and c2.metadata == {"a": 4, "b": 4}


def test_dataset_missing_column_and_bad_rows(tmp_path):
    write(tmp_path / "d.jsonl", '{"q": "x"}\nnot json\n')
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\ndataset: d.jsonl\nfields:\n  q: input\n  answer: expected\nscorers: [{type: exact}]\n")
    got = problems(p)
    assert f"{tmp_path / 'd.jsonl'}:2: invalid JSON: Expecting value (column 1)" in got
    assert any(g.startswith(f"{p}:6: fields.answer: column 'answer' is not in d.jsonl") for g in got)


def test_dataset_template_undefined_variable(tmp_path):
    write(tmp_path / "d.csv", "id,question\n1,hello\n")
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\ndataset: d.csv\nprompt: '{{ questoin }}'\nscorers: [{type: exact}]\n")
    (msg,) = problems(p)
    assert msg.startswith(f"{tmp_path / 'd.csv'}:2: prompt: template failed") and "questoin" in msg


def test_template_is_sandboxed(tmp_path):
    write(tmp_path / "d.csv", "id,q\n1,x\n")
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\ndataset: d.csv\n"
              "prompt: \"{{ q.__class__.__mro__[1].__subclasses__() }}\"\nscorers: [{type: exact}]\n")
    (msg,) = problems(p)
    assert "template failed" in msg and "unsafe" in msg.lower()


def test_csv_and_parquet_datasets(tmp_path):
    write(tmp_path / "d.csv", "id,input,expected,tags\nx1,hi,hello,\"a, b\"\n")
    pq.write_table(pa.table({"id": ["p1"], "input": ["q"], "output": ["recorded answer"]}), tmp_path / "d.parquet")
    write(tmp_path / "c.yaml", "name: c\ncategory: accuracy\ndataset: d.csv\nscorers: [{type: exact}]\n")
    write(tmp_path / "p.yaml", "name: p\ncategory: accuracy\ndataset: d.parquet\nscorers: [{type: exact}]\n")
    c, p = load_suites([tmp_path])
    assert c.cases[0].case.tags == ["a", "b"] and c.cases[0].case.expected == "hello"
    assert p.cases[0].case.output == "recorded answer"


def test_suite_names_unique_across_files(tmp_path):
    body = "name: same\ncategory: accuracy\ncases: [{id: a, input: q}]\nscorers: [{type: exact}]\n"
    write(tmp_path / "a.yaml", body)
    write(tmp_path / "b.yaml", body)
    with pytest.raises(SuiteError, match="suite name 'same' is also used"):
        load_suites([tmp_path])


def test_content_hash_changes_with_dataset(tmp_path):
    d = write(tmp_path / "d.csv", "id,input\n1,x\n")
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\ndataset: d.csv\nscorers: [{type: exact}]\n")
    h1 = load_suite(p).content_hash
    d.write_text("id,input\n1,y\n")
    assert load_suite(p).content_hash != h1


def test_missing_dataset_file_points_at_dataset_key(tmp_path):
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\nscorers: [{type: exact}]\ndataset: nope.jsonl\n")
    (msg,) = problems(p)
    assert msg.startswith(f"{p}:4: dataset: ") and "dataset file not found" in msg


def test_unsupported_dataset_format(tmp_path):
    write(tmp_path / "d.xlsx", "x")
    p = write(tmp_path / "s.yaml", "name: ds\ncategory: accuracy\nscorers: [{type: exact}]\ndataset: d.xlsx\n")
    (msg,) = problems(p)
    assert "unsupported dataset format '.xlsx'" in msg
