"""Sliding-window inference over long audio: overlapping windows, overlap-added posteriors.

The features of a whole recording are cut into windows of `window` frames every `hop` frames,
the last one aligned to the end (so every window is full length and none is padded). Each
window's per-frame outputs are weighted by a Hann taper (strictly positive, small at the window
edges where the encoder saw least context) and the weighted sum is divided by the summed
weights. Where the windows agree the result equals each of them; where they differ it blends
smoothly, without seams.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def window_starts(num_frames: int, window: int, hop: int) -> list[int]:
    """First frames of the windows covering `num_frames` frames (one window if it fits)."""
    if window < 1 or not 1 <= hop <= window:
        raise ValueError(f"need window >= 1 and 1 <= hop <= window, got window={window}, hop={hop}")
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window, hop))
    starts.append(num_frames - window)
    return starts


def taper(length: int) -> np.ndarray:
    """(length,) float64 Hann weights sin^2(pi (i + 0.5) / length), all > 0."""
    i = np.arange(length, dtype=np.float64)
    return np.sin(np.pi * (i + 0.5) / length) ** 2


def overlap_add(predict: Callable[[np.ndarray], Sequence[np.ndarray]], features: np.ndarray, window: int,
                hop: int, batch_size: int = 8) -> list[np.ndarray]:
    """Run `predict` over windows of (T, F) `features` and overlap-add its outputs.

    `predict` maps a (B, W, F) float32 batch of windows to a sequence of (B, W, C_k) arrays
    (e.g. onset posteriors and velocities); returns the matching (T, C_k) float32 arrays.
    """
    features = np.ascontiguousarray(features, dtype=np.float32)
    T = features.shape[0]
    if T == 0:
        raise ValueError("overlap_add: no frames to transcribe")
    starts = window_starts(T, window, hop)
    W = min(window, T)
    weights = taper(W)
    sums: list[np.ndarray] | None = None
    norm = np.zeros(T)
    for b0 in range(0, len(starts), batch_size):
        chunk = starts[b0:b0 + batch_size]
        batch = np.stack([features[s:s + W] for s in chunk])
        outputs = [np.asarray(o, dtype=np.float64) for o in predict(batch)]
        if sums is None:
            sums = [np.zeros((T, o.shape[-1])) for o in outputs]
        for k, s in enumerate(chunk):
            for acc, out in zip(sums, outputs, strict=True):
                acc[s:s + W] += weights[:, None] * out[k]
            norm[s:s + W] += weights
    assert sums is not None
    return [(acc / norm[:, None]).astype(np.float32) for acc in sums]
