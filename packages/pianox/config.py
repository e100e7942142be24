"""Experiment files: TOML -> a typed `Experiment` of the five stage tables plus [run], [train], [eval].

A stage table is `kind = "<plugin name>"` plus the fields of that plugin's `Config`. Strings may
use `${ENV}` and `${ENV:-default}` (`$$` is a literal `$`). `--set table.key=value` overrides
are parsed as TOML values (bare words as strings) and typed against the same Configs.
Unknown tables, unknown keys and wrong types are `ConfigError`s naming the file, the table,
the key and its line. The resolved experiment has a stable hash of its semantic part: [run]
(except `seed`), [backend] and fields marked `semantic=False` do not change it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry
from .api import GROUPS
from .errors import ConfigError, PianoxError
from .schema import Where, build, to_table
from .settings import EvalConfig, RunConfig, TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STAGES = tuple(GROUPS)  # source, features, model, task, backend
ENGINE_TABLES = {"run": RunConfig, "train": TrainConfig, "eval": EvalConfig}
REQUIRED_STAGES = ("source", "features", "model", "task")


@dataclass
class StageSpec:
    """One resolved stage: the plugin kind, its class and its validated Config."""

    kind: str
    cls: type
    config: Any

    def table(self) -> dict[str, Any]:
        return {"kind": self.kind, **to_table(self.config)}

    def build(self, **kwargs: Any) -> Any:
        """Instantiate the plugin with its config (plugin errors keep their own type)."""
        return self.cls(self.config, **kwargs)


@dataclass
class Experiment:
    """A validated experiment: engine settings and the five stages."""

    path: Path | None
    run: RunConfig
    train: TrainConfig
    eval: EvalConfig
    stages: dict[str, StageSpec]
    overrides: list[str] = field(default_factory=list)

    def table(self) -> dict[str, Any]:
        """The resolved experiment as TOML tables (every default filled in)."""
        out: dict[str, Any] = {"run": to_table(self.run)}
        for stage in STAGES:
            out[stage] = self.stages[stage].table()
        out["train"] = to_table(self.train)
        out["eval"] = to_table(self.eval)
        return out

    def semantic(self) -> dict[str, Any]:
        """The part of the resolved config that changes results (what the hash covers)."""
        out: dict[str, Any] = {"run": {"seed": self.run.seed}}
        for stage in REQUIRED_STAGES:
            spec = self.stages[stage]
            out[stage] = {"kind": spec.kind, **_semantic_fields(spec.config)}
        out["train"] = _semantic_fields(self.train)
        out["eval"] = _semantic_fields(self.eval)
        return out

    def hash(self) -> str:
        """A stable 8-hex-digit hash of `semantic()`."""
        blob = json.dumps(self.semantic(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    @property
    def name(self) -> str:
        return self.run.name

    def dumps(self) -> str:
        """The resolved experiment as TOML text (the run directory's config.toml)."""
        import tomli_w

        return tomli_w.dumps(self.table())


def _semantic_fields(obj: Any) -> dict[str, Any]:
    table = to_table(obj)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("semantic", True) is False:
            table.pop(f.name, None)
        elif dataclasses.is_dataclass(value):
            table[f.name] = _semantic_fields(value)
    return table


# ----------------------------------------------------------------------------- parsing

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\.\"]+)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map each dotted table / key of a TOML text to its 1-based line (for error messages)."""
    lines: dict[str, int] = {}
    table = ""
    for n, raw in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(raw)
        if m and not raw.lstrip().startswith("[["):
            table = m.group(1).replace('"', "").replace(" ", "")
            lines.setdefault(table, n)
            continue
        m = _KEY.match(raw)
        if m:
            key = m.group(1).replace('"', "")
            lines.setdefault(f"{table}.{key}" if table else key, n)
    return lines


_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def interpolate(value: Any, where: Where, key: str) -> Any:
    """Expand `${VAR}` / `${VAR:-default}` in every string of `value` (recursively)."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            var, default = m.group(1), m.group(2)
            got = os.environ.get(var)
            if got is None or (got == "" and default is not None):
                if default is None:
                    raise ConfigError(f"{where.describe(key)}: environment variable ${{{var}}} is not set "
                                      f"and has no default (write ${{{var}:-default}})")
                return default
            return got

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, where.child(key), k) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, where, key) for v in value]
    return value


def parse_override(text: str) -> tuple[list[str], Any]:
    """`table.key=value` -> (["table", "key"], value). The value is read as a TOML value;
    anything TOML cannot read (a bare word, a path) is taken as a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected table.key=value")
    dotted, raw = text.split("=", 1)
    parts = [p.strip() for p in dotted.strip().split(".")]
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"override {text!r}: the key must name a table and a key, e.g. train.lr=3e-4")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def _apply_override(raw: dict[str, Any], parts: list[str], value: Any, text: str) -> None:
    node = raw
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {text!r}: {p!r} is a value, not a table")
        node = child
    node[parts[-1]] = value


