import json
import subprocess
import sys

from tests.conftest import ROOT, run_cli, write


def test_help_imports_nothing_heavy():
    code = ("import sys, evalharness.cli as c\n"
            "heavy = [m for m in ('pandas', 'pyarrow', 'httpx', 'rouge_score', 'sacrebleu', 'jsonschema') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr


def test_validate_shipped_suites(cli):
    r = cli("validate", str(ROOT / "suites"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok  ") >= 5


def test_validate_bad_suite_exit_2(cli, tmp_path):
    p = write(tmp_path / "s.yaml", "name: x\ncategory: accuracy\ncases: [{id: a, input: q, expectd: 1}]\nscorers: [{type: exact}]\n")
    r = cli("validate", str(p))
    assert r.returncode == 2
    assert f"{p}:3: cases[0].expectd: unknown key 'expectd' (did you mean 'expected'?)" in r.stderr


def test_list_scorers_shows_every_scorer(cli):
    r = cli("list", "scorers")
    assert r.returncode == 0
    for name in ("exact", "contains", "contains_any", "contains_all", "regex", "choice", "numeric", "json_valid",
                 "json_schema", "length", "latency", "tokens", "rouge_l", "bleu", "refusal", "pii", "canary"):
        assert f"│ {name} " in r.stdout, name
    assert cli("list", "nothing").returncode == 2


def test_schema_is_json(cli):
    r = cli("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["properties"]["category"]["enum"] == ["accuracy", "hallucination", "safety", "tool_calling", "regression"]
    assert any(v["title"] == "regex" for v in schema["$defs"]["ScorerSpec"]["oneOf"])


def test_run_without_paths_is_usage_error(cli):
    r = cli("run")
    assert r.returncode == 2 and "give suite files" in r.stderr


def test_startup_gc_is_back_on_for_commands_and_runs(tmp_path):
    """The CLI turns garbage collection off for its start-up only: every command gets it back, with
    the young generation collected every 10,000 allocations instead of 700 (evalharness/startup.py)."""
    code = ("import gc, sys\n"
            "from evalharness import startup\n"
            "import evalharness.cli as c\n"
            "seen = []\n"
            "import evalharness.engine.loop as lp\n"
            "orig = lp.run\n"
            "def spy(coro):\n"
            "    seen.append(gc.isenabled())\n"
            "    return orig(coro)\n"
            "lp.run = spy\n"
            "startup.begin()\n"
            "try:\n"
            "    c.app(sys.argv[1:], standalone_mode=False)\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(gc.isenabled(), seen, gc.get_freeze_count() > 0, gc.get_threshold())\n")
    suite = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: exact, value: a}]\n"
                                      "cases: [{id: a, input: q, output: a}]\n")
    listed = subprocess.run([sys.executable, "-c", code, "list", "scorers"], capture_output=True, text=True, cwd=ROOT)
    assert listed.stdout.splitlines()[-1] == "True [] True (10000, 10, 10)", listed.stdout + listed.stderr
    ran = subprocess.run([sys.executable, "-c", code, "run", str(suite), "--target", "recorded", "--no-cache",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT)
    assert ran.stdout.splitlines()[-1] == "True [True] True (10000, 10, 10)", ran.stdout + ran.stderr


def test_version_flag():
    from evalharness import __version__

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"evalharness {__version__}", r.stdout + r.stderr
