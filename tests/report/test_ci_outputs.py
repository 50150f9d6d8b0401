"""JUnit XML (parsed with junitparser) and the Markdown summary, from a real run against the scripted server."""


from junitparser import Error, Failure, JUnitXml

from tests.conftest import write

SUITE = """\
name: ci
category: accuracy
scorers: [{type: contains, value: ok}]
gate: {min_pass_rate: 0.9}
cases:
  - {id: good, input: "REPLY=ok fine"}
  - {id: bad, input: "REPLY=<script>alert(1)</script> | nope"}
  - {id: broken, input: "FAULT:nochoices"}
  - {id: xss, input: "REPLY=ok <script>alert(1)</script>", scorers: [{type: exact, value: ok}]}
"""


def test_junit_and_markdown_summary(tmp_path, cli, fault_server):
    s = write(tmp_path / "s.yaml", SUITE)
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    r = cli("run", str(s), "--base-url", fault_server.base_url, "--model", "m", "--no-cache", "--out",
            str(tmp_path / "r"), "--junit", str(junit), "--summary", str(summary), "--repeats", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    xml = JUnitXml.fromfile(str(junit))
    (suite,) = list(xml)
    assert suite.name == "ci [m]" and suite.tests == 4 and suite.failures == 2 and suite.errors == 1
    cases = {c.name: c for c in suite}
    assert cases["good"].is_passed and cases["good"].classname == "ci.m"
    (failure,) = [x for x in cases["bad"].result if isinstance(x, Failure)]
    assert "contains: does not contain 'ok'" in failure.message and "repeat 1:" in failure.text
    (error,) = [x for x in cases["broken"].result if isinstance(x, Error)]
    assert "no choices" in error.message

    md = summary.read_text()
    assert md.startswith("## evalharness: ❌ GATE FAILED")
    assert "| ❌ | ci | m | overall | pass_rate | 0.250 | min 0.9 | 8 |" in md
    assert "\\<script\\>" in md and "<script>" not in md  # model text is inert Markdown
    assert "responses.parquet" in md
