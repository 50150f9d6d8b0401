"""Suites and datasets come from pull requests. Each input below once crashed, hung or ate gigabytes; each is
now refused with exit 2 and `file:line: field: message`, through the real CLI."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evalharness.suite.errors import SuiteError
from evalharness.suite.loader import load_suite
from tests.conftest import ROOT, write

HEAD = "name: {name}\ncategory: accuracy\nscorers: [{{type: exact}}]\n"

# A child process runs the CLI; this parent reports the child's peak RSS (ru_maxrss of its children only).
_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(code)\n")


def cli_peak_mb(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI as a real process; return its result and its peak resident memory in MB."""
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "evalharness.cli", *args],
                       capture_output=True, text=True, env=env, timeout=timeout)
    r.stderr, _, peak = r.stderr.rpartition("PEAK ")
    return r, int(peak) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def refused(r: subprocess.CompletedProcess, *expected: str) -> None:
    """Exit 2, every expected `file:line: ...` text in stderr, and no traceback anywhere."""
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out and "unexpected error" not in out, out
    for e in expected:
        assert e in r.stderr, r.stderr


def dataset_suite(tmp_path: Path, dataset: str, prompt: str | None = None) -> Path:
    text = HEAD.format(name="ds") + f"dataset: {dataset}\n"
    if prompt is not None:
        text += f"prompt: '{prompt}'\n"
    return write(tmp_path / "s.yaml", text)


# ---- YAML ----

def billion_laughs(levels: int = 9) -> str:
    names = "abcdefghij"
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for prev, name in zip(names, names[1:levels]):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    return text


def test_yaml_alias_bomb_is_refused_at_once_and_small(tmp_path, cli):
    s = write(tmp_path / "bomb.yaml", HEAD.format(name="bomb") + "cases: [{id: a, input: q}]\n" + billion_laughs())
    assert s.stat().st_size < 600
    r, peak = cli_peak_mb("validate", str(s))
    refused(r, f"{s}:10: aliases expand to over 250000 nodes (at *e)")
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    start = time.process_time()  # CPU time, so a busy machine does not fail the test
    with pytest.raises(SuiteError, match="aliases expand"):
        load_suite(s)
    assert time.process_time() - start < 1


def test_ordinary_anchors_and_merge_keys_still_load(tmp_path):
    s = write(tmp_path / "s.yaml", HEAD.format(name="anchors") + """\
defaults: {params: &params {temperature: 0, max_tokens: 16}}
cases:
  - &base {id: a, input: Capital of France?, expected: Paris, tags: [geo], params: *params}
  - <<: *base
    id: b
    input: And the capital of France, again?
  - {<<: *base, id: c, metadata: {params: *params}}
""")
    a, b, c = (lc.case for lc in load_suite(s).cases)
    assert (a.expected, a.tags, a.params) == ("Paris", ["geo"], {"temperature": 0, "max_tokens": 16})
    assert (b.input, b.expected, b.params) == ("And the capital of France, again?", "Paris", a.params)
    assert (c.input, c.metadata) == (a.input, {"params": a.params})
    s.write_text(s.read_text().replace("id: c,", "id: c, id: d,"))  # a mapping's own keys still may not repeat
    with pytest.raises(SuiteError, match=r"s.yaml:10: cases\[2\].id: duplicate key \(first at line 10\)"):
        load_suite(s)


def test_yaml_nesting_and_recursive_alias_are_problems_not_crashes(tmp_path, cli):
    deep = write(tmp_path / "deep.yaml", HEAD.format(name="deep") + "x: " + "[" * 100_000 + "]" * 100_000 + "\n")
    r = cli("validate", str(deep))  # was a segmentation fault
    refused(r, f"{deep}:4: ")
    # our own bound, or PyYAML's (6.0.4 stops at its own depth limit first): either way a problem at the line
    assert "nested over 100 levels deep" in r.stderr or "exceeded maximum nesting depth" in r.stderr, r.stderr
    loop = write(tmp_path / "loop.yaml", HEAD.format(name="loop") + "x: &x [*x]\ncases: [{id: a, input: q}]\n")
    refused(cli("validate", str(loop)), f"{loop}:4: alias *x is inside the value it names")  # was RecursionError


