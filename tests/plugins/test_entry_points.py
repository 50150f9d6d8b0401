"""Plugins through entry points (evalharness/plugins.py): the example plugin package next to this file is
installed for real (pip, offline) into a temporary directory, and the real CLI (validate, list, schema,
run --target recorded) sees its scorers and mutator with that directory on PYTHONPATH. Broken plugins
(an import that fails, a built-in name, two distributions declaring one name, a factory that raises) are
configuration errors at the suite's file:line that name the entry point and its distribution."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, write

PKG = Path(__file__).resolve().parent / "evalharness_example_plugin"
DIST = "evalharness-example-plugin 0.1.0"


# --- installing the example plugin ------------------------------------------------------------------

def _pip(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _wheel_from_pyproject(src: Path, dist_dir: Path) -> Path:
    """A pure-Python wheel of the package, its metadata and entry points taken from pyproject.toml (for
    setuptools that cannot build wheels without the `wheel` package, which may not be installed)."""
    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    norm = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{norm}-{version}.dist-info"
    files: dict[str, bytes] = {}
    root = src / "src"
    for f in sorted(root.rglob("*.py")):
        files[f.relative_to(root).as_posix()] = f.read_bytes()
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 f"Summary: {project.get('description', '')}\n").encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: evalharness-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in project["entry-points"].items()).encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dist_dir.mkdir(parents=True, exist_ok=True)
    whl = dist_dir / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return whl


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """The example plugin installed with pip into a fresh directory, without the network: from source
    (setuptools, no build isolation) when this setuptools can build wheels, else from a wheel built here."""
    work = tmp_path_factory.mktemp("plugin")
    src = work / "src"  # a copy: an in-tree build must not leave build/ or *.egg-info in the repository
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    r = _pip("--no-build-isolation", "--target", str(target), str(src))
    if r.returncode != 0:  # e.g. "invalid command 'bdist_wheel'": setuptools < 70.1 without `wheel`
        shutil.rmtree(target, ignore_errors=True)
        r = _pip("--target", str(target), str(_wheel_from_pyproject(src, work / "dist")))
    assert r.returncode == 0, r.stdout + r.stderr
    (info,) = target.glob("evalharness_example_plugin-0.1.0.dist-info")
    eps = (info / "entry_points.txt").read_text()
    assert "[evalharness.scorers]" in eps and "[evalharness.mutators]" in eps and "[evalharness.targets]" in eps
    return target


def cli_with(*paths: Path):
    env = {"PYTHONPATH": os.pathsep.join(map(str, paths)), "COLUMNS": "200"}
    return lambda *args: run_cli(*args, env=env)


@pytest.fixture(scope="module")
def cli_p(plugin_path):
    return cli_with(plugin_path)


# --- a broken distribution, written by hand (importlib.metadata reads any *.dist-info on sys.path) --------

BROKEN_EPS = """\
[evalharness.scorers]
broken_scorer = evalharness_broken_plugin.missing:nothing
contains = evalharness_broken_plugin.clash
wrong_name = evalharness_broken_plugin.wrong
explodes = evalharness_broken_plugin.explodes:factory
starts_with_capital = evalharness_broken_plugin.wrong

[evalharness.mutators]
broken_mutator = evalharness_broken_plugin.missing
leetspeak = evalharness_broken_plugin.clash
raises = evalharness_broken_plugin.raising

[evalharness.targets]
bad_kind = evalharness_broken_plugin.wrong:f
"""


@pytest.fixture(scope="module")
def broken_path(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("broken")
    pkg = d / "evalharness_broken_plugin"
    pkg.mkdir()
    write(pkg / "__init__.py", "")
    write(pkg / "missing.py", '"""A module whose dependency is missing."""\n\nimport no_such_dependency_xyz  # noqa\n')
    write(pkg / "clash.py", "raise RuntimeError('a shadowed plugin is never imported')\n")
    write(pkg / "wrong.py", "from evalharness.scorers.base import Score, scorer\n\n"
                            "@scorer(name='other_name', description='registers a name its entry point does not use')\n"
                            "def f(args):\n    return lambda s: Score(1.0, True)\n")
    write(pkg / "explodes.py", "from evalharness.scorers.base import scorer\n\n"
                               "@scorer(name='explodes', description='its factory raises')\n"
                               "def factory(args):\n    raise RuntimeError('boom in the factory')\n")
    write(pkg / "raising.py", "from evalharness.mutators import mutator\n\n"
                              "@mutator(name='raises', description='raises when called')\n"
                              "def raises(text, rng):\n    raise ZeroDivisionError('mutator bug')\n")
    info = d / "evalharness_broken_plugin-0.0.1.dist-info"
    info.mkdir()
    write(info / "METADATA", "Metadata-Version: 2.1\nName: evalharness-broken-plugin\nVersion: 0.0.1\n")
    write(info / "entry_points.txt", BROKEN_EPS)
    return d


SUITE = """\
name: plug
category: accuracy
mutate: [shout]
scorers:
  - {type: starts_with_capital, min_words: 2}
  - {type: ends_with_period}
