"""What the inference commands read: audio files, folders (searched recursively) and globs.

`expand_inputs(["take.wav", "album/", "'live/*.flac'"])` gives one `Input` per audio file, each
with the name its outputs get: a file's stem, or for a file found in a folder its path inside
that folder without the suffix (so `album/cd1/01.wav` and `album/cd2/01.wav` do not collide).
An argument that names nothing is a failure of its own (reported with the others), not a
reason to stop.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Sequence

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
                    ".w64", ".caf")
"""Suffixes (any case) taken from folders and globs; a file named directly is read whatever its name."""


@dataclass(frozen=True)
class Input:
    """One audio file and the name (a relative path without suffix) of its outputs."""

    path: Path
    name: PurePath

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Missing:
    """A command-line argument that yielded no audio file, and why."""

    arg: str
    reason: str

    def __str__(self) -> str:
        return f"{self.arg}: {self.reason}"


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _glob_base(pattern: Path) -> Path:
    """The folder above a pattern's first wildcard: matches are named relative to it, so
    'live/**/*.flac' names live/a/01.flac and live/b/01.flac a/01 and b/01 (as a folder would)."""
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if _is_glob(part)), len(parts))
    return Path(*parts[:fixed]) if fixed else Path(".")


def expand_inputs(args: Sequence[str | Path]) -> tuple[list[Input], list[Missing]]:
    """(audio inputs in command-line order, then sorted within each folder or glob; arguments
    that named no audio). A file listed twice is read once."""
    found: list[Input] = []
    missing: list[Missing] = []
    seen: set[Path] = set()

    def add(path: Path, name: PurePath) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(Input(path, name))

    for arg in args:
        text = str(arg)
        p = Path(text).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and is_audio(f))
            if not files:
                missing.append(Missing(text, f"a folder with no audio files ({', '.join(AUDIO_EXTENSIONS[:7])}, ...)"))
            for f in files:
                add(f, f.relative_to(p).with_suffix(""))
        elif p.exists():
            if not p.is_file():
                missing.append(Missing(text, "not a regular file"))
            else:
                add(p, PurePath(p.stem))
        elif _is_glob(text):
            files = sorted(Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file() and is_audio(Path(f)))
            if not files:
                missing.append(Missing(text, "no audio file matches this pattern"))
            base = _glob_base(p)
            for f in files:
                add(f, f.relative_to(base).with_suffix("") if f.is_relative_to(base) else PurePath(f.stem))
        else:
            missing.append(Missing(text, "audio file not found"))
    return found, missing
