"""The frame head's decoding thresholds: the values, their file beside the weights, and the
grid search that tunes them on a split's posteriors.

`transcription_thresholds.json` in a checkpoint folder (checkpoints/best, or a model folder
packed from it) holds

    {"onset_threshold", "frame_threshold", "offset_threshold",
     "tuned_on": {"split", "pieces", "examples", ...},
     "onset_f1": {"tuned", "default"}, "onset_offset_f1": {"tuned", "default"},
     "grid": {"onset": [...], "frame": [...]}}

(F1 = mean over the split's pieces, at the tuned and at the [task]'s thresholds). Every
consumer reads it through `read_thresholds`; without it the [task]'s `onset_threshold`,
`frame_threshold` and `offset_threshold` apply (`Thresholds.of`, read when decoding). tune.py says when it is written.

The search (`search`) decodes whole pieces' posteriors, computed once, at every candidate:
it maximises the mean onset F1, breaking ties by the mean onset+offset F1, then by the
distance to the [task]'s thresholds (which are always candidates, so the tuned values never
score below them on the split). A note starts at every onset whatever the frame threshold
(`posteriors_to_notes` keeps one-frame notes), so the onset threshold is searched first (at
the [task]'s frame threshold) and the frame threshold over the best onset thresholds. The
offset threshold stays as configured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox import atomic
from pianox.errors import CheckpointError, ConfigError, OutputError

from .frames import posteriors_to_notes
from .metrics import OFFSET_RATIO, note_f1

THRESHOLDS_FILE = "transcription_thresholds.json"
ONSET_GRID = (0.02, 0.05, *(round(0.1 + 0.05 * i, 2) for i in range(17)))
"""Onset thresholds tried: 0.02, 0.05, 0.10, 0.15, ..., 0.90 (an undertrained model's best
onset threshold was the old grid's floor, 0.10, in the transfer runs of docs/data.md)."""
FRAME_GRID = (0.05, *(round(0.1 * i, 1) for i in range(1, 10)))
"""Frame thresholds tried: 0.05, 0.1, 0.2, ..., 0.9."""
KEYS = ("onset_threshold", "frame_threshold", "offset_threshold")


@dataclass(frozen=True)
class Thresholds:
    """Posterior thresholds of frame-head decoding (`posteriors_to_notes`); `source` says where
    they come from: "config" ([task]) or the file they were read from."""

    onset: float
    frame: float
    offset: float
    source: str = "config"

    @classmethod
    def of(cls, config: Any) -> "Thresholds":
        """The [task]'s thresholds (a TranscriptionTask.Config)."""
        return cls(float(config.onset_threshold), float(config.frame_threshold), float(config.offset_threshold))

    def notes(self, posteriors: np.ndarray, frame_rate: float) -> np.ndarray:
        """(4, T, 88) posteriors -> `(N, 4)` notes (seconds from the first frame)."""
        return posteriors_to_notes(posteriors, frame_rate, self.onset, self.frame, self.offset)

    def to_json(self) -> dict[str, Any]:
        return {"onset_threshold": self.onset, "frame_threshold": self.frame, "offset_threshold": self.offset,
                "source": self.source}


def read_thresholds(checkpoint: str | Path | None) -> Thresholds | None:
    """The thresholds stored in `checkpoint`/transcription_thresholds.json; None when there is
    no such file. CheckpointError naming the file when it is unreadable or holds unusable values."""
    if checkpoint is None or not (Path(checkpoint) / THRESHOLDS_FILE).is_file():
        return None
    file = Path(checkpoint) / THRESHOLDS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        values = []
        for key in KEYS:
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise TypeError(f"{key} = {v!r} is not a finite number")
            values.append(float(v))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{file}: unusable decoding thresholds: {exc!s} (expected "
                              f"{', '.join(KEYS)}; tune again with `pianox transcribe-tune RUN --overwrite`, "
                              f"or remove the file to decode with the [task] thresholds)") from exc
    onset, frame, offset = values
    if not (0 < onset <= 1 and 0 < frame <= 1 and offset > 0):
        raise CheckpointError(f"{file}: thresholds onset {onset:g}, frame {frame:g}, offset {offset:g} are out of "
                              f"range (onset and frame in (0, 1], offset > 0)")
    return Thresholds(onset, frame, offset, str(file))


def write_thresholds(checkpoint: str | Path, record: dict[str, Any], overwrite: bool = False) -> Path:
    """Write `record` (see module doc) as `checkpoint`/transcription_thresholds.json,
    atomically; OutputError when the file exists and not `overwrite`."""
    file = Path(checkpoint) / THRESHOLDS_FILE
    if file.exists() and not overwrite:
        raise OutputError(f"{file} exists; pass --overwrite to replace it")
    atomic.write_text(file, json.dumps(record, indent=2) + "\n")
    return file


@dataclass
class Tuned:
    """The result of `search`: the chosen thresholds and the split's mean F1s at them and at
    the defaults."""

    thresholds: Thresholds
    onset_f1: float
    onset_offset_f1: float
    default_onset_f1: float
    default_onset_offset_f1: float
    pieces: int
    onset_grid: tuple[float, ...]
    frame_grid: tuple[float, ...]

    def record(self, tuned_on: dict[str, Any]) -> dict[str, Any]:
        """The thresholds file's content (module doc); `tuned_on` says on what."""
        t = self.thresholds
        return {"onset_threshold": t.onset, "frame_threshold": t.frame, "offset_threshold": t.offset,
                "tuned_on": {**tuned_on, "pieces": self.pieces},
                "onset_f1": {"tuned": self.onset_f1, "default": self.default_onset_f1},
                "onset_offset_f1": {"tuned": self.onset_offset_f1, "default": self.default_onset_offset_f1},
                "grid": {"onset": list(self.onset_grid), "frame": list(self.frame_grid)}}


def _candidates(grid: Sequence[float], default: float) -> tuple[float, ...]:
    return tuple(sorted({float(g) for g in grid} | ({default} if 0 < default <= 1 else set())))


def search(posteriors: dict[str, np.ndarray], references: dict[str, np.ndarray], frame_rate: float,
           defaults: Thresholds, onset_grid: Sequence[float] = ONSET_GRID, frame_grid: Sequence[float] = FRAME_GRID
           ) -> Tuned:
    """The onset and frame thresholds that decode whole pieces best, by the module doc's rule:
    `posteriors` piece -> (4, T, 88) at `frame_rate` (`Pieces.take_posteriors`), `references`
    piece -> `(N, 4)` notes. ConfigError when there are no pieces."""
    names = sorted(posteriors)
    if not names:
        raise ConfigError("no pieces with frame posteriors to tune the decoding thresholds on")
    rate, posts, refs = frame_rate, posteriors, references
    onsets, frames = _candidates(onset_grid, defaults.onset), _candidates(frame_grid, defaults.frame)
    memo: dict[tuple[float, float, bool], tuple[float, float]] = {}

    def mean_f1(onset: float, frame: float, offsets: bool) -> tuple[float, float]:
        """(mean onset F1, mean onset+offset F1 or nan) over the pieces."""
        key = (onset, frame, offsets)
        if key not in memo:
            t = replace(defaults, onset=onset, frame=frame)
            scores = []
            for p in names:
                est = t.notes(posts[p], rate)
                scores.append((note_f1(refs[p], est), note_f1(refs[p], est, OFFSET_RATIO) if offsets else np.nan))
            memo[key] = tuple(float(v) for v in np.mean(scores, axis=0))
        return memo[key]

    by_onset = {o: mean_f1(o, defaults.frame, False)[0] for o in onsets}
    top = max(by_onset.values())
    best_onsets = [o for o, f1 in by_onset.items() if f1 >= top - 1e-9]

    def rank(of: tuple[float, float]) -> tuple[float, float, float]:
        on, both = mean_f1(*of, True)
        return round(on, 9), round(both, 9), -(abs(of[0] - defaults.onset) + abs(of[1] - defaults.frame))

    onset, frame = max(((o, f) for o in best_onsets for f in frames), key=rank)
    tuned_on, tuned_both = mean_f1(onset, frame, True)
    default_on, default_both = mean_f1(defaults.onset, defaults.frame, True)
    return Tuned(replace(defaults, onset=onset, frame=frame, source="tuned"), tuned_on, tuned_both,
                 default_on, default_both, len(names), onsets, frames)
