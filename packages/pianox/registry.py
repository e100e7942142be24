"""Plugin discovery and loading through entry points.

Discovery reads installed distributions' metadata only, so listing plugins imports none of
them (and no torch). Loading imports exactly one plugin; when that fails the error names the
distribution, its version, the entry point and the cause. A broken plugin never stops the
others from loading.

`PIANOX_PLUGINS=a,b` restricts what may be loaded (hermetic tests): an entry point is allowed
when its name, `group:name` or its distribution's name is listed. The built-in distribution
`pianox` is always allowed, since nothing runs without its backends.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

from .api import GROUPS
from .errors import PluginError

ENV_RESTRICT = "PIANOX_PLUGINS"
BUILTIN_DIST = "pianox"


@dataclass(frozen=True)
class PluginInfo:
    """One discovered entry point: where it lives and who ships it (metadata only)."""

    group: str
    name: str
    value: str
    dist: str
    version: str

    @property
    def stage(self) -> str:
        return next(s for s, g in GROUPS.items() if g == self.group)


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be imported, with enough context to act on it."""

    info: PluginInfo
    error: str

    def __str__(self) -> str:
        i = self.info
        return f"{i.group}:{i.name} from {i.dist} {i.version} ({i.value}): {self.error}"


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(ENV_RESTRICT)
    if raw is None or not raw.strip():
        return None
    return {_normalise(x.strip()) for x in raw.split(",") if x.strip()}


def _is_allowed(info: PluginInfo, allowed: set[str] | None) -> bool:
    if allowed is None or _normalise(info.dist) == BUILTIN_DIST:
        return True
    keys = {_normalise(info.name), _normalise(f"{info.group}:{info.name}"), _normalise(info.dist)}
    return bool(keys & allowed)


def discover(group: str | None = None, *, restricted: bool = True) -> list[PluginInfo]:
    """Every entry point in the pianox groups (or one `group`), sorted by group and name.

    Reads metadata only. With `restricted`, entry points excluded by PIANOX_PLUGINS are
    left out. When two distributions register the same group:name, the first found wins
    (importlib's path order), as Python's own import does.
    """
    groups = [group] if group is not None else list(GROUPS.values())
    for g in groups:
        if g not in GROUPS.values():
            raise PluginError(f"unknown plugin group {g!r}; known groups: {', '.join(GROUPS.values())}")
    allowed = _allowed_names() if restricted else None
    found: dict[tuple[str, str], PluginInfo] = {}
    for dist in metadata.distributions():
        dist_name = dist.metadata["Name"] or "?"
        for ep in dist.entry_points:
            if ep.group not in groups:
                continue
            info = PluginInfo(ep.group, ep.name, ep.value, dist_name, dist.version or "?")
            if _is_allowed(info, allowed):
                found.setdefault((ep.group, ep.name), info)
    return sorted(found.values(), key=lambda i: (i.group, i.name))


def names(group: str) -> list[str]:
    """Names discovered in `group` (metadata only)."""
    return [i.name for i in discover(group)]


def _import(info: PluginInfo) -> Any:
    ep = metadata.EntryPoint(name=info.name, value=info.value, group=info.group)
    return ep.load()


@lru_cache(maxsize=None)
def _load_cached(info: PluginInfo) -> Any:
    try:
        obj = _import(info)
    except (Exception, SystemExit) as exc:  # a plugin may raise anything on import, sys.exit() too
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise PluginError(
            f"plugin {info.group}:{info.name} from distribution {info.dist} {info.version} "
            f"({info.value}) failed to import: {detail}"
        ) from exc
    _check_contract(info, obj)
    return obj


def _check_contract(info: PluginInfo, obj: Any) -> None:
    import dataclasses

    where = f"plugin {info.group}:{info.name} from {info.dist} {info.version} ({info.value})"
    if not isinstance(obj, type):
        raise PluginError(f"{where} is not a class")
    if getattr(obj, "name", None) != info.name:
        raise PluginError(f"{where}: class attribute name={getattr(obj, 'name', None)!r} "
                          f"does not match the entry point name {info.name!r}")
    cfg = getattr(obj, "Config", None)
    if not (isinstance(cfg, type) and dataclasses.is_dataclass(cfg)):
        raise PluginError(f"{where} has no nested Config dataclass")


def load(stage_or_group: str, name: str) -> Any:
    """Import and return the plugin class `name` of a stage ("task") or group ("pianox.tasks").

    Unknown names list what is available; import failures name the distribution.
    """
    group = GROUPS.get(stage_or_group, stage_or_group)
    infos = discover(group)
    match = [i for i in infos if i.name == name]
    if not match:
        hidden = [i for i in discover(group, restricted=False) if i.name == name]
        if hidden:
            raise PluginError(f"plugin {group}:{name} ({hidden[0].dist}) is excluded by "
                              f"{ENV_RESTRICT}={os.environ.get(ENV_RESTRICT)!r}")
        avail = ", ".join(i.name for i in infos) or "none"
        raise PluginError(f"unknown {group} plugin {name!r}; available: {avail}")
    return _load_cached(match[0])


def load_all(group: str) -> tuple[dict[str, Any], list[LoadFailure]]:
    """Load every plugin of `group`; failures are collected, never raised."""
    group = GROUPS.get(group, group)
    loaded: dict[str, Any] = {}
    failures: list[LoadFailure] = []
    for info in discover(group):
        try:
            loaded[info.name] = _load_cached(info)
        except PluginError as exc:
            failures.append(LoadFailure(info, short_error(exc)))
    return loaded, failures


def short_error(exc: PluginError) -> str:
    """"ExcType: message" of the import failure behind a PluginError (or its own message)."""
    cause = exc.__cause__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)


def clear_cache() -> None:
    """Forget loaded plugins (tests that install plugins at run time)."""
    _load_cached.cache_clear()
