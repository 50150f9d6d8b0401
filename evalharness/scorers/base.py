"""Scorer contract and registry.

A scorer is a decorated factory: ``@scorer(name=..., description=...)`` on a function
that takes validated arguments (a pydantic model) and returns a *stateless* callable
``fn(sample) -> Score`` (sync or async). The registry keeps the metadata (description,
argument model, needs_judge) next to the handler, and checks it when the scorer is
registered, so a broken scorer fails at import rather than halfway through a run.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Union

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one response. ``value`` is in [0, 1]."""

    value: float
    passed: bool
    reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Sample:
    """What a scorer sees: the case plus the target's answer."""

    case_id: str
    output: str
    expected: Any = None
    context: list[str] | None = None
    messages: list[dict] | None = None
    tool_calls: list[dict] | None = None  # every call the model made, in order (all turns of an agent loop)
    tools: list[dict] | None = None  # the tools offered to the model
    expected_tool_calls: list[dict] | None = None  # [{name, arguments}]; [] = no call expected
    finish_reason: str | None = None
    latency_ms: float | None = None
    output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    suite: str = ""
    services: Any = None  # JudgeServices when the run has judge scorers
    request: dict | None = None  # the request body sent (without the model), for reference targets


ScoreFn = Callable[[Sample], Union[Score, Awaitable[Score]]]


class ScorerArgs(BaseModel):
    """Base for scorer argument models: unknown arguments are errors."""

    model_config = ConfigDict(extra="forbid")


class NoArgs(ScorerArgs):
    pass


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    description: str
    args: type[ScorerArgs]
    factory: Callable[[Any], ScoreFn]
    needs_judge: bool = False
    # True when the scorer reads `expected` and fails without it.
    needs_expected: bool = False
    # For scorers with a native scale (rubric 1-5): maps args -> (low, high); `threshold` is then in scale units.
    threshold_scale: Callable[[Any], tuple[float, float]] | None = None

    def build(self, args: ScorerArgs) -> ScoreFn:
        return self.factory(args)

    def is_async(self, fn: ScoreFn) -> bool:
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)
        )


class UnknownScorer(KeyError):
    def __init__(self, name: str, suggestion: str | None):
        self.name = name
        self.suggestion = suggestion
        msg = f"unknown scorer type '{name}'"
        if suggestion:
            msg += f" (did you mean '{suggestion}'?)"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


class ScorerPluginError(UnknownScorer):
    """A scorer plugin (entry point in `evalharness.scorers`) that cannot be used. A subclass of
    UnknownScorer, so every caller reports it like an unknown type: a configuration error at the
    suite's `file:line`; the message names the entry point and its distribution."""

    def __init__(self, name: str, message: str):
        self.name = name
        self.suggestion = None
        KeyError.__init__(self, f"scorer type '{name}': {message}")


_REGISTRY: dict[str, ScorerInfo] = {}
_LOADED = False
_ORIGIN: dict[str, Any] = {}  # scorer name -> the plugins.Plugin that registered it


def scorer(
    *,
    name: str,
    description: str,
    args: type[ScorerArgs] = NoArgs,
    needs_judge: bool = False,
    needs_expected: bool = False,
    threshold_scale: Callable[[Any], tuple[float, float]] | None = None,
) -> Callable[[Callable[[Any], ScoreFn]], Callable[[Any], ScoreFn]]:
    """Register a scorer factory with its metadata."""

    def deco(factory: Callable[[Any], ScoreFn]) -> Callable[[Any], ScoreFn]:
        if not name.isidentifier():
            raise ValueError(f"scorer name {name!r} must be an identifier")
        module = factory.__module__
        if name in BUILTIN_INDEX and not module.startswith("evalharness.scorers."):
            raise ValueError(f"scorer {name!r} ({module}) has the name of a built-in scorer, and built-ins win "
                             "over plugins: rename it")
        if name in _REGISTRY:
            raise ValueError(f"scorer {name!r} registered twice")
        if not description.strip():
            raise ValueError(f"scorer {name!r} needs a description")
        if not (isinstance(args, type) and issubclass(args, ScorerArgs)):
            raise TypeError(f"scorer {name!r}: args must subclass ScorerArgs")
        if args.model_config.get("extra") != "forbid":
            raise TypeError(f"scorer {name!r}: args model must forbid extra keys")
        if module.startswith("evalharness.scorers.") and BUILTIN_INDEX.get(name) != module.rsplit(".", 1)[1]:
            raise ValueError(f"built-in scorer {name!r} ({module}) is missing from BUILTIN_INDEX")
        _REGISTRY[name] = ScorerInfo(name, description, args, factory, needs_judge, needs_expected, threshold_scale)
        return factory

    return deco


