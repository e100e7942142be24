"""Notes -> `Notation`: the whole pipeline, one step per module (see the package doc)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .beats import onset_clusters, track_beats
from .hands import split_hands
from .key import Key, estimate_key
from .metre import Metre, estimate_metre
from .quantize import TPB, quantize
from .voices import assign_voices


@dataclass(frozen=True)
class Notation:
    """A score of played notes. Positions are ticks, `TPB` per beat, from beat 0."""

    notes: np.ndarray   # (N, 4) played notes sorted by onset, then pitch (seconds)
    beats: np.ndarray   # (B,) beat times, seconds
    onset: np.ndarray   # (N,) written onset, ticks
    end: np.ndarray     # (N,) written end, ticks
    staff: np.ndarray   # (N,) 0 upper (right hand), 1 lower (left hand)
    voice: np.ndarray   # (N,) voice within the staff, 1 = highest
    grids: np.ndarray   # (B,) subdivision chosen per beat
    metre: Metre
    key: Key

    @property
    def pitch(self) -> np.ndarray:
        return self.notes[:, 2].astype(np.int64)

    @property
    def bpm(self) -> float:
        """Median beats per minute over the beats that hold notes."""
        used = np.diff(self.beats)[: max(1, int(self.onset.max(initial=0)) // TPB + 1)]
        return float(60.0 / np.median(used))

    def bar_lines(self) -> np.ndarray:
        """Ticks of every barline `(M + 1,)`: the pickup's start (tick 0) when the first bar
        is not at beat 0, each downbeat, and the end of the bar holding the last note end."""
        bar = self.metre.beats_per_bar * TPB
        first = self.metre.downbeat * TPB
        last = int(self.end.max(initial=1))
        count = max(1, -(-(last - first) // bar))
        lines = first + bar * np.arange(count + 1)
        return np.concatenate([[0], lines]) if first > 0 else lines

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Times in seconds of tick positions (the beats interpolated, extrapolated at the ends)."""
        pos = np.asarray(ticks, np.float64) / TPB
        b = self.beats
        idx = np.arange(len(b), dtype=np.float64)
        out = np.interp(pos, idx, b)
        early, late = pos < 0, pos > len(b) - 1
        out[early] = b[0] + pos[early] * (b[1] - b[0])
        out[late] = b[-1] + (pos[late] - len(b) + 1) * (b[-1] - b[-2])
        return out


def notate(notes: np.ndarray, audio: np.ndarray | str | Path | None = None, sr: int | None = None) -> Notation:
    """The `Notation` of `(N, 4)` played notes (onset s, key-release offset s, MIDI pitch,
    velocity), with the audio they were heard in when there is one (mono samples at `sr` Hz,
    or a file's path), which then also informs the beats."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    clusters = onset_clusters(notes)
    beats = track_beats(notes, audio, sr)
    onset, end, grids = quantize(notes, beats, clusters)
    keep = _unisons(notes[:, 2], onset, end)
    notes, onset, end = notes[keep], onset[keep], end[keep]
    pitch = notes[:, 2]
    metre = estimate_metre(pitch, onset, end, grids)
    staff = split_hands(pitch, onset, end)
    end, voice = assign_voices(pitch, onset, end, staff)
    key = estimate_key(pitch, (end - onset) / TPB)
    return Notation(notes=notes, beats=beats, onset=onset, end=end, staff=staff, voice=voice,
                    grids=grids, metre=metre, key=key)


def _unisons(pitch: np.ndarray, onset: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Indices of the notes to keep: of notes of one pitch on one onset tick (a unison of two
    voices; one key on a piano) only the longest, its end the latest."""
    order = np.lexsort((-end, onset, pitch))
    first = np.ones(len(order), bool)
    first[1:] = (pitch[order][1:] != pitch[order][:-1]) | (onset[order][1:] != onset[order][:-1])
    return np.sort(order[first])
