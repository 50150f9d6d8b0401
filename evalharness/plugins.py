"""Plugins through entry points: the one loader every registry (scorers, mutators, targets) uses.

A distribution declares components in its packaging metadata::

    [project.entry-points."evalharness.scorers"]
    starts_with_capital = "my_pkg.scorers:starts_with_capital"   # module:object, registered with @scorer
    ends_with_period = "my_pkg.more_scorers"                     # or a module that registers on import

The entry point's name is the component's name (a scorer's `type:`, a mutator's name). Loading is lazy:
the installed entry points are read once per process (names and values only, nothing imported), and a
plugin's module is imported only when its name is asked for (a suite names it) or when everything is
listed (`list`, `schema`, did-you-mean on an unknown key). Built-in names always win over a plugin of the
same name: such a plugin is never imported, and `shadowed()` says so.

Every failure is a `PluginError` whose message names the entry point and its distribution (an import
that raised, two distributions declaring one name); the registries turn it into their own configuration
error, so a suite that names a broken plugin fails with exit 2 at `file:line`, never with a traceback.
"""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

SCORERS = "evalharness.scorers"
MUTATORS = "evalharness.mutators"
# Target kinds: `target_kind(name)` loads and checks one (a class with `kind` and `start(config, launcher)`,
# see evalharness/targets/kinds.py); the target-kind registry is what calls it.
TARGETS = "evalharness.targets"
GROUPS = (SCORERS, MUTATORS, TARGETS)


@dataclass(frozen=True)
class Plugin:
    """One declared entry point (nothing imported)."""

    group: str
    name: str
    value: str
    dist: str  # "name version" of the distribution declaring it
    ep: Any = field(compare=False, repr=False, default=None)

    def where(self) -> str:
        return f"entry point '{self.name} = {self.value}' of distribution '{self.dist}'"


class PluginError(Exception):
    """A plugin that cannot be used: the message names the entry point and its distribution."""

    def __init__(self, group: str, name: str, message: str):
        super().__init__(message)
        self.group = group
        self.name = name


def _dist_label(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    try:
        return f"{dist.metadata['Name'] or dist.name} {dist.version}"
    except Exception:  # noqa: BLE001 - broken metadata still gets a label
        return str(getattr(dist, "name", "unknown distribution"))


@functools.lru_cache(maxsize=1)
def _declared() -> dict[str, dict[str, tuple[Plugin, ...]]]:
    """group -> name -> every plugin declaring it. The installed metadata is read once per process."""
    from importlib.metadata import entry_points

    out: dict[str, dict[str, tuple[Plugin, ...]]] = {g: {} for g in GROUPS}
    try:
        eps = entry_points()
    except Exception:  # noqa: BLE001 - unreadable metadata of some unrelated distribution: no plugins
        return out
    for group in GROUPS:
        seen: dict[str, list[Plugin]] = {}
        for ep in eps.select(group=group):
            p = Plugin(group, ep.name, ep.value, _dist_label(ep), ep)
            same = seen.setdefault(ep.name, [])
            if p not in same:  # one distribution found twice on sys.path declares it once
                same.append(p)
        out[group] = {n: tuple(ps) for n, ps in sorted(seen.items())}
    return out


def declared(group: str) -> dict[str, tuple[Plugin, ...]]:
    """Every name declared in `group` -> its plugins (normally one). Imports nothing."""
    return _declared()[group]


def names(group: str, builtins: Iterable[str] = ()) -> list[str]:
    """Declared plugin names in `group`, less those a built-in shadows (for did-you-mean). Imports nothing."""
    skip = set(builtins)
    return [n for n in declared(group) if n not in skip]


def shadowed(group: str, builtins: Iterable[str], kind: str) -> list[str]:
    """Warnings for plugins named like a built-in `kind` (the built-in is used; the plugin is never imported)."""
    decl = declared(group)
    return [f"{p.where()} is ignored: '{n}' is a built-in {kind} and built-ins win over plugins; rename it"
            for n in sorted(set(builtins) & set(decl)) for p in decl[n]]


_LOADED: dict[tuple[str, str], tuple[Plugin, Any] | PluginError] = {}


def find(group: str, name: str) -> Plugin | None:
    """The plugin declaring `name`, None when none does; PluginError when two distributions do."""
    ps = declared(group).get(name)
    if not ps:
        return None
    if len(ps) > 1:
        raise PluginError(group, name, f"'{name}' is declared by {len(ps)} plugins ("
                          + "; ".join(p.where() for p in ps) + "); uninstall all but one")
    return ps[0]


def load(group: str, name: str) -> tuple[Plugin, Any] | None:
    """Import the plugin declaring `name` in `group` (once per process) and return (plugin, loaded object):
    the object for `module:object`, the module for a bare module. None when no plugin declares `name`;
    PluginError when it cannot be imported (the same error again on every later call)."""
    key = (group, name)
    hit = _LOADED.get(key)
    if hit is None:
        try:
            plugin = find(group, name)
        except PluginError as e:
            hit = e
        else:
            if plugin is None:
                return None
            try:
                hit = (plugin, plugin.ep.load())
            except (Exception, SystemExit) as e:  # noqa: BLE001 - any failure of foreign code is its error
                hit = PluginError(group, name, f"{plugin.where()} failed to import: {describe_error(e)}")
        _LOADED[key] = hit
    if isinstance(hit, PluginError):
        raise hit
    return hit


def load_all(group: str, builtins: Iterable[str] = ()) -> tuple[list[tuple[Plugin, Any]], list[PluginError]]:
    """Import every plugin of `group` not shadowed by a built-in: what loaded, and what failed."""
    ok, failed = [], []
    for name in names(group, builtins):
        try:
            got = load(group, name)
        except PluginError as e:
            failed.append(e)
        else:
            if got is not None:
                ok.append(got)
    return ok, failed


def target_kind(name: str, builtins: Iterable[str] = ()) -> Any | None:
    """The target kind an installed plugin declares under `name` in `evalharness.targets` (imported now,
    once): a class whose `kind` is `name` and which has `start(config, launcher)`. None when no plugin
    declares it or `name` is a built-in kind (built-ins win); PluginError when it cannot be used."""
    if name in set(builtins):
        return None
    got = load(TARGETS, name)
    if got is None:
        return None
    plugin, obj = got
    if getattr(obj, "kind", None) != name or not callable(getattr(obj, "start", None)):
        raise PluginError(TARGETS, name, f"{plugin.where()} is not a target kind: it must name a class with "
                          f"kind = '{name}' and a start(config, launcher) method")
    return obj


def describe_error(e: BaseException) -> str:
    """`Type: message (at file:line)`: the innermost frame, never a traceback."""
    msg = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if isinstance(e, SyntaxError) and e.filename:
        return f"{msg} (at {e.filename}:{e.lineno})"
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith("<")]
    if frames:
        msg += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return msg


def reset() -> None:
    """Forget the entry points read and the plugins loaded (tests)."""
    _declared.cache_clear()
    _LOADED.clear()
