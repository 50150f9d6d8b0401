"""pytest integration, registered through the `pytest11` entry point (installed with evalharness).

Two ways in:

1. The `eh` fixture, for tests written in Python::

       def test_model(eh):
           eh.run("suites/qa.yaml", targets=["prod"]).assert_passed()

   `eh.run`, `eh.rescore`, `eh.compare`, `eh.load_run` are the `evalharness.api` functions with
   the target, judge and output folder of the pytest options below filled in (keywords win).

2. Suite files named `eval_*.yaml` (or `.yml`) are collected: each case x target is a test item,
   its failure message the failing scorers' reasons (or the response's error), plus one `gate` item
   per suite with a gate. The suite runs once, when its first item runs::

       pytest evals/ --evalharness-target recorded

Options (command line, or the ini key in brackets): --evalharness-target NAME, repeatable
[evalharness_targets, one per line]; --evalharness-base-url / --evalharness-model /
--evalharness-api-key-env [evalharness_base_url, evalharness_model, evalharness_api_key_env];
--evalharness-targets-file [evalharness_targets_file]; --evalharness-judge-base-url /
--evalharness-judge-model / --evalharness-judge-api-key-env [evalharness_judge_*];
--evalharness-out DIR [evalharness_out] (default: a folder under pytest's temporary directory);
--evalharness-no-cache [evalharness_no_cache]. With no target at all, the embedded local model runs.

This module imports nothing of evalharness until a fixture or a suite file is used: it is loaded by
every pytest session of an environment where evalharness is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SUITE_GLOBS = ("eval_*.yaml", "eval_*.yml")

_OPTIONS = (
    # (name, help, ini type)
    ("targets_file", "targets YAML file", "string"),
    ("base_url", "OpenAI-compatible base URL of the target (with --evalharness-model)", "string"),
    ("model", "model name to send (with --evalharness-base-url)", "string"),
    ("api_key_env", "environment variable holding the target's API key", "string"),
    ("judge_base_url", "judge endpoint (the suites' `default` judge)", "string"),
    ("judge_model", "judge model name", "string"),
    ("judge_api_key_env", "environment variable holding the judge's API key", "string"),
    ("out", "directory for run folders (default: under pytest's temporary directory)", "string"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalharness", "evalharness: LLM evaluation suites")
    group.addoption("--evalharness-target", action="append", default=[], dest="evalharness_targets",
                    metavar="NAME", help="target name (repeatable): local, recorded, or one in the targets file")
    parser.addini("evalharness_targets", "target names, one per line", type="linelist", default=[])
    for name, help_, kind in _OPTIONS:
        group.addoption(f"--evalharness-{name.replace('_', '-')}", dest=f"evalharness_{name}", default=None,
                        help=help_)
        parser.addini(f"evalharness_{name}", help_, type=kind, default=None)
    group.addoption("--evalharness-no-cache", action="store_true", default=False, dest="evalharness_no_cache",
                    help="do not read or write the response cache")
    parser.addini("evalharness_no_cache", "do not read or write the response cache", type="bool", default=False)


def _setting(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"evalharness_{name}", None)
    if value in (None, [], False):
        value = config.getini(f"evalharness_{name}")
    return value or None


class Settings:
    """The pytest options as evalharness.api arguments."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def targets(self) -> list:
        from evalharness import api

        out: list = []
        base_url, model = _setting(self.config, "base_url"), _setting(self.config, "model")
        if base_url or model:
            out.append(api.Endpoint(base_url, model, _setting(self.config, "api_key_env")))
        out += list(_setting(self.config, "targets") or [])
        return out

    def target_names(self) -> list[str]:
        from evalharness import api

        names = [t.model if isinstance(t, api.Endpoint) else t for t in self.targets()]
        return [str(n) for n in names] or ["local"]

    def judge(self):
        from evalharness import api

        base_url, model = _setting(self.config, "judge_base_url"), _setting(self.config, "judge_model")
        if not (base_url or model):
            return None
        return api.JudgeSpec(base_url, model, _setting(self.config, "judge_api_key_env"))

    def out(self, factory: pytest.TempPathFactory | None) -> Path:
        given = _setting(self.config, "out")
        if given:
            return Path(given)
        if factory is None:
            return Path("reports")
        return factory.getbasetemp() / "evalharness"

    def run_kwargs(self, factory: pytest.TempPathFactory | None) -> dict[str, Any]:
        return {"targets": self.targets(), "targets_file": _setting(self.config, "targets_file"),
                "judge": self.judge(), "out": self.out(factory), "cache": not _setting(self.config, "no_cache")}


def _factory(config: pytest.Config) -> pytest.TempPathFactory | None:
    """pytest's temporary-path factory (the `tmp_path_factory` fixture's object), for collectors."""
    return getattr(config, "_tmp_path_factory", None)


