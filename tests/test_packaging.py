"""A wheel that works: built with `pip wheel`, installed (not editable) into a fresh venv, used from a directory
outside the checkout. The judge templates (top-level judges/) and the Streamlit app (top-level app/) ship inside
the package, mapped at build time (pyproject.toml), and are read through importlib.resources.

The venv sees the system site-packages for the dependencies (pyarrow, streamlit, ...); evalharness itself is
installed into it from the wheel with --ignore-installed, and the tests check it is the copy in use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from evalharness import procs
from tests.conftest import ROOT, ServerProc, write

pytestmark = pytest.mark.packaging

# What `pip wheel .` would see of the checkout: everything but VCS data, build output, caches and venvs.
_IGNORE = shutil.ignore_patterns(".git", ".ci", "reports", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                 ".hypothesis", ".pytest_cache", ".benchmarks", ".venv", "venv*")
PROBE = "wheel_probe.j2"  # a template that exists only in the wheel (added to the copy that is built)


def _run(cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} -> {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel built from a copy of the checkout, and a venv with it installed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE, symlinks=True)
    (src / "judges" / PROBE).write_text((ROOT / "judges" / "rubric.j2").read_text() + "(the wheel's own template)\n")
    t0 = time.monotonic()
    # Build isolation, as `pip wheel .` does: setuptools and wheel come from the package index (or pip's cache).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "dist"), str(src)])
    (wheel,) = (base / "dist").glob("evalharness-*.whl")
    built = time.monotonic() - t0
    venv = base / "venv"
    # No pip inside the venv (so no ensurepip, which Debian's python3 lacks without python3-venv): this
    # interpreter's pip installs into it with --python.
    _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)])
    py, exe = venv / "bin" / "python", venv / "bin" / "evalharness"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--ignore-installed",
          "--no-index", str(wheel)])
    outside = base / "elsewhere"  # no checkout here or above it
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVALHARNESS_JUDGES_DIR")}
    env.update(CI="true", VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    print(f"wheel built in {built:.1f} s, venv ready in {time.monotonic() - t0:.1f} s")
    return {"wheel": wheel, "venv": venv, "py": py, "exe": exe, "cwd": outside, "env": env}


def test_wheel_holds_every_module_the_templates_and_the_app(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for f in sorted((ROOT / "judges").glob("*.j2")):
        assert f"evalharness/judges/builtin/{f.name}" in names, f"{f.name} missing from the wheel"
    assert f"evalharness/judges/builtin/{PROBE}" in names
    for f in sorted((ROOT / "app").glob("*.py")):
        assert f"evalharness/app/{f.name}" in names, f"app/{f.name} missing from the wheel"
    missing = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "evalharness").rglob("*.py")
                     if "__pycache__" not in p.parts and str(p.relative_to(ROOT)) not in names)
    assert not missing, (f"not in the wheel: {missing}; add the package to [tool.setuptools] packages "
                         "in pyproject.toml")
    assert "evalharness/scorers/data/injection_model.json.gz" in names


def test_installed_copy_is_the_wheel_not_the_checkout(installed):
    code = ("import evalharness, importlib.resources as r; print(evalharness.__file__); "
            "print(r.files('evalharness.judges.builtin')); print(r.files('evalharness.app'))")
    out = _run([str(installed["py"]), "-c", code], cwd=installed["cwd"], env=installed["env"]).stdout.split()
    assert len(out) == 3 and all(p.startswith(str(installed["venv"])) for p in out), out


def test_list_scorers_from_the_wheel(installed):
    r = _run([str(installed["exe"]), "list", "scorers"], cwd=installed["cwd"], env=installed["env"])
    assert "rubric" in r.stdout and "contains" in r.stdout


def test_judged_suite_reads_its_templates_from_the_wheel(installed, tmp_path):
    """The built-in rubric.j2, and a template that exists only in the wheel, both rendered for a scripted judge."""
    server = ServerProc()
    try:
        suite = write(tmp_path / "s" / "s.yaml", "name: judged\ncategory: accuracy\n"
                      "scorers:\n"
                      "  - {type: rubric, name: builtin, criteria: 'Is it good?', use_logprobs: false}\n"
                      f"  - {{type: rubric, name: probe, criteria: 'Is it good?', use_logprobs: false, template: {PROBE}}}\n"
                      "cases: [{id: a, input: q, output: 'QUALITY=4'}]\n")
        out = tmp_path / "r"
        r = subprocess.run([str(installed["exe"]), "run", str(suite), "--target", "recorded", "--judge-base-url",
                            server.base_url, "--judge-model", "j", "--no-cache", "--out", str(out)],
                           capture_output=True, text=True, timeout=300, cwd=installed["cwd"], env=installed["env"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert server.stats().get("judge", 0) == 2
    finally:
        server.stop()
    import pandas as pd

    (run,) = list(out.iterdir())
    scores = pd.read_parquet(run / "scores.parquet").set_index("scorer")
    assert scores.loc["builtin", "score"] == scores.loc["probe", "score"] == 0.75, scores  # QUALITY=4 on 1..5


def test_ui_from_the_wheel_serves_and_stops_cleanly(installed, tmp_path, ui_runs):
    pytest.importorskip("streamlit")
    env = installed["env"]
    # The app's script, run once headless from the installed package: its imports work outside a checkout.
    script = ("import sys, importlib.resources as r\n"
              "from streamlit.testing.v1 import AppTest\n"
              "at = AppTest.from_file(str(r.files('evalharness.app') / 'main.py'), default_timeout=60).run()\n"
              "assert not at.exception, [e.message for e in at.exception]\n"
              "print('page:', at.sidebar.radio[0].value)\n")
    r = _run([str(installed["py"]), "-c", script], cwd=installed["cwd"],
             env={**env, "EVALHARNESS_REPORTS": str(ui_runs["reports"])})
    assert "page: Runs" in r.stdout, r.stdout

    port = _free_port()
    log = tmp_path / "ui.log"
    with open(log, "wb") as f:
        ui = procs.spawn([str(installed["exe"]), "ui", "--reports", str(ui_runs["reports"]), "--port", str(port)],
                         cwd=installed["cwd"], env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=3, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert ui.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the UI did not answer its health check in 90 s\n" + log.read_text()
            time.sleep(0.3)
        children = _children(ui.pid)
        assert any(str(installed["venv"]) in cmd and "evalharness/app/main.py" in cmd for cmd in children.values()), \
            children
    finally:
        code = procs.stop(ui, timeout_s=20)  # SIGTERM: `ui` passes it on to Streamlit
    assert code == 0, log.read_text()
    assert not [p for p in children if Path(f"/proc/{p}").exists() and _state(p) not in ("Z", "X")], children
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=3, trust_env=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> dict[int, str]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            pass
    return out


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return stat[stat.rindex(")") + 2:].split()[0]


# ---- the template folder override still works ----

def test_judges_dir_override(tmp_path, monkeypatch):
    from evalharness.judges.templates import judges_dir, render

    write(tmp_path / "rubric.j2", "MINE {{ criteria }} {{ output | untrusted('ANSWER') }}")
    monkeypatch.setenv("EVALHARNESS_JUDGES_DIR", str(tmp_path))
    assert Path(str(judges_dir())) == tmp_path
    assert render("rubric.j2", criteria="c", output="o").startswith("MINE c")
    monkeypatch.delenv("EVALHARNESS_JUDGES_DIR")
    assert render("rubric.j2", criteria="c", lo=1, hi=5, input="q", output="o", expected=None,
                  context=None).startswith("You are an impartial evaluator")
    from jinja2 import TemplateNotFound

    with pytest.raises(TemplateNotFound):
        render("../pyproject.toml")
