"""Frame targets from drum hits, and the per-class positive weights of the onset loss.

A hit at `time` seconds lands on frame `round(time * frame_rate)`. Its onset target is 1 there
and `soft` on the `width` frames either side (widened targets forgive a frame of timing noise
in the annotations); its velocity target (MIDI velocity / 127) is set on the exact frame only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from pianox.errors import DataError


def frame_targets(hits: Sequence[np.ndarray], num_frames: int, frame_rate: float, num_classes: int,
                  width: int = 1, soft: float = 0.5, keys: Sequence[str] | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets of a batch: (onsets (B, T, C) float32 in [0, 1], velocity (B, T, C) float32 in
    [0, 1], exact (B, T, C) bool = the frame a hit lands on).

    `hits[b]` is (N, 3) time s (relative to the clip start), class index, MIDI velocity. Hits
    outside [0, T) frames are dropped; a class index outside [0, C) is a DataError naming the key.
    """
    B = len(hits)
    onsets = np.zeros((B, num_frames, num_classes), np.float32)
    velocity = np.zeros((B, num_frames, num_classes), np.float32)
    exact = np.zeros((B, num_frames, num_classes), bool)
    for b, h in enumerate(hits):
        h = np.asarray(h, dtype=np.float64).reshape(-1, 3)
        if len(h) == 0:
            continue
        cls = h[:, 1].astype(np.int64)
        if cls.min() < 0 or cls.max() >= num_classes:
            where = keys[b] if keys is not None else f"batch item {b}"
            raise DataError(f"{where}: drum class {int(cls.max())} is outside the task's "
                            f"{num_classes} classes (does [task] class_map match [source] class_map?)")
        frame = np.rint(h[:, 0] * frame_rate).astype(np.int64)
        keep = (frame >= 0) & (frame < num_frames)
        frame, cls, vel = frame[keep], cls[keep], h[keep, 2]
        for d in range(1, width + 1):
            for f in (frame - d, frame + d):
                ok = (f >= 0) & (f < num_frames)
                np.maximum.at(onsets[b], (f[ok], cls[ok]), soft)
        onsets[b, frame, cls] = 1.0
        exact[b, frame, cls] = True
        velocity[b, frame, cls] = np.clip(vel, 0, 127) / 127.0
    return torch.from_numpy(onsets), torch.from_numpy(velocity), torch.from_numpy(exact)


def positive_weights(positive: torch.Tensor, seen: torch.Tensor, power: float = 0.5,
                     max_weight: float = 100.0) -> torch.Tensor:
    """BCE positive weights (C,) from counts: ((seen - positive) / positive) ** power, clamped
    to [1, max_weight]; a class never seen positive gets `max_weight`.

    `positive` (C,) counts onset frames per class, `seen` () all frames counted, both over the
    training frames seen so far (after one epoch: the train split's class frequencies).
    """
    positive = positive.double()
    ratio = (seen.double() - positive) / positive.clamp(min=1.0)
    weights = ratio.clamp(min=1.0) ** power
    weights = torch.where(positive > 0, weights, torch.full_like(weights, max_weight))
    return weights.clamp(1.0, max_weight).float()
