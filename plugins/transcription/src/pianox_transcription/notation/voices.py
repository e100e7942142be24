"""Chords and voices per staff, and how long each note is written.

In each staff, the notes starting on one tick are grouped by written end into chords (notes
of a chord share onset and end). Chords are placed, in time and from the highest down, into
at most `MAX_VOICES` voices; a voice is free once its last chord has ended. When no voice is
free, the busy voice nearest in pitch is cut short at the new onset if the new chord is within
`LINE` semitones of it (the same line played legato or held by the pedal: a note is never
written past the next onset of its own voice), else a new voice is opened while there is
room; a chord with no voice left joins the chord placed before it on that tick. Voices are
then numbered from the highest (1, stems up) down.

The notated lengths are thus the played (key-release) lengths, quantised, capped by the
voice (a note a pedal, or a transcriber that reports sounding lengths, stretched over the
next notes of its line is written up to the next of them) and filled up to the voice's next
chord when the silence before it is at most `GAP` of the note (a note released a little
early, as most are, is written full length; staccato keeps its rests).
"""

from __future__ import annotations

import numpy as np

MAX_VOICES = 2
LINE = 7
GAP = 0.25
"""A rest before the next chord of a voice up to this fraction of a chord's length is filled
(articulation, not a written rest)."""


def assign_voices(pitch: np.ndarray, onset: np.ndarray, end: np.ndarray, staff: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(written end ticks `(N,)`, voice `(N,)` numbered from 1 within each staff) of notes with
    MIDI `pitch`, `onset` / `end` ticks and `staff`, all `(N,)` (see module doc)."""
    pitch = np.asarray(pitch, np.float64)
    end = np.asarray(end).copy()
    voice = np.zeros(len(pitch), np.int64)
    for s in np.unique(staff):
        mine = np.flatnonzero(staff == s)
        last: list[np.ndarray] = []  # per voice: the note indices of its last chord
        for t in np.unique(onset[mine]):
            here = mine[onset[mine] == t]
            chords = [here[end[here] == e] for e in np.unique(end[here])]
            chords.sort(key=lambda c: -pitch[c].mean())
            used: set[int] = set()
            placed: list[np.ndarray] = []
            for chord in chords:
                v = _place(chord, last, used, pitch, end, t)
                if v is None:  # no voice left: join the previous chord on this tick
                    end[chord] = end[placed[-1][0]]
                    voice[chord] = voice[placed[-1][0]]
                    placed[-1] = np.concatenate([placed[-1], chord])
                    last[voice[chord[0]]] = placed[-1]
                    continue
                if v == len(last):
                    last.append(chord)
                else:
                    last[v] = chord
                used.add(v)
                voice[chord] = v
                placed.append(chord)
        _close_gaps(mine, onset, end, voice)
        order = np.argsort([-pitch[mine][voice[mine] == v].mean() for v in range(len(last))])
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        voice[mine] = rank[voice[mine]] + 1
    return end, voice


def _place(chord: np.ndarray, last: list[np.ndarray], used: set[int], pitch: np.ndarray,
           end: np.ndarray, t: int) -> int | None:
    """The voice index for `chord` at tick `t` (len(last) opens one), or None; cuts the last
    chord of a busy voice it continues."""
    def gap(v: int) -> float:
        return float(np.abs(pitch[last[v]][:, None] - pitch[chord][None, :]).min())

    open_ = [v for v in range(len(last)) if v not in used]
    free = [v for v in open_ if end[last[v]].max() <= t]
    if free:
        return min(free, key=gap)
    busy = sorted(open_, key=gap)
    if busy and gap(busy[0]) <= LINE:
        end[last[busy[0]]] = t
        return busy[0]
    if len(last) < MAX_VOICES:
        return len(last)
    if busy:
        end[last[busy[0]]] = t
        return busy[0]
    return None


def _close_gaps(mine: np.ndarray, onset: np.ndarray, end: np.ndarray, voice: np.ndarray) -> None:
    """Extend each chord of a voice to the voice's next onset when the gap is at most `GAP` of
    the chord's length (a note released a little early is written full length)."""
    for v in np.unique(voice[mine]):
        notes = mine[voice[mine] == v]
        starts = np.unique(onset[notes])
        for a, b in zip(starts[:-1], starts[1:]):
            chord = notes[onset[notes] == a]
            stop = end[chord].max()
            if stop < b and b - stop <= GAP * (stop - a):
                end[chord] = b