cases:
  - {id: good, input: say hello, output: "Hello there."}
  - {id: lower, input: say hello, output: "hello there"}
  - {id: short, input: say hi, output: "Hi."}
"""


# --- the example plugin, through the real CLI ------------------------------------------------------------

def test_list_scorers_and_mutators_show_plugins(cli_p):
    r = cli_p("list", "scorers")
    assert r.returncode == 0, r.stderr
    assert "│ starts_with_capital " in r.stdout and "│ ends_with_period " in r.stdout and "│ contains " in r.stdout
    assert "(plugin:" in r.stdout and f"{DIST})" in r.stdout  # rich may wrap the description here
    assert "min_words (default 1)" in r.stdout
    assert "warning" not in r.stderr, r.stderr
    m = cli_p("list", "mutators")
    assert m.returncode == 0, m.stderr
    assert re.search(rf"^shout +upper-cases the prompt .*\(plugin: {DIST}\)$", m.stdout, re.M), m.stdout
    assert re.search(r"^leetspeak ", m.stdout, re.M) and "paraphrase" in m.stdout


def test_schema_has_the_plugin_scorer_and_its_options(cli_p):
    import json

    r = cli_p("schema")
    assert r.returncode == 0, r.stderr
    variants = {v["title"]: v for v in json.loads(r.stdout)["$defs"]["ScorerSpec"]["oneOf"]}
    v = variants["starts_with_capital"]
    assert v["properties"]["type"]["const"] == "starts_with_capital"
    assert v["properties"]["min_words"]["minimum"] == 1 and "skip" in v["properties"]
    assert "threshold" in v["properties"] and v["additionalProperties"] is False
    assert "ends_with_period" in variants and "contains" in variants


def test_validate_and_run_with_plugin_scorer_and_mutator(cli_p, tmp_path):
    import pyarrow.parquet as pq

    s = write(tmp_path / "s.yaml", SUITE)
    r = cli_p("validate", str(s))
    assert r.returncode == 0, r.stderr
    assert "cases=6" in r.stdout  # 3 seeds + 3 `~shout` variants from the plugin mutator
    out = tmp_path / "out"
    r = cli_p("run", str(s), "--target", "recorded", "--out", str(out), "--no-cache")
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    rows = pq.read_table(run / "scores.parquet").to_pylist()
    got = {(x["case_id"], x["scorer"]): x["passed"] for x in rows}
    assert got[("good", "starts_with_capital")] is True and got[("good", "ends_with_period")] is True
    assert got[("lower", "starts_with_capital")] is False and got[("lower", "ends_with_period")] is False
    assert got[("short", "starts_with_capital")] is False  # the option: min_words 2
    assert {c for c, _ in got} == {"good", "lower", "short", "good~shout", "lower~shout", "short~shout"}
    reasons = {x["case_id"]: x["reason"] for x in rows if x["scorer"] == "starts_with_capital"}
    assert "fewer than 2 words" in reasons["short"]
    responses = {x["case_id"]: x for x in pq.read_table(run / "responses.parquet").to_pylist()}
    assert "SAY HELLO" in responses["good~shout"]["messages"]  # the mutated prompt was the one sent


def test_bad_option_and_unknown_names_are_exit_2_with_file_line(cli_p, tmp_path):
    bad = write(tmp_path / "bad.yaml", SUITE.replace("min_words: 2", "min_words: 0"))
    r = cli_p("validate", str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{bad}:5: scorers[0].min_words:" in r.stderr and "greater than or equal to 1" in r.stderr
    typo = write(tmp_path / "typo.yaml", SUITE.replace("min_words: 2", "min_word: 2"))
    r = cli_p("validate", str(typo))
    assert r.returncode == 2 and f"{typo}:5: scorers[0].min_word: unknown key 'min_word' (did you mean 'min_words'?)" \
        in r.stderr, r.stderr
    unknown = write(tmp_path / "unknown.yaml", SUITE.replace("type: starts_with_capital", "type: starts_with_captial")
                    .replace("[shout]", "[shuot]"))
    r = cli_p("validate", str(unknown))
    assert r.returncode == 2, r.stderr
    assert (f"{unknown}:5: scorers[0].type: unknown scorer type 'starts_with_captial' "
            "(did you mean 'starts_with_capital'?)") in r.stderr
    assert f"{unknown}:3: mutate[0]: unknown mutator 'shuot' (did you mean 'shout'?)" in r.stderr
    r = cli_p("run", str(bad), "--target", "recorded", "--out", str(tmp_path / "o"), "--no-cache")
    assert r.returncode == 2 and f"{bad}:5: scorers[0].min_words:" in r.stderr
    assert "Traceback" not in r.stderr


def test_without_the_plugin_the_names_are_unknown(cli, tmp_path):
    s = write(tmp_path / "s.yaml", SUITE)
    r = cli("validate", str(s))
    assert r.returncode == 2
    assert f"{s}:5: scorers[0].type: unknown scorer type 'starts_with_capital'" in r.stderr
    assert f"{s}:3: mutate[0]: unknown mutator 'shout'" in r.stderr


def test_plugins_are_imported_only_when_named(plugin_path, tmp_path):
    builtin = write(tmp_path / "b.yaml", "name: b\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n"
                                        "cases: [{id: a, input: q}]\n")
    plug = write(tmp_path / "p.yaml", "name: p\ncategory: accuracy\nscorers: [{type: starts_with_capital}]\n"
                                     "cases: [{id: a, input: q}]\n")
    code = ("import sys\n"
            "from evalharness.suite.loader import load_suites\n"
            "load_suites([sys.argv[1]])\n"
            "print(sorted(m for m in sys.modules if m.startswith('evalharness_example_plugin')))\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{plugin_path}"}
    for suite, expected in ((builtin, "[]"),
                            (plug, "['evalharness_example_plugin', 'evalharness_example_plugin.scorers']")):
        r = subprocess.run([sys.executable, "-c", code, str(suite)], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == expected


# --- broken plugins ------------------------------------------------------------------------------------

def test_broken_plugins_are_configuration_errors_naming_the_distribution(plugin_path, broken_path, tmp_path):
    cli = cli_with(plugin_path, broken_path)
    where = "of distribution 'evalharness-broken-plugin 0.0.1'"
    s = write(tmp_path / "s.yaml", "name: b\ncategory: accuracy\nscorers:\n  - {type: contains, value: o}\n"
                                   "  - {type: broken_scorer}\n  - {type: wrong_name}\n  - {type: explodes}\n"
                                   "  - {type: starts_with_capital}\n"
                                   "mutate: [broken_mutator]\ncases: [{id: a, input: q, output: ok}]\n")
    r = cli("validate", str(s))
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr
    assert "Traceback" not in err
    assert (f"{s}:5: scorers[1].type: scorer type 'broken_scorer': entry point 'broken_scorer = "
            f"evalharness_broken_plugin.missing:nothing' {where} failed to import: ModuleNotFoundError: "
            "No module named 'no_such_dependency_xyz' (at ") in err
    assert "evalharness_broken_plugin/missing.py:3)" in err
    assert (f"{s}:6: scorers[2].type: scorer type 'wrong_name': entry point 'wrong_name = "
            f"evalharness_broken_plugin.wrong' {where} registered no scorer named 'wrong_name' with @scorer "
            "(it registered: other_name)") in err
    assert f"{s}:7: scorers[3].type: scorer 'explodes' from entry point 'explodes = " in err
    assert "failed to build: RuntimeError: boom in the factory" in err
    assert f"{s}:8: scorers[4].type: scorer type 'starts_with_capital': 'starts_with_capital' is declared by 2 plugins" \
        in err and DIST in err
    assert f"{s}:9: mutate[0]: mutator 'broken_mutator': entry point 'broken_mutator = evalharness_broken_plugin.missing' " \
           f"{where} failed to import: ModuleNotFoundError" in err
    # built-ins win: the shadowing plugins are named in warnings, never imported, and the built-ins work
    assert (f"warning: entry point 'contains = evalharness_broken_plugin.clash' {where} is ignored: 'contains' is a "
            "built-in scorer and built-ins win over plugins; rename it") in err
    assert "warning: entry point 'leetspeak = evalharness_broken_plugin.clash'" in err
    assert "scorers[0]" not in err and "a shadowed plugin is never imported" not in err
    ok = write(tmp_path / "ok.yaml", "name: ok\ncategory: accuracy\nmutate: [leetspeak]\n"
                                     "scorers: [{type: contains, value: o}, {type: ends_with_period}]\n"
                                     "cases: [{id: a, input: q, output: ok.}]\n")
    r = cli("validate", str(ok))
    assert r.returncode == 0 and "cases=2" in r.stdout, r.stderr
    assert "is a built-in scorer and built-ins win" in r.stderr
    r = cli("run", str(ok), "--target", "recorded", "--out", str(tmp_path / "o"), "--no-cache")
    assert r.returncode == 0, r.stdout + r.stderr


def test_listing_skips_broken_plugins_with_a_warning(plugin_path, broken_path):
    cli = cli_with(plugin_path, broken_path)
    r = cli("list", "scorers")
    assert r.returncode == 0, r.stderr
    assert "│ ends_with_period " in r.stdout and "│ explodes " in r.stdout and "│ broken_scorer " not in r.stdout
    assert "warning: scorer type 'broken_scorer': entry point 'broken_scorer = " in r.stderr
    assert "warning: scorer type 'starts_with_capital': 'starts_with_capital' is declared by 2 plugins" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("list", "mutators")
    assert r.returncode == 0 and "warning: mutator 'broken_mutator': entry point" in r.stderr, r.stderr
    assert re.search(r"^shout ", r.stdout, re.M) and re.search(r"^raises ", r.stdout, re.M)
    r = cli("schema")
    assert r.returncode == 0 and '"title": "ends_with_period"' in r.stdout and "warning: scorer type 'broken_scorer'" in r.stderr


def test_a_failing_plugin_mutator_names_its_plugin(broken_path, tmp_path):
    code = ("from evalharness.mutators import mutate_case, MutatorFailed\n"
            "try:\n    mutate_case({'id': 'a', 'input': 'q'}, 'raises')\n"
            "except MutatorFailed as e:\n    print(e)\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{broken_path}"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    msg = ("mutator 'raises' from entry point 'raises = evalharness_broken_plugin.raising' "
           "of distribution 'evalharness-broken-plugin 0.0.1' failed: ZeroDivisionError: mutator bug")
    assert r.stdout.startswith(msg)
    # through a suite: never silently dropped variants, never a traceback on the terminal
    s = write(tmp_path / "s.yaml", "name: m\ncategory: safety\nmutate: [raises]\nscorers: [{type: refusal}]\n"
                                   "cases: [{id: a, input: q, output: no}]\n")
    r = run_cli("validate", str(s), env={"PYTHONPATH": str(broken_path)})
    assert r.returncode != 0 and msg in r.stderr and "Traceback" not in r.stderr, r.stdout + r.stderr


def test_target_kinds_load_through_the_same_loader(plugin_path, broken_path):
    """The `evalharness.targets` group: `plugins.target_kind` loads and checks a kind class for the
    target-kind registry (built-in kinds are never looked up)."""
    code = ("from evalharness import plugins\n"
            "k = plugins.target_kind('echo', ['http', 'recorded'])\n"
            "print(k.__name__, k.kind, plugins.target_kind('recorded', ['http', 'recorded']),"
            " plugins.target_kind('nope'))\n"
            "try:\n    plugins.target_kind('bad_kind')\n"
            "except plugins.PluginError as e:\n    print(e)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, plugin_path, broken_path)))}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first == "EchoTarget echo None None"
    assert second == ("entry point 'bad_kind = evalharness_broken_plugin.wrong:f' of distribution "
                      "'evalharness-broken-plugin 0.0.1' is not a target kind: it must name a class with "
                      "kind = 'bad_kind' and a start(config, launcher) method")


# --- registration rules (in process) -------------------------------------------------------------------

def test_a_plugin_cannot_register_a_builtin_name():
    from evalharness.mutators import mutator
    from evalharness.scorers import base

    def factory(args):
        return lambda s: base.Score(1.0, True)

    factory.__module__ = "someones_plugin"
    with pytest.raises(ValueError, match="built-ins win over plugins"):
        base.scorer(name="contains", description="d")(factory)
    with pytest.raises(ValueError, match="built-ins win over plugins"):
        mutator(name="leetspeak", description="d")(lambda t, r: t)


def test_a_plugin_target_kind_runs_from_a_targets_file(cli_p, tmp_path):
    """`kind: echo` in a targets file: the plugin's kind starts itself; its cases are scored like recorded ones.
    An unknown kind is exit 2 at the file's line."""
    suite = tmp_path / "s.yaml"
    suite.write_text("name: plug\ncategory: accuracy\nscorers: [{type: contains, value: Paris}]\n"
                     "gate: {min_pass_rate: 0.5}\ncases:\n"
                     "  - {id: a, input: q, output: 'Paris it is'}\n  - {id: b, input: q, output: 'Rome'}\n")
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - name: mine\n    kind: echo\n")
    r = cli_p("run", str(suite), "--targets", str(targets), "--target", "mine", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stdout + r.stderr
    import pyarrow.parquet as pq

    (run,) = (tmp_path / "r").iterdir()
    scores = pq.read_table(run / "scores.parquet").to_pandas()
    assert sorted(zip(scores["case_id"], scores["target"], scores["passed"])) == [("a", "mine", True),
                                                                                   ("b", "mine", False)]
    targets.write_text("targets:\n  - name: mine\n    kind: ech0\n")
    r = cli_p("run", str(suite), "--targets", str(targets), "--target", "mine", "--out", str(tmp_path / "r2"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{targets}:3: targets[0].kind: unknown target kind 'ech0'" in r.stderr
