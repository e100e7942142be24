"""Typed dataclass configs from TOML tables: validation, coercion, and back to plain tables.

`build(cls, table, where)` turns a TOML table into an instance of the dataclass `cls`, checking
every key against the fields and every value against the field's type annotation. `where`
(a `Where`) carries the file, table path and a key -> line map, so errors read
"exp.toml, [model] key 'dpeth' (line 7): unknown key; valid keys: ...".

Floats must be finite: TOML spells `nan` and `inf`, and `--set train.lr=nan` would otherwise
pass validation and fail later inside torch. A field whose meaning needs them says so with
`field(..., metadata={"finite": False})` (and documents what nan / inf mean for it).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Union

from .errors import ConfigError


@dataclass
class Where:
    """Error context: the file, the dotted table path and the line of each dotted key."""

    file: str = "<config>"
    table: str = ""
    lines: Mapping[str, int | str] = field(default_factory=dict)

    def child(self, key: str) -> "Where":
        return Where(self.file, f"{self.table}.{key}" if self.table else key, self.lines)

    def describe(self, key: str | None = None) -> str:
        """"file, [table] key 'k' (line N)"; the origin is "from --set ..." for overrides."""
        head = f"{self.file}, [{self.table}]" if self.table else self.file
        if key is None:
            return head + _origin(self.lines.get(self.table))
        dotted = f"{self.table}.{key}" if self.table else key
        return f"{head} key {key!r}" + _origin(self.lines.get(dotted))


def _origin(line: int | str | None) -> str:
    if line is None:
        return ""
    return f" (line {line})" if isinstance(line, int) else f" ({line})"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    """A value that does not fit a type; `build` turns it into a ConfigError naming the key."""


class _NonFinite(_Mismatch):
    """A nan or inf float where the field wants a finite one."""


def coerce(value: Any, tp: Any, where: Where, key: str, *, finite: bool = True) -> Any:
    """Check `value` against the annotation `tp`; return it converted (int -> float, list ->
    tuple, str -> Path, table -> dataclass). Floats (also inside lists and tables) must be
    finite unless `finite` is False. Raise ConfigError naming the key otherwise."""
    try:
        return _coerce(value, tp, where, key, finite)
    except _NonFinite:
        raise ConfigError(f"{where.describe(key)}: expected a finite number, got {value!r} "
                          f"(nan and inf are not accepted here)") from None
    except _Mismatch:
        raise ConfigError(f"{where.describe(key)}: expected {_type_name(tp)}, "
                          f"got {type(value).__name__} {value!r}") from None


def _coerce(value: Any, tp: Any, where: Where, key: str, finite: bool = True) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise _Mismatch
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        nonfinite = False
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where, key, finite)
            except _NonFinite:
                nonfinite = True
            except (_Mismatch, ConfigError):
                continue
        raise _NonFinite if nonfinite else _Mismatch
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _Mismatch
        return build(tp, value, where.child(key))
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise _Mismatch
            return tuple(_coerce(v, a, where, key, finite) for v, a in zip(value, args))
        inner = args[0] if args else Any
        items = [_coerce(v, inner, where, key, finite) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, Mapping):
            raise _Mismatch
        kt, vt = args if args else (Any, Any)
        return {_coerce(k, kt, where, key, finite): _coerce(v, vt, where, key, finite)
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if finite and not math.isfinite(value):
                raise _NonFinite
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise _Mismatch
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise _Mismatch from None
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _Mismatch


def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields (handles `from __future__ import annotations`)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # an annotation that cannot be resolved is the plugin's bug
        raise ConfigError(f"cannot resolve the field types of {cls.__qualname__}: {exc}") from exc
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def build(cls: type, table: Mapping[str, Any], where: Where) -> Any:
    """An instance of dataclass `cls` from `table`; unknown keys and wrong types are errors."""
    types_ = field_types(cls)
    unknown = [k for k in table if k not in types_]
    if unknown:
        valid = ", ".join(sorted(types_)) or "(none)"
        raise ConfigError(f"{where.describe(unknown[0])}: unknown key; valid keys: {valid}")
    finite = {f.name: f.metadata.get("finite", True) for f in dataclasses.fields(cls)}
    kwargs = {k: coerce(v, types_[k], where, k, finite=finite[k]) for k, v in table.items()}
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where.describe()}: {exc}") from exc
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"{where.describe()}: {exc}") from exc
    return obj


def to_table(obj: Any) -> dict[str, Any]:
    """A dataclass instance as a TOML-ready table (None fields dropped: TOML has no null)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = _plain(getattr(obj, f.name))
        if value is not None:
            out[f.name] = value
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_table(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    return value
