"""Tempo for charts: a tempo estimate from the hits, beat times from librosa, and a tempo map.

`TempoMap` is what a Clone Hero [SyncTrack] holds: tempo markers (tick, milli-BPM) at a
resolution of ticks per beat. Seconds <-> ticks conversions use the markers exactly as written
(milli-BPM rounded), so a chart read back gives the times it was written with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pianox.errors import PluginError

RESOLUTION = 192
"""Chart ticks per beat."""


@dataclass(frozen=True)
class TempoMap:
    """Tempo markers: `ticks` (K,) int, strictly increasing from 0, and `millibpm` (K,) int."""

    ticks: tuple[int, ...]
    millibpm: tuple[int, ...]
    resolution: int = RESOLUTION

    def __post_init__(self) -> None:
        if not self.ticks or self.ticks[0] != 0 or any(b <= a for a, b in zip(self.ticks, self.ticks[1:])):
            raise ValueError(f"tempo marker ticks must start at 0 and increase, got {self.ticks}")
        if len(self.ticks) != len(self.millibpm) or min(self.millibpm) <= 0:
            raise ValueError("one positive milli-BPM per tempo marker is needed")

    def _starts(self) -> np.ndarray:
        """Seconds at each marker."""
        t = np.asarray(self.ticks, np.float64)
        spb = 60000.0 / np.asarray(self.millibpm, np.float64)  # seconds per beat
        seg = np.diff(t) / self.resolution * spb[:-1]
        return np.concatenate([[0.0], np.cumsum(seg)])

    def to_ticks(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds -> ticks (float; round for chart events)."""
        s = np.asarray(seconds, np.float64)
        starts = self._starts()
        k = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(starts) - 1)
        spb = 60000.0 / np.asarray(self.millibpm, np.float64)[k]
        return np.asarray(self.ticks, np.float64)[k] + (s - starts[k]) / spb * self.resolution

    def to_seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Ticks -> seconds."""
        t = np.asarray(ticks, np.float64)
        marks = np.asarray(self.ticks, np.float64)
        k = np.clip(np.searchsorted(marks, t, side="right") - 1, 0, len(marks) - 1)
        spb = 60000.0 / np.asarray(self.millibpm, np.float64)[k]
        return self._starts()[k] + (t - marks[k]) / self.resolution * spb

    @classmethod
    def constant(cls, bpm: float, resolution: int = RESOLUTION) -> "TempoMap":
        return cls((0,), (int(round(bpm * 1000)),), resolution)

    @classmethod
    def from_beats(cls, beats: Sequence[float], resolution: int = RESOLUTION) -> "TempoMap":
        """One beat per interval between successive beat times (seconds, increasing); time 0 is
        the first beat, so [0, first beat) is a pickup beat. A first beat closer to 0 than half
        the next interval is dropped (its pickup would be an absurd tempo); the pickup then
        lasts 1 to 1.5 beats."""
        b = np.asarray(beats, np.float64)
        b = b[b > 0.0] if len(b) else b
        while len(b) > 1 and b[0] < 0.5 * (b[1] - b[0]):
            b = b[1:]
        anchors = np.concatenate([[0.0], b])
        if len(anchors) < 2:
            raise ValueError("need at least one beat after time 0")
        gaps = np.diff(anchors)
        if (gaps <= 0).any():
            raise ValueError("beat times must increase")
        mbpm = np.rint(60000.0 / gaps).astype(np.int64)
        ticks, values = [], []
        for k, v in enumerate(mbpm):
            if not values or v != values[-1]:
                ticks.append(k * resolution)
                values.append(int(v))
        return cls(tuple(ticks), tuple(values), resolution)


def estimate_tempo(times: np.ndarray, weights: np.ndarray | None = None, low: float = 60.0,
                   high: float = 200.0, rate: float = 100.0) -> float:
    """Tempo (BPM) of onset times: autocorrelation of a smoothed onset train at `rate` Hz (each
    onset weighted, e.g. by velocity, so accents mark the beat) over beat periods in [low, high]
    BPM, each lag scored with its double (the bar-level pulse) and weighted by a broad
    log-normal prior centred on 120 BPM (two octaves wide), refined parabolically. Fewer than
    4 onsets give 120. Like any tempo estimate it can be off by an octave on unaccented input."""
    t = np.asarray(times, np.float64)
    if len(t) < 4:
        return 120.0
    w = np.ones(len(t)) if weights is None else np.asarray(weights, np.float64)
    n = int(np.ceil(t.max() * rate)) + int(rate * 4)
    train = np.zeros(n)
    np.add.at(train, np.rint(t * rate).astype(int), w)
    kernel = np.exp(-0.5 * (np.arange(-5, 6) / 2.0) ** 2)
    train = np.convolve(train, kernel, mode="same")
    train -= train.mean()
    spectrum = np.fft.rfft(train, 2 * n)
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    lags = np.arange(int(np.floor(60.0 * rate / high)), int(np.ceil(60.0 * rate / low)) + 1)
    lags = lags[(lags > 0) & (2 * lags < n)]
    bpm = 60.0 * rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / 2.0) ** 2)
    score = (ac[lags] + 0.5 * ac[2 * lags]) * prior
    i = int(np.argmax(score))
    lag = float(lags[i])
    if 0 < i < len(lags) - 1:
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            lag += 0.5 * (a - c) / denom
    return float(60.0 * rate / lag)


def beat_phase(times: np.ndarray, bpm: float, weights: np.ndarray | None = None) -> float:
    """Seconds in [0, period) where a beat grid of `bpm` best fits the onset times: the circular
    mean of the onsets' phases, weighted (e.g. by velocity, so accented hits on the beat
    outweigh off-beat ones)."""
    t = np.asarray(times, np.float64)
    period = 60.0 / bpm
    if len(t) == 0:
        return 0.0
    w = np.ones(len(t)) if weights is None else np.asarray(weights, np.float64)
    angle = np.angle((w * np.exp(2j * np.pi * t / period)).sum())
    return float((angle % (2 * np.pi)) / (2 * np.pi) * period)


def grid_beats(times: np.ndarray, bpm: float, end: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Beat times of a constant `bpm` grid aligned to the (weighted) onsets, up to `end` seconds."""
    period = 60.0 / bpm
    phase = beat_phase(times, bpm, weights)
    return np.arange(phase, max(end, phase) + period, period)


def librosa_beats(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Beat times (seconds) from librosa.beat.beat_track (librosa is a development dependency)."""
    try:
        import librosa
    except ImportError as exc:
        raise PluginError(f"--tempo librosa needs librosa (pip install librosa): {exc}") from exc
    _, beats = librosa.beat.beat_track(y=np.asarray(waveform, np.float32), sr=sample_rate, units="time")
    return np.asarray(beats, np.float64)