def load_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a TOML file; syntax errors become ConfigError with the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"experiment file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return data, key_lines(text)


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load, interpolate, override and validate an experiment file."""
    path = Path(path)
    raw, lines = load_toml(path)
    return experiment_from_dict(raw, file=str(path), lines=lines, overrides=overrides,
                                default_name=path.stem, path=path)


def experiment_from_dict(raw: dict[str, Any], *, file: str = "<config>", lines: dict[str, Any] | None = None,
                         overrides: list[str] | None = None, default_name: str = "experiment",
                         path: Path | None = None) -> Experiment:
    """Validate a parsed experiment (see `load_experiment`); `lines` maps dotted keys to lines."""
    raw = copy.deepcopy(raw)
    lines = dict(lines or {})
    overrides = list(overrides or [])
    for text in overrides:
        parts, value = parse_override(text)
        _apply_override(raw, parts, value, text)
        lines[".".join(parts)] = f"from --set {text}"
        lines.setdefault(parts[0], f"from --set {text}")
    root = Where(file=file, lines=lines)

    known = set(STAGES) | set(ENGINE_TABLES)
    for table, value in raw.items():
        if table not in known:
            raise ConfigError(f"{root.describe(table)}: unknown table [{table}]; "
                              f"known tables: {', '.join(sorted(known))}")
        if not isinstance(value, dict):
            raise ConfigError(f"{root.describe(table)}: [{table}] must be a table, got {type(value).__name__}")
    raw = {t: interpolate(v, root, t) for t, v in raw.items()}

    run_table = dict(raw.get("run", {}))
    run_table.setdefault("name", default_name)
    engine = {t: build(cls, run_table if t == "run" else raw.get(t, {}), root.child(t))
              for t, cls in ENGINE_TABLES.items()}

    stages: dict[str, StageSpec] = {}
    for stage in STAGES:
        where = root.child(stage)
        table = dict(raw.get(stage, {}))
        if stage == "backend":
            table.setdefault("kind", "auto")
        if stage not in raw and stage in REQUIRED_STAGES:
            raise ConfigError(f"{file}: missing table [{stage}] (with kind = one of: "
                              f"{', '.join(registry.names(GROUPS[stage])) or 'none installed'})")
        kind = table.pop("kind", None)
        if not isinstance(kind, str):
            raise ConfigError(f"{where.describe('kind')}: every stage table needs kind = \"<plugin name>\"; "
                              f"available: {', '.join(registry.names(GROUPS[stage])) or 'none installed'}")
        try:
            cls = registry.load(stage, kind)
        except PianoxError as exc:
            raise ConfigError(f"{where.describe('kind')}: {exc}") from exc
        stages[stage] = StageSpec(kind, cls, build(cls.Config, table, where))
    return Experiment(path=path, run=engine["run"], train=engine["train"], eval=engine["eval"],
                      stages=stages, overrides=overrides)

