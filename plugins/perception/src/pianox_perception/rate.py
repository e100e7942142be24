"""Rating audio with a trained perception model (`pianox rate`): the task's part of `pianox.inference`.

A file is streamed in segments of the length the model was trained on (the source's
`segment_seconds`, else the features' `target_frames`, else `MAX_WHOLE_SECONDS`); segments tile
the file, the last one ending at its end (`Windowing(pad_last=False)`), and a file no longer
than a segment is one segment. Each segment is rated (`combine = "each"`) and the file's
ratings are the mean over its segments.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from pianox.errors import ConfigError
from pianox.inference.pipeline import Plan, run
from pianox.inference.stream import Windowing, stream_windows

from .dimensions import DIMENSIONS

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


class Rater:
    """Audio file -> ratings with a loaded perception model (`pianox.inference.load_model`)."""

    def __init__(self, trained: Any, length: float | None = None, hop: float | None = None, batch_size: int = 8):
        self.t = trained
        self.length = segment_seconds(trained) if length is None else float(length)
        self.hop = self.length if not hop else float(hop)
        if self.length <= 0 or self.hop <= 0 or self.hop > self.length:
            raise ConfigError(f"segment length and hop must be > 0 seconds with hop <= length, got "
                              f"{self.length} and {hop}")
        sr = trained.features.sample_rate
        window = max(1, int(round(self.length * sr)))
        self.windowing = Windowing(window, min(window, max(1, int(round(self.hop * sr)))), pad_last=False)
        self.plan = Plan(self._forward, "each", batch_size)
        self._count = itertools.count()  # unique window keys (a task may cache states by key)

    def _forward(self, feats: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
        dev = self.t.device
        batch = {"features": feats.to(dev), "padding_mask": mask.to(dev), "frames": frames,
                 "keys": [f"pianox-rate-window-{next(self._count)}" for _ in range(len(feats))]}
        with torch.inference_mode(), self.t.backend.autocast():
            return {"ratings": self.t.task.predict(self.t.model, self.t.head, batch).float()}

    def rate_file(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """{"file", "ratings": {dimension: value}, "segments": [{"start", "end", "ratings"}]} of an
        audio file, values in [0, 1]; AudioError / InferenceError naming the file."""
        sr = self.t.features.sample_rate
        windows = stream_windows(path, sr, self.windowing)
        duration = windows.total / sr
        starts = self.windowing.starts(windows.total)
        segments = []
        for k, part in enumerate(run(windows, self.t.features, self.plan, progress)):
            start = starts[k] / sr
            segments.append({"start": round(start, 3), "end": min(start + self.length, duration),
                             "ratings": np.asarray(part["ratings"], np.float64)})
        mean = np.mean([s["ratings"] for s in segments], axis=0)
        return {"file": str(path), "ratings": _named(mean),
                "segments": [{**s, "ratings": _named(s["ratings"])} for s in segments]}


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