def test_suite_file_size_is_bounded(tmp_path, monkeypatch):
    from evalharness.suite import yamlsrc

    monkeypatch.setattr(yamlsrc, "MAX_YAML_BYTES", 1000)
    s = write(tmp_path / "s.yaml", HEAD.format(name="big") + "cases: [{id: a, input: '" + "x" * 1000 + "'}]\n")
    with pytest.raises(SuiteError, match=f"{s}: file is over 1000 bytes"):
        load_suite(s)


# ---- datasets ----

def test_invalid_utf8_in_a_dataset_names_the_line(tmp_path, cli):
    (tmp_path / "d.jsonl").write_bytes(b'{"id": "a", "input": "q"}\n{"id": "b", "input": "caf\xe9"}\n')
    s = dataset_suite(tmp_path, "d.jsonl")
    refused(cli("validate", str(s)), f"{tmp_path / 'd.jsonl'}:2: not UTF-8 (byte 0xe9 at column 26)")
    (tmp_path / "d.csv").write_bytes(b"id,input\na,q\nb,caf\xe9\n")
    s = dataset_suite(tmp_path, "d.csv")
    refused(cli("validate", str(s)), f"{tmp_path / 'd.csv'}:3: input: not UTF-8 (byte 0xe9)")


def test_lone_surrogate_is_refused_by_validate_and_run(tmp_path, cli):
    write(tmp_path / "d.jsonl", '{"id": "a", "input": "q", "output": "o"}\n'
                                '{"id": "b", "input": "q", "output": "o", "notes": {"k": ["ok", "\\ud800"]}}\n')
    s = dataset_suite(tmp_path, "d.jsonl")
    expected = (f"{tmp_path / 'd.jsonl'}:2: metadata.notes.k[1]: cannot be encoded as UTF-8 "
                "(lone surrogate U+D800 at character 1)")
    refused(cli("validate", str(s)), expected)
    out = tmp_path / "out"
    refused(cli("run", str(s), "--target", "recorded", "--out", str(out)), expected)  # run crashed in orjson
    assert not out.exists() or not any(out.iterdir())


def test_lone_surrogate_made_by_a_template_is_refused(tmp_path, cli):
    write(tmp_path / "d.csv", "id,q\n1,fine\n")
    s = dataset_suite(tmp_path, "d.csv", prompt='{{ q }} {{ "\\ud800" }}')  # jinja2 reads the escape
    refused(cli("validate", str(s)), f"{tmp_path / 'd.csv'}:2: input: cannot be encoded as UTF-8")


def test_oversized_cells_are_problems_at_their_line(tmp_path, cli):
    cell = "x" * 2_000_000
    write(tmp_path / "d.csv", f"id,input\na,q\nb,{cell}\n")
    s = dataset_suite(tmp_path, "d.csv")
    refused(cli("validate", str(s)), f"{tmp_path / 'd.csv'}:3: cell over 1048576 characters")  # was _csv.Error
    write(tmp_path / "d.csv", f"id,input\na,{'x' * 50_000_000}\n")  # a 50 MB line
    r, peak = cli_peak_mb("validate", str(s))
    refused(r, f"{tmp_path / 'd.csv'}:2: line over 16777216 characters")
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    write(tmp_path / "d.jsonl", f'{{"id": "a", "input": "q"}}\n{{"id": "b", "input": "{cell}"}}\n')
    refused(cli("validate", str(dataset_suite(tmp_path, "d.jsonl"))), f"{tmp_path / 'd.jsonl'}:2: input: cell over 1048576")
    pq.write_table(pa.table({"id": ["a", "b"], "input": ["q", cell]}), tmp_path / "d.parquet")
    refused(cli("validate", str(dataset_suite(tmp_path, "d.parquet"))), f"{tmp_path / 'd.parquet'}:2: input: cell over")


