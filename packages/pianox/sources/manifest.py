"""Reading corpus index files (csv, column-oriented json) and collecting bad items.

Every failure is a `DataError` naming the file (and the line or key) so a user can open it and
fix it. `Problems` gathers per-item problems; a source either stops on them (the default,
listing the first few) or, with `skip_bad = true`, skips those items with one warning that
says how many.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..api import SPLITS
from ..errors import DataError


def corpus_root(root: str | os.PathLike, source: str, hint: str) -> Path:
    """`root` as an existing folder (`~` expanded), else a DataError saying how to get one."""
    if root is None or str(root).strip() == "":
        raise DataError(f"source {source!r}: no corpus root given; set `root` in the "
                        f"[source] table. {hint}")
    p = Path(os.path.expanduser(str(root)))
    if not p.is_dir():
        raise DataError(f"source {source!r}: corpus root {p} does not exist or is not a "
                        f"folder. {hint}")
    return p


def read_csv_rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a csv file with a header, each a dict; DataError if a `required` column is absent."""
    if not path.is_file():
        raise DataError(f"index file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                                f"(header: {', '.join(header) or 'empty'})")
            return [dict(r) for r in reader]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable csv: {exc}") from exc


def load_json(path: Path) -> Any:
    """Parse a json file; DataError naming the file, line and column when it is malformed."""
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid json at line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text: {exc}") from exc


def read_column_json(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a pandas column-oriented json (`{"column": {"0": value, ...}, ...}`)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a json object of columns, got {type(data).__name__}")
    missing = [c for c in required if c not in data]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    columns = {c: v for c, v in data.items() if isinstance(v, dict)}
    bad = [c for c in required if c not in columns]
    if bad:
        raise DataError(f"{path}: column(s) {', '.join(bad)} are not {{row: value}} objects")
    index = sorted(columns[required[0]], key=lambda k: (len(k), k))
    rows = []
    for i in index:
        absent = [c for c in required if i not in columns[c]]
        if absent:
            raise DataError(f"{path}: row {i} has no value for {', '.join(absent)}")
        rows.append({c: columns[c].get(i) for c in columns})
    return rows


def resolve_splits(mapping: Mapping[str, Any], official: Iterable[str], source: str
                   ) -> dict[str, tuple[str, ...]]:
    """Validate a `splits` option: pianox split -> official split name(s) of the corpus."""
    official = tuple(official)
    out: dict[str, tuple[str, ...]] = {}
    for ours, theirs in mapping.items():
        if ours not in SPLITS:
            raise DataError(f"source {source!r}: splits key {ours!r} is not one of "
                            f"{', '.join(SPLITS)}")
        names = (theirs,) if isinstance(theirs, str) else tuple(theirs)
        unknown = [n for n in names if n not in official]
        if unknown:
            raise DataError(f"source {source!r}: splits.{ours} names unknown split(s) "
                            f"{', '.join(map(repr, unknown))}; the corpus has "
                            f"{', '.join(official)}")
        out[ours] = names
    return out


def check_split(split: str, source: str) -> None:
    if split not in SPLITS:
        raise DataError(f"source {source!r}: unknown split {split!r}; expected one of "
                        f"{', '.join(SPLITS)}")


@dataclass
class Problems:
    """Per-item problems found while listing a corpus: (item, message) pairs."""

    source: str
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, item: str, message: str) -> None:
        self.items.append((item, message))

    def __len__(self) -> int:
        return len(self.items)

    def lines(self) -> list[str]:
        return [f"{item}: {msg}" for item, msg in self.items]

    def resolve(self, skip_bad: bool, what: str = "items") -> None:
        """Raise a DataError listing the problems, or with `skip_bad` warn once with the count."""
        if not self.items:
            return
        n = len(self.items)
        shown = "\n  ".join(self.lines()[:5]) + (f"\n  ... and {n - 5} more" if n > 5 else "")
        if skip_bad:
            warnings.warn(f"source {self.source!r}: skipped {n} bad {what}:\n  {shown}",
                          stacklevel=3)
            return
        raise DataError(f"source {self.source!r}: {n} bad {what}:\n  {shown}\nset "
                        f"skip_bad = true in [source] to skip them, or run `pianox data check "
                        f"{self.source} ROOT` for the full list")
