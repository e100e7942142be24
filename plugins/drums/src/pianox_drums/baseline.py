"""A classical baseline: onset detection in three frequency bands (librosa).

Spectral flux (librosa.onset.onset_strength) of a log-power STFT restricted to a band, peak
picked by librosa.onset.onset_detect: the low band stands for the kick, the middle band (snare
wires and crack) for the snare, the top band for the hi-hat. Every other class is never
predicted. Each band's peak-picking `delta` (on the envelope normalised to [0, 1]) is tuned on
validation clips like the model's thresholds. librosa is a development dependency only: its
absence is a PluginError saying so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pianox.errors import PluginError

from .metrics import WINDOW, clip_counts

BANDS: dict[str, tuple[float, float]] = {"kick": (30.0, 120.0), "snare": (1000.0, 4000.0),
                                         "hihat": (6000.0, 8000.0)}
"""Class name -> (low Hz, high Hz) of its band (clipped to the Nyquist frequency)."""
N_FFT = 1024
HOP = 160
DELTA_GRID = (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4)


def available() -> bool:
    """Whether librosa (needed by the baseline) can be imported."""
    import importlib.util

    return importlib.util.find_spec("librosa") is not None


def _librosa():
    try:
        import librosa
    except ImportError as exc:
        raise PluginError("the drum baseline needs librosa (a development dependency): "
                          f"pip install librosa ({exc})") from exc
    return librosa


def band_envelopes(waveform: np.ndarray, sample_rate: int, names: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """(B, T) onset-strength envelopes at sample_rate / 160 frames/s for the bands of the class
    names present in `names`, and those classes' indices in `names`."""
    librosa = _librosa()
    y = np.asarray(waveform, dtype=np.float32)
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
    db = librosa.power_to_db(power, ref=np.max, top_db=80.0)
    envs, classes = [], []
    for name, (lo, hi) in BANDS.items():
        if name not in names:
            continue
        rows = (freqs >= lo) & (freqs <= min(hi, sample_rate / 2))
        envs.append(librosa.onset.onset_strength(S=db[rows], sr=sample_rate, hop_length=HOP))
        classes.append(list(names).index(name))
    return np.stack(envs) if envs else np.zeros((0, power.shape[1])), classes


def band_hits(envelopes: np.ndarray, classes: Sequence[int], sample_rate: int,
              deltas: Sequence[float]) -> np.ndarray:
    """Hits (N, 2) [time s, class] from band envelopes with one peak-picking delta per band."""
    librosa = _librosa()
    rows = []
    for env, cls, delta in zip(envelopes, classes, deltas, strict=True):
        times = librosa.onset.onset_detect(onset_envelope=env, sr=sample_rate, hop_length=HOP,
                                           delta=float(delta), wait=2, units="time")
        rows.extend((float(t), float(cls)) for t in times)
    hits = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    return hits[np.argsort(hits[:, 0], kind="stable")]


def tune_deltas(envelopes: Sequence[np.ndarray], classes: Sequence[int], references: Sequence[np.ndarray],
                sample_rate: int, num_classes: int, grid: Sequence[float] = DELTA_GRID,
                window: float = WINDOW) -> np.ndarray:
    """One delta per band maximising that band's class F1 over clips (envelopes[k] is (B, T))."""
    best = np.zeros(len(classes))
    best_f1 = np.full(len(classes), -1.0)
    for delta in grid:
        total = np.zeros((num_classes, 3))
        for env, ref in zip(envelopes, references, strict=True):
            est = band_hits(env, classes, sample_rate, [delta] * len(classes))
            total += clip_counts(ref, est, num_classes, window)
        for b, c in enumerate(classes):
            tp, n_ref, n_est = total[c]
            f1 = 2 * tp / (n_ref + n_est) if n_ref + n_est else 0.0
            if f1 > best_f1[b]:
                best[b], best_f1[b] = delta, f1
    return best
