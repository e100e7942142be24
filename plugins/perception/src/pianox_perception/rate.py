"""Rating audio files with a trained perception model (`pianox rate`).

A file is cut into segments of the length the model was trained on (the source's
`segment_seconds`, else the features' `target_frames`, else the whole file up to
`MAX_WHOLE_SECONDS`); segments tile the file, the last one ending at its end. Each segment is
rated and the file's ratings are the mean over its segments.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox.api import Example
from pianox.errors import ConfigError
from pianox.finite import require_finite

from .dimensions import DIMENSIONS
from .predict import predict_examples

MAX_WHOLE_SECONDS = 30.0
"""Segment length for models trained on whole clips of varying length."""


def segment_seconds(trained: Any) -> float:
    """The segment length (seconds) a trained model expects (see module doc)."""
    source_cfg = trained.experiment.stages["source"].config
    seconds = float(getattr(source_cfg, "segment_seconds", 0.0) or 0.0)
    if seconds > 0:
        return seconds
    frames = int(getattr(trained.features.config, "target_frames", 0) or 0)
    if frames > 0:
        return frames / trained.features.frame_rate
    return MAX_WHOLE_SECONDS


def file_segments(path: Path, duration: float, length: float, hop: float | None = None) -> list[Example]:
    """Examples tiling a file of `duration` seconds with `length`-second segments every `hop`
    seconds (default: `length`); the last segment ends at the file's end. A file no longer than
    `length` is one example. Keys are `<path>@<start>`."""
    if duration <= length + 1e-6:
        return [Example(key=f"{path}@0.000", audio_path=path, start=0.0, duration=None)]
    hop = length if not hop else hop
    count = max(1, math.ceil((duration - length) / hop - 1e-9) + 1)
    starts = sorted({min(k * hop, duration - length) for k in range(count)})
    return [Example(key=f"{path}@{s:.3f}", audio_path=path, start=float(s), duration=float(length))
            for s in starts]


def rate_files(trained: Any, files: Sequence[str | Path], *, length: float | None = None,
               hop: float | None = None, batch_size: int = 8) -> list[dict[str, Any]]:
    """Ratings of each audio file: [{"file", "ratings": {dimension: value}, "segments":
    [{"start", "end", "ratings"}]}], values in [0, 1]. Every file is opened first, so a missing
    or corrupt one fails (AudioError naming it) before any work is done."""
    from pianox.audio import probe_audio

    length = segment_seconds(trained) if length is None else float(length)
    if length <= 0 or (hop is not None and hop <= 0):
        raise ConfigError(f"segment length and hop must be > 0 seconds, got {length} and {hop}")
    durations = {}
    for f in files:
        frames, sr = probe_audio(f)
        durations[str(f)] = frames / sr
    examples = [e for f in files for e in file_segments(Path(f), durations[str(f)], length, hop)]
    got = predict_examples(trained.task, trained.model, trained.head, trained.features, examples,
                           device=trained.device, batch_size=batch_size, autocast=trained.backend.autocast)
    for key, pred in zip(got["keys"], got["segment_pred"]):  # no NaN reaches a table or JSON
        name, start = key.rsplit("@", 1)
        require_finite(pred, f"{name} (segment at {start} s)", "ratings")
    by_file: dict[str, list[tuple[float, np.ndarray]]] = {}
    for key, pred in zip(got["keys"], got["segment_pred"]):
        name, start = key.rsplit("@", 1)
        by_file.setdefault(name, []).append((float(start), pred))
    out = []
    for f in files:
        segs = by_file[str(Path(f))]
        mean = np.mean([p for _, p in segs], axis=0)
        out.append({"file": str(f), "ratings": _named(mean), "segments": [
            {"start": s, "end": min(s + length, durations[str(f)]), "ratings": _named(p)} for s, p in segs]})
    return out


def _named(values: np.ndarray) -> dict[str, float]:
    return {d: round(float(v), 4) for d, v in zip(DIMENSIONS, values)}


def print_table(results: list[dict[str, Any]], segments: bool = False) -> None:
    """Dimensions as rows, files (and with `segments` each segment) as columns."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="PercePiano ratings (0 = first pole, 1 = second pole)")
    table.add_column("dimension")
    columns: list[dict[str, float]] = []
    for r in results:
        table.add_column(Path(r["file"]).name, justify="right")
        columns.append(r["ratings"])
        if segments:
            for s in r["segments"]:
                table.add_column(f"{s['start']:.1f}-{s['end']:.1f} s", justify="right", style="dim")
                columns.append(s["ratings"])
    for d in DIMENSIONS:
        table.add_row(d, *(f"{c[d]:.3f}" for c in columns))
    Console(width=max(120, 30 + 12 * len(columns))).print(table)
