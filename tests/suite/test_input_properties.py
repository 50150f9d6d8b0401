"""Properties over arbitrary suite and dataset input: loading either gives cases whose every string can be
encoded as UTF-8, or a SuiteError whose problems each name the suite or its dataset and a line. Nothing else
is ever raised, and a load never takes long."""

import csv
import io
import json
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evalharness.suite.errors import SuiteError
from evalharness.suite.loader import load_suite

# Any code point, lone surrogates (category Cs) included and drawn often.
TEXT = st.text(alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12)
HEAD = "name: p\ncategory: accuracy\nscorers: [{type: exact}]\n"
FEW = settings(max_examples=40, deadline=None)


def strings(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)


def check_load(suite: Path, cpu_seconds: float = 5) -> bool:
    """Load `suite` and check the property; True when it loaded."""
    start = time.process_time()
    try:
        loaded = load_suite(suite)
    except SuiteError as e:
        assert e.problems
        for p in e.problems:
            assert Path(p.file).parent == suite.parent and p.line is not None and p.line >= 1, p
        return False
    finally:
        assert time.process_time() - start < cpu_seconds
    for lc in loaded.cases:
        for s in strings(lc.case.model_dump()):
            s.encode("utf-8")
    return True


def with_files(files: dict[str, bytes], suite_text: str | bytes | None = None) -> bool:
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            (Path(d) / name).write_bytes(data)
        suite = Path(d) / "s.yaml"
        suite.write_bytes(suite_text if isinstance(suite_text, bytes) else (suite_text or "").encode())
        return check_load(suite)


ROWS = st.lists(st.dictionaries(TEXT, st.one_of(TEXT, st.lists(TEXT, max_size=3), st.dictionaries(TEXT, TEXT, max_size=2)),
                                max_size=4), min_size=1, max_size=3)


@FEW
@given(rows=ROWS, inputs=st.lists(TEXT, min_size=3, max_size=3))
def test_any_jsonl_cells(rows, inputs):
    lines = [json.dumps({"id": str(i), "input": text, "output": "o", **row}) for i, (row, text) in enumerate(zip(rows, inputs))]
    with_files({"d.jsonl": "\n".join(lines).encode()}, HEAD + "dataset: d.jsonl\n")


@FEW
@given(header=st.lists(TEXT, min_size=1, max_size=3), cells=st.lists(st.lists(TEXT, max_size=4), min_size=1, max_size=3))
def test_any_csv_cells(header, cells):
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow(["id", "input", "output", *header])
    for i, row in enumerate(cells):
        w.writerow([str(i), *row])
    # A lone surrogate cannot be written as UTF-8: written as "surrogatepass" it is a byte sequence UTF-8 forbids.
    with_files({"d.csv": out.getvalue().encode("utf-8", "surrogatepass")}, HEAD + "dataset: d.csv\n")


@FEW
@given(case=st.dictionaries(TEXT, st.one_of(TEXT, st.lists(TEXT, max_size=2)), max_size=3), text=TEXT,
       escaped=st.booleans())
def test_any_inline_yaml_strings(case, text, escaped):
    # JSON is YAML: escaped, a lone surrogate is a "\ud800" escape; raw, it is bytes that are not UTF-8.
    cases = json.dumps([{"id": "a", "input": text, **case}], ensure_ascii=escaped)
    with_files({}, (HEAD + f"defaults: {{system: {json.dumps(text, ensure_ascii=escaped)}}}\ncases: {cases}\n")
               .encode("utf-8", "surrogatepass"))


JINJA = st.sampled_from(["{{ q }}", "{{", "}}", "{%", "%}", "{% for i in range(3) %}", "{% endfor %}", "{{ q * 3 }}",
                         "{{ '\\ud800' }}", "{{ q|upper }}", "{% if q %}", "{% endif %}", "{{ q ~ '\\udfff' }}"])


@FEW
@given(parts=st.lists(st.one_of(TEXT, JINJA), max_size=8), cell=TEXT)
def test_any_prompt_template(parts, cell):
    row = io.StringIO(newline="")
    csv.writer(row).writerows([["id", "q"], ["1", cell]])
    prompt = json.dumps("".join(parts))  # a YAML double-quoted scalar
    with_files({"d.csv": row.getvalue().encode("utf-8", "surrogatepass")}, HEAD + f"dataset: d.csv\nprompt: {prompt}\n")


@settings(max_examples=25, deadline=None)
@given(anchors=st.lists(st.lists(st.integers(-1, 30), min_size=1, max_size=12), min_size=1, max_size=9),
       depth=st.integers(0, 150))
def test_any_anchors_and_aliases_load_quickly_or_are_refused(anchors, depth):
    # Anchor i is a list whose items are plain scalars (-1) or aliases of an earlier anchor.
    params = ", ".join(f"a{i}: &a{i} [{', '.join('x' if j < 0 or i == 0 else f'*a{j % i}' for j in items)}]"
                       for i, items in enumerate(anchors))
    value = "[" * depth + f"*a{len(anchors) - 1}" + "]" * depth
    suite = HEAD + f"defaults: {{params: {{{params}}}}}\ncases: [{{id: a, input: q, metadata: {{m: {value}}}}}]\n"
    with_files({}, suite)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300), name=st.sampled_from(["d.jsonl", "d.csv", "d.parquet", "s.yaml"]))
def test_any_bytes_as_a_dataset_or_a_suite(data, name):
    if name == "s.yaml":
        with_files({}, data)
    else:
        with_files({name: data}, HEAD + f"dataset: {name}\n")
