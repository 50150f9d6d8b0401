import yaml

from evalharness.suite.loader import load_suite
from tests.conftest import write

SUITE = """\
name: golden-src
category: accuracy
defaults: {system: "Be brief."}
scorers: [{type: exact, value: ok}]
cases:
  - {id: a, input: q1, output: "ok"}
  - {id: b, input: q2, output: "<img src=https://evil.example/x.png onerror=alert(1)>"}
"""


def run(tmp_path, cli, body=SUITE, name="r"):
    s = write(tmp_path / f"{name}.yaml", body)
    out = tmp_path / name
    cli("run", str(s), "--target", "recorded", "--out", str(out))
    (d,) = list(out.iterdir())
    return d


def test_html_report_escapes_output(tmp_path, cli):
    d = run(tmp_path, cli)
    html = tmp_path / "report.html"
    r = cli("report", str(d), "--format", "html", "-o", str(html))
    assert r.returncode == 0, r.stderr
    text = html.read_text()
    assert "<img src=https://evil.example" not in text and "&lt;img src=https://evil.example" in text
    assert "Failed cases (1)" in text and "golden-src" in text and "default-src 'none'" in text


def test_snapshot_then_regression_run(tmp_path, cli):
    d = run(tmp_path, cli)
    golden = tmp_path / "golden-src.golden.yaml"
    r = cli("snapshot", str(d), "--suite", "golden-src", "-o", str(golden), "--scorer", "exact")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(golden.read_text())
    assert doc["category"] == "regression" and doc["defaults"]["system"] == "Be brief."
    assert [c["expected"] for c in doc["cases"]] == ["ok", "<img src=https://evil.example/x.png onerror=alert(1)>"]
    loaded = load_suite(golden)
    assert [lc.case.id for lc in loaded.cases] == ["a", "b"]


def test_baseline_pin_and_use(tmp_path, cli):
    d = run(tmp_path, cli)
    reports = tmp_path / "reports"
    assert cli("baseline", "set", str(d), "--reports", str(reports)).returncode == 0
    s = write(tmp_path / "p.yaml", SUITE.replace("scorers: [{type: exact, value: ok}]",
              "scorers: [{type: exact, value: ok}]\ngate: {max_regression: 0.0}"))
    r = cli("run", str(s), "--target", "recorded", "--baseline", "pinned", "--out", str(reports))
    assert r.returncode == 0 and "vs baseline" in r.stdout
    assert cli("run", str(s), "--target", "recorded", "--baseline", "pinned", "--out", str(tmp_path / "none")).returncode == 2


def test_snapshot_of_tool_calls_freezes_the_calls_and_passes_on_the_same_behaviour(tmp_path, cli, fault_server):
    """A tool-call case is frozen as its calls (not `expected: ''`), with its tool_choice and the suite's
    tools; the golden suite run against the same behaviour passes, and a changed argument fails it."""
    tools = ("tools:\n  - type: function\n    function: {name: get_weather, parameters: {type: object, "
             "properties: {city: {type: string}}, required: [city]}}\ntool_choice: auto\n")
    src = write(tmp_path / "tc.yaml", "name: tc\ncategory: tool_calling\n" + tools +
                "scorers: [{type: tool_call}]\ncases:\n"
                "  - {id: w, input: 'weather?', tool_choice: required, expected_tool_calls: [{name: get_weather, arguments: {city: Paris}}],\n"
                "     tool_calls: [{id: c1, type: function, function: {name: get_weather, arguments: '{\"city\": \"Paris\"}'}}]}\n"
                "  - {id: t, input: 'hi', output: 'hello'}\n")
    out = tmp_path / "r"
    assert cli("run", str(src), "--target", "recorded", "--out", str(out)).returncode in (0, 1)
    (d,) = list(out.iterdir())
    golden = tmp_path / "tc.golden.yaml"
    r = cli("snapshot", str(d), "--suite", "tc", "-o", str(golden), "--scorer", "exact")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(golden.read_text())
    w, t = doc["cases"]
    assert w["expected_tool_calls"] == [{"name": "get_weather", "arguments": {"city": ["Paris"]}}]
    assert w["tool_choice"] == "required" and "expected" not in w and w["scorers"] == [{"type": "tool_call"}]
    assert t["expected"] == "hello" and t["scorers"] == [{"type": "exact"}]
    assert doc["tools"][0]["function"]["name"] == "get_weather" and doc["tool_choice"] == "auto"
    # the same behaviour, recorded again, passes the golden suite; a changed argument fails it
    for city, code in (("Paris", 0), ("Rome", 1)):
        doc["gate"] = {"min_pass_rate": 1.0}
        doc["cases"][0]["tool_calls"] = [{"id": "c1", "type": "function",
                                          "function": {"name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}]
        doc["cases"][1]["output"] = "hello"
        again = tmp_path / f"again-{city}.yaml"
        again.write_text(yaml.safe_dump(doc))
        r = cli("run", str(again), "--target", "recorded", "--out", str(tmp_path / f"r-{city}"))
        assert r.returncode == code, r.stdout + r.stderr
