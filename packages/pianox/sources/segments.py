"""Cutting recordings into fixed-length spans and their annotations into span-relative targets.

Spans are (start, duration) in seconds. Targets inside a span are relative to its start:
notes keep their true extent, so an onset < 0 means the note was already sounding when the
span began and an offset > duration that it goes on after it ends (tasks clip as they need).
Pedal intervals are clipped to the span; drum hits are kept when start <= time < end.

`LazyTargets` defers reading a MIDI file until a target is first used, so listing a corpus of
a thousand performances stays instant and data-loader workers do the parsing in parallel.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Mapping

import numpy as np


def spans(duration: float, segment: float, hop: float = 0.0) -> list[tuple[float, float]]:
    """Fixed-length spans covering `[0, duration)` seconds.

    `segment <= 0` gives one span of the whole file. Otherwise spans of `segment` seconds
    start every `hop` seconds (`hop <= 0`: = segment) until the end is covered; the last span
    may run past the end (its audio is zero-padded by `load_example`).
    """
    if duration <= 0:
        return []
    if segment <= 0:
        return [(0.0, float(duration))]
    hop = segment if hop <= 0 else hop
    n = max(1, math.ceil((duration - segment) / hop - 1e-9) + 1)
    return [(round(k * hop, 6), float(segment)) for k in range(n)]


def notes_in_span(notes: np.ndarray, start: float, duration: float) -> np.ndarray:
    """Notes `(N, 4)` sounding in `[start, start + duration)`, times relative to `start`."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    keep = (notes[:, 1] > start) & (notes[:, 0] < start + duration)
    out = notes[keep].copy()
    out[:, :2] -= start
    return out


def intervals_in_span(intervals: np.ndarray, start: float, duration: float) -> np.ndarray:
    """Intervals `(K, 2)` overlapping the span, clipped to it, relative to `start`."""
    iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    keep = (iv[:, 1] > start) & (iv[:, 0] < start + duration)
    return np.clip(iv[keep] - start, 0.0, duration)


def events_in_span(events: np.ndarray, start: float, duration: float) -> np.ndarray:
    """Rows of `(N, C)` events whose time (column 0) is in the span, times relative to `start`."""
    ev = np.asarray(events, dtype=np.float64)
    keep = (ev[:, 0] >= start) & (ev[:, 0] < start + duration)
    out = ev[keep].copy()
    out[:, 0] -= start
    return out


class LazyTargets(Mapping[str, Any]):
    """A read-only mapping computed by `loader()` on first access.

    `loader` must be picklable (a module-level function or a functools.partial of one), so
    examples travel to data-loader workers without their arrays; the computed value is not
    pickled.
    """

    __slots__ = ("_loader", "_value")

    def __init__(self, loader: Callable[[], Mapping[str, Any]]):
        self._loader = loader
        self._value: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._value is None:
            self._value = dict(self._loader())
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        state = "loaded" if self._value is not None else "not loaded"
        return f"LazyTargets({state})"

    def __reduce__(self):
        return (LazyTargets, (self._loader,))
