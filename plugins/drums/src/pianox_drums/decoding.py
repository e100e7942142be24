"""Posteriors -> drum hits (peak picking per class), and per-class threshold tuning.

Peak picking is `pianox.decode.pick_peaks` (compiled core, numpy reference behind it). A hit
row is (time s, class index, MIDI velocity 1..127, confidence = onset posterior at the peak).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pianox.decode import pick_peaks

from .metrics import WINDOW, clip_counts

THRESHOLD_GRID = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
"""Thresholds tried per class when tuning."""


def posteriors_to_hits(probs: np.ndarray, velocity: np.ndarray | None, frame_rate: float,
                       thresholds: float | np.ndarray = 0.5, min_distance: int = 2) -> np.ndarray:
    """Hits (N, 4) [time s, class, velocity 1..127, confidence] from (T, C) onset posteriors.

    `velocity` (T, C) in [0, 1] is read at each peak (None: velocity 100). `thresholds` is one
    value or one per class; peaks of a class closer than `min_distance` frames keep the higher.
    """
    frames, classes, values = pick_peaks(np.asarray(probs, np.float32), thresholds, min_distance)
    if velocity is None:
        vel = np.full(len(frames), 100.0)
    else:
        vel = np.clip(np.rint(np.asarray(velocity)[frames, classes] * 127.0), 1, 127)
    return np.stack([frames / float(frame_rate), classes.astype(np.float64), vel,
                     values.astype(np.float64)], axis=1).reshape(-1, 4)


def tune_thresholds(probs: Sequence[np.ndarray], references: Sequence[np.ndarray], frame_rate: float,
                    min_distance: int = 2, grid: Sequence[float] = THRESHOLD_GRID,
                    default: float = 0.5, window: float = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Per-class thresholds maximising each class's F1 over a set of clips.

    `probs[k]` is clip k's (T, C) posteriors, `references[k]` its (N, >= 2) reference hits (time
    s, class). For every grid value all clips are decoded and matched once; each class takes the
    value with its highest F1 (ties: the one nearest `default`). Classes without reference hits
    keep `default`. Returns (thresholds (C,) float32, best F1 (C,) float64, NaN where untuned).
    """
    if not probs:
        raise ValueError("tune_thresholds needs at least one clip")
    C = probs[0].shape[1]
    grid = np.asarray(sorted(grid), dtype=np.float64)
    f1 = np.zeros((len(grid), C))
    n_ref = np.zeros(C)
    for g, value in enumerate(grid):
        total = np.zeros((C, 3))
        for p, ref in zip(probs, references, strict=True):
            est = posteriors_to_hits(p, None, frame_rate, float(value), min_distance)
            total += clip_counts(ref, est, C, window)
        tp, n_ref, n_est = total.T
        f1[g] = np.where(n_ref + n_est > 0, 2 * tp / np.maximum(n_ref + n_est, 1), 0.0)
    thresholds = np.full(C, default, np.float32)
    best = np.full(C, np.nan)
    for c in range(C):
        if n_ref[c] == 0:
            continue
        top = f1[:, c].max()
        candidates = np.flatnonzero(np.isclose(f1[:, c], top))
        pick = candidates[np.argmin(np.abs(grid[candidates] - default))]
        thresholds[c], best[c] = grid[pick], top
    return thresholds, best
