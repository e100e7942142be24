"""Post-render tone shaping: spectral tilt (brightness) and gain, as simple causal filters.

Causal filters keep onsets where they are (a zero-phase filter would smear energy before
them), which the onset-alignment tests rely on.
"""

from __future__ import annotations

import numpy as np

TILT_CORNER_HZ = 1500.0
TILT_MAX_DB = 6.0


def tilt(y: np.ndarray, sample_rate: int, amount: float, corner_hz: float = TILT_CORNER_HZ,
         max_db: float = TILT_MAX_DB) -> np.ndarray:
    """Brighten (`amount` > 0) or darken (< 0) float32 audio `(S,)`.

    The signal is split by a one-pole low-pass at `corner_hz` into low and high bands, and the
    high band is scaled by `amount * max_db` dB (amount in [-1, 1]). The bands overlap, so the
    top of the spectrum moves by less (about +4.7 / -3.8 dB above 5 kHz at 16 kHz) while
    the bass stays put; `amount = 0` returns the input unchanged.
    """
    if amount == 0:
        return np.asarray(y, dtype=np.float32)
    from scipy.signal import lfilter

    a = float(np.exp(-2.0 * np.pi * min(corner_hz, 0.45 * sample_rate) / sample_rate))
    low = lfilter([1.0 - a], [1.0, -a], np.asarray(y, dtype=np.float64))
    gain = 10.0 ** (float(np.clip(amount, -1.0, 1.0)) * max_db / 20.0)
    return (low + gain * (y - low)).astype(np.float32)


def db(gain_db: float) -> float:
    """Linear factor of a gain in dB."""
    return float(10.0 ** (gain_db / 20.0))


def limit(y: np.ndarray, ceiling: float = 0.99) -> tuple[np.ndarray, float]:
    """Scale `y` down so its peak is at most `ceiling`; returns (audio, factor applied)."""
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    factor = ceiling / peak if peak > ceiling else 1.0
    return (y * factor).astype(np.float32), factor
