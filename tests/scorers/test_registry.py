"""The lazy scorer registry: the static index matches what the modules register, and loading a
suite imports only the scorer modules it names (plus nothing heavy)."""

import subprocess
import sys

import pytest

from evalharness.scorers import base
from tests.conftest import ROOT, write


def test_index_matches_registrations():
    registered = base.all_scorers()
    modules = {name: info.factory.__module__.rsplit(".", 1)[1] for name, info in registered.items()}
    assert modules == base.BUILTIN_INDEX


def test_unknown_scorer_still_suggests_across_all_modules():
    with pytest.raises(base.UnknownScorer) as e:
        base.get_scorer("faithfulnes")  # lives in a module no other lookup has imported
    assert "did you mean 'faithfulness'" in str(e.value)


def test_builtin_missing_from_index_is_refused(monkeypatch):
    monkeypatch.setattr(base, "BUILTIN_INDEX", {k: v for k, v in base.BUILTIN_INDEX.items() if k != "new_one"})

    def factory(args):
        return lambda s: base.Score(1.0, True)

    factory.__module__ = "evalharness.scorers.text"
    with pytest.raises(ValueError, match="missing from BUILTIN_INDEX"):
        base.scorer(name="new_one", description="d")(factory)
    assert "new_one" not in base._REGISTRY


def test_loading_a_suite_imports_only_what_it_names(tmp_path):
    suite = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains, value: ok}]\n"
                                      "cases: [{id: a, input: q}]\n")
    code = ("import sys\n"
            "from evalharness.suite.loader import load_suites\n"
            f"load_suites([{str(suite)!r}])\n"
            "mods = ['evalharness.scorers.' + m for m in ('judged', 'safety', 'tools', 'overlap', 'injection', 'structured')]\n"
            "print(','.join(m for m in mods + ['jinja2', 'pyarrow', 'pandas', 'aiohttp'] if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported without need: {out.stdout}"