# Which module registers each built-in scorer: a run imports only the modules its suites name
# (lm-eval-style lazy registry). `scorer()` refuses a built-in missing from this index, so it
# cannot drift; tests/scorers/test_registry.py checks it against a full import.
BUILTIN_INDEX: dict[str, str] = {
    **dict.fromkeys(("choice", "contains", "contains_all", "contains_any", "exact", "length", "numeric", "regex"),
                    "text"),
    **dict.fromkeys(("json_schema", "json_valid", "latency", "tokens"), "structured"),
    **dict.fromkeys(("bleu", "rouge_l"), "overlap"),
    **dict.fromkeys(("canary", "pii", "refusal"), "safety"),
    "injection": "injection",
    "injection_classifier": "injection_model",
    "hf_classifier": "hf_classifier",
    "lm_eval_match": "lm_eval_metric",
    **dict.fromkeys(("schema_valid", "tool_args", "tool_call", "trajectory"), "tools"),
    **dict.fromkeys(("answer_relevancy", "context_relevancy", "faithfulness", "pairwise", "refusal_judge", "rubric"),
                    "judged"),
}
BUILTIN_MODULES = tuple(dict.fromkeys(BUILTIN_INDEX.values()))


def _ensure_loaded() -> None:
    """Import every built-in scorer module (listing, schema, did-you-mean)."""
    global _LOADED
    if not _LOADED:
        import importlib

        for module in BUILTIN_MODULES:
            importlib.import_module(f"evalharness.scorers.{module}")
        _LOADED = True


def _plugin_scorer(name: str) -> ScorerInfo | None:
    """The scorer an installed plugin declares under `name` (its module imported now, once); None when
    no plugin declares it. Built-in names never reach here: built-ins win over plugins."""
    from evalharness import plugins

    before = set(_REGISTRY)
    try:
        got = plugins.load(plugins.SCORERS, name)
    except plugins.PluginError as e:
        raise ScorerPluginError(name, str(e)) from None
    if got is None:
        return None
    plugin, _obj = got
    for new in set(_REGISTRY) - before:  # everything the plugin's import registered
        _ORIGIN[new] = plugin
        _REGISTRY[new] = _guarded(_REGISTRY[new], plugin)
    info = _REGISTRY.get(name)
    if info is None:
        others = sorted(n for n, p in _ORIGIN.items() if p == plugin)
        raise ScorerPluginError(name, f"{plugin.where()} registered no scorer named '{name}' with @scorer"
                                + (f" (it registered: {', '.join(others)})" if others else ""))
    return info


def _guarded(info: ScorerInfo, plugin: Any) -> ScorerInfo:
    """A plugin scorer whose factory failing (a bug in the plugin, not in the suite) is a configuration
    error that names the plugin, not a traceback."""
    import dataclasses
    import functools

    factory = info.factory

    @functools.wraps(factory)
    def build(args: Any) -> ScoreFn:
        try:
            return factory(args)
        except Exception as e:  # noqa: BLE001 - foreign code
            from evalharness.plugins import describe_error
            from evalharness.scorers.bind import ScorerConfigError

            raise ScorerConfigError("type", f"scorer '{info.name}' from {plugin.where()} failed to build: "
                                    f"{describe_error(e)}") from None

    return dataclasses.replace(info, factory=build)


def get_scorer(name: str) -> ScorerInfo:
    """A scorer by type name: registered already, a built-in (its module imported now), or an installed
    plugin's (entry point `evalharness.scorers`, imported now). Raises UnknownScorer (ScorerPluginError
    for a plugin that cannot be used)."""
    info = _REGISTRY.get(name)
    if info is not None:
        return info
    module = BUILTIN_INDEX.get(name)
    if module is not None:
        import importlib

        importlib.import_module(f"evalharness.scorers.{module}")
        return _REGISTRY[name]
    info = _plugin_scorer(name)
    if info is not None:
        return info
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        from evalharness import plugins

        candidates = dict.fromkeys([*_REGISTRY, *plugins.names(plugins.SCORERS, BUILTIN_INDEX)])
        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
        raise UnknownScorer(name, close[0] if close else None) from None


def all_scorers() -> dict[str, ScorerInfo]:
    """Every scorer: the built-ins and every installed plugin's (a plugin that cannot be imported is left
    out; `plugin_warnings()` says why)."""
    _ensure_loaded()
    from evalharness import plugins

    for name in plugins.names(plugins.SCORERS, BUILTIN_INDEX):
        try:
            _plugin_scorer(name)
        except ScorerPluginError:
            pass
    return dict(sorted(_REGISTRY.items()))


def scorer_origin(name: str) -> str | None:
    """The distribution ("name version") whose plugin registered scorer `name`; None for a built-in."""
    plugin = _ORIGIN.get(name)
    return plugin.dist if plugin is not None else None


def plugin_warnings(load: bool = True) -> list[str]:
    """Why installed scorer plugins are not used: named like a built-in (the built-in wins), and, with
    `load`, every one that cannot be imported (which imports them all)."""
    from evalharness import plugins

    out = plugins.shadowed(plugins.SCORERS, BUILTIN_INDEX, "scorer")
    if load:
        for name in plugins.names(plugins.SCORERS, BUILTIN_INDEX):
            try:
                _plugin_scorer(name)
            except ScorerPluginError as e:
                out.append(str(e))
    return out