def test_parquet_nested_types_load_and_a_corrupt_file_is_a_problem(tmp_path, cli):
    pq.write_table(pa.table({"id": ["a"], "input": ["q"], "output": ["o"],
                             "nested": [[{"k": "v", "n": [1, 2]}]], "blob": pa.array([b"\xff\x00"])}),
                   tmp_path / "d.parquet")
    case = load_suite(dataset_suite(tmp_path, "d.parquet")).cases[0].case
    assert case.metadata == {"nested": [{"k": "v", "n": [1, 2]}], "blob": b"\xff\x00"}
    (tmp_path / "d.parquet").write_bytes(b"PAR1" + os.urandom(64) + b"PAR1")
    s = dataset_suite(tmp_path, "d.parquet")
    refused(cli("validate", str(s)), f"{s}:4: dataset: {tmp_path / 'd.parquet'}: cannot read Parquet")


def denied():
    raise PermissionError(13, "Permission denied")


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv", "d.parquet"])
def test_a_dataset_that_cannot_be_read_is_a_problem(tmp_path, monkeypatch, name):
    # In-process: a test run as root cannot make a file unreadable with chmod.
    data = tmp_path / name
    data.write_text("id,input\n")
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: denied() if self == data else real_open(self, *a, **k))
    monkeypatch.setattr("pyarrow.parquet.ParquetFile", lambda *a, **k: denied())
    s = dataset_suite(tmp_path, name)
    with pytest.raises(SuiteError) as e:
        load_suite(s)
    (problem,) = map(str, e.value.problems)
    assert problem.startswith(f"{s}:4: dataset: {data}: ") and "Permission denied" in problem


# ---- jinja2 prompt templates ----

def test_template_asking_for_a_huge_string_is_refused_small(tmp_path):
    write(tmp_path / "d.csv", "id,q\n1,a\n2,b\n")
    s = dataset_suite(tmp_path, "d.csv", prompt="{{ \"x\" * 300000000 }}")
    r, peak = cli_peak_mb("validate", str(s))
    refused(r, f"{tmp_path / 'd.csv'}:2: prompt: template builds a value over 1048576 characters", "1 problem(s)")
    assert peak < 500, f"peak RSS {peak:.0f} MB"  # was 1.2 GB, and exit 0


def test_template_loops_end_at_the_deadline(tmp_path, cli):
    write(tmp_path / "d.csv", "id,q\n1,a\n2,b\n3,c\n")
    loops = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    start = time.monotonic()
    r = cli("validate", str(dataset_suite(tmp_path, "d.csv", prompt=loops)), timeout=120)  # was endless
    refused(r, f"{tmp_path / 'd.csv'}:2: prompt: template took over 1 s", "1 problem(s)")  # stops at the first row
    assert time.monotonic() - start < 30
    output = "{% for i in range(10000) %}{{ q * 1000 }}{% endfor %}"
    r = cli("validate", str(dataset_suite(tmp_path, "d.csv", prompt=output)))
    refused(r, f"{tmp_path / 'd.csv'}:2: prompt: template output over 1048576 characters")


def test_plain_column_template_has_the_output_bound(tmp_path):
    write(tmp_path / "d.csv", f"id,q\n1,{'x' * 100_000}\n")
    s = dataset_suite(tmp_path, "d.csv", prompt="{{ q }}" * 11)
    with pytest.raises(SuiteError) as e:
        load_suite(s)
    assert [str(p) for p in e.value.problems] == [f"{tmp_path / 'd.csv'}:2: prompt: template output over 1048576 characters"]
    write(tmp_path / "d.csv", f"id,q\n1,{'x' * 90_000}\n")
    assert len(load_suite(s).cases[0].case.input) == 990_000
