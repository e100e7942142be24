"""Test audio: decaying harmonic chords with a little noise, float32, deterministic."""

from __future__ import annotations

import numpy as np


def chord(seconds: float, sample_rate: int = 16000, seed: int = 0, amplitude: float = 0.3,
          batch: int | None = None) -> np.ndarray:
    """(S,) float32 (or (batch, S)): three decaying piano-like partial series plus noise at -40 dB."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    rows = []
    for _ in range(batch or 1):
        y = np.zeros_like(t)
        for f0 in rng.uniform(80.0, 900.0, size=3):
            onset = rng.uniform(0.0, 0.3 * seconds)
            env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(1.0, 4.0)), 0.0)
            for h in range(1, 7):
                if f0 * h < sample_rate / 2:
                    y += env * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h
        y = amplitude * y / max(np.abs(y).max(), 1e-9) + 0.003 * rng.standard_normal(t.size)
        rows.append(y.astype(np.float32))
    return np.stack(rows) if batch is not None else rows[0]