class EvalHarness:
    """The `eh` fixture: evalharness.api with the pytest options as defaults."""

    def __init__(self, config: pytest.Config, factory: pytest.TempPathFactory | None = None):
        self._settings = Settings(config)
        self._factory = factory if factory is not None else _factory(config)

    def run(self, suites, **kwargs):
        """evalharness.api.run with targets, targets_file, judge, out and cache from the pytest options."""
        from evalharness import api

        return api.run(suites, **{**self._settings.run_kwargs(self._factory), **kwargs})

    def rescore(self, run_dir, suites=None, **kwargs):
        """evalharness.api.rescore with judge, out and cache from the pytest options."""
        from evalharness import api

        base = self._settings.run_kwargs(self._factory)
        defaults = {"judge": base["judge"], "out": base["out"], "cache": base["cache"]}
        return api.rescore(run_dir, suites, **{**defaults, **kwargs})

    def compare(self, run_a, run_b, **kwargs):
        from evalharness import api

        return api.compare(run_a, run_b, **kwargs)

    def load_run(self, run_dir):
        from evalharness import api

        return api.load_run(run_dir)


@pytest.fixture
def eh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> EvalHarness:
    """evalharness's Python API with this session's target, judge and output folder:
    `eh.run("suites/x.yaml").assert_passed()`."""
    return EvalHarness(request.config, tmp_path_factory)


# ---------------------------------------------------------------- suite files as test items


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if any(file_path.match(g) for g in SUITE_GLOBS):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class EvalFailure(Exception):
    """A case (or a gate) that failed: the message is the report, no traceback."""


class SuiteFile(pytest.File):
    """One suite file: a test item per case x target, and a `gate` item when the suite has a gate."""

    _result: Any = None
    _error: str | None = None

    def collect(self):
        from evalharness.errors import ConfigError
        from evalharness.suite.loader import load_suite

        try:
            loaded = load_suite(self.path)
        except ConfigError as e:
            raise self.CollectError(f"invalid suite {self.path}:\n{e}") from None
        self.suite_name = loaded.name
        targets = Settings(self.config).target_names()
        for lc in loaded.cases:
            for t in targets:
                name = lc.case.id if len(targets) == 1 else f"{lc.case.id}[{t}]"
                yield CaseItem.from_parent(self, name=name, case_id=lc.case.id, target=t)
        if loaded.suite.gate is not None:
            yield GateItem.from_parent(self, name="gate")

    def result(self):
        """The suite's run (run once, when the first item needs it)."""
        if self._result is None and self._error is None:
            from evalharness import api

            try:
                self._result = api.run([str(self.path)], **Settings(self.config).run_kwargs(_factory(self.config)))
            except (api.ConfigError, api.InfraError) as e:
                kind = "infrastructure error" if isinstance(e, api.InfraError) else "invalid configuration"
                self._error = f"{kind}: {e}"
            else:
                self._failures = {}
                for f in self._result.failures():
                    self._failures.setdefault((f.case_id, f.target), []).append(f)
                import pyarrow.parquet as pq

                from evalharness.results.schema import RESPONSES_FILE

                seen = pq.read_table(self._result.run_dir / RESPONSES_FILE, columns=["suite", "case_id", "target"])
                self._answered = {(r["case_id"], r["target"]) for r in seen.to_pylist()
                                  if r["suite"] == self.suite_name}
        if self._error is not None:
            raise EvalFailure(self._error)
        return self._result


class _EvalItem(pytest.Item):
    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EvalFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class CaseItem(_EvalItem):
    def __init__(self, *, case_id: str, target: str, **kwargs):
        super().__init__(**kwargs)
        self.case_id, self.target = case_id, target

    def runtest(self) -> None:
        parent: SuiteFile = self.parent  # type: ignore[assignment]
        result = parent.result()
        key = (self.case_id, self.target)
        if key not in parent._answered:
            raise EvalFailure(f"{parent.suite_name}/{self.case_id} [{self.target}]: no response recorded "
                              f"(run: {result.run_dir})")
        failed = parent._failures.get(key)
        if failed:
            raise EvalFailure("\n".join(f.describe() for f in failed) + f"\n(run: {result.run_dir})")

    def reportinfo(self):  # the failure's heading: suite/case [target]
        return self.path, None, f"{self.parent.suite_name}/{self.case_id} [{self.target}]"


class GateItem(_EvalItem):
    def runtest(self) -> None:
        parent: SuiteFile = self.parent  # type: ignore[assignment]
        result = parent.result()
        bad = [c for c in result.failed_checks() if c.suite == parent.suite_name]
        lines = [f"  {c.describe()}" for c in bad] + [f"  infrastructure: {m}" for m in result.messages]
        if lines:
            raise EvalFailure(f"gate of suite {parent.suite_name} failed:\n" + "\n".join(lines)
                              + f"\n(run: {result.run_dir})")

    def reportinfo(self):
        return self.path, None, f"{self.parent.suite_name}: gate"
