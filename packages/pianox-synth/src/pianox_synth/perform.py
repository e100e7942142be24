"""Turning a score excerpt into a piano performance: timing, dynamics, articulation, pedal.

`PerformanceParams` are the knobs a (synthetic) pianist turns; every field is in physical or
MIDI units so that the PercePiano twin can define its ratings as functions of them. A
performance is deterministic given the score, the parameters and the random generator.

    time      score quarter notes -> seconds through a tempo curve: reference tempo x `tempo`,
              a slow random wander (`tempo_drift`), and a ritardando over the last quarter of
              each `phrase_bars`-bar phrase (`rubato`); plus per-onset noise (`timing_jitter`)
              and chord asynchrony (`chord_spread`)
    loudness  velocity = `velocity_mean` + marked dynamic x `velocity_range` + a swell over each
              phrase (`phrase_arc`) + the top note of each chord raised by `voice_balance`
              + a slow dynamic wander over several bars (`dynamic_wander`, so unmarked
              scores still breathe) + `high_loud` per octave above the excerpt's mean pitch
              (a rising line grows louder) + noise (`velocity_noise`)
    length    sounding length = written length x `articulation`
    pedal     each pedal unit is pedalled with probability `pedal`, pressed `pedal_lag` s after
              its start; it is released at the next change with probability `pedal_clean`,
              else held over (blurred). Units are half bars, or with `pedal_harmony` the spans
              between harmony changes (chord onsets whose pitch classes differ from the
              harmony before), so the pedal is changed where a pianist changes it
    errors    each note is a semitone or tone off with probability `wrong_notes`
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scores import MF, Score

LEAD_IN = 0.25
"""Seconds of silence before the first note."""
MIN_NOTE = 0.04
"""Shortest sounding note (seconds)."""
HARMONY_OVERLAP = 0.6
"""Jaccard index of two beats' pitch classes below which the second starts a new harmony."""


@dataclass(frozen=True)
class PerformanceParams:
    tempo: float = 1.0
    """Tempo as a multiple of the work's reference tempo."""
    tempo_drift: float = 0.03
    """Relative standard deviation of a slow tempo wander (0 = steady)."""
    rubato: float = 0.08
    """Relative slow-down at the end of each phrase (0 = none)."""
    phrase_bars: int = 4
    timing_jitter: float = 0.010
    """Standard deviation of onset noise (seconds)."""
    chord_spread: float = 0.004
    """Standard deviation of asynchrony between notes of one chord (seconds)."""
    articulation: float = 0.9
    """Sounding length / written length (0.5 staccato ... 1.1 legato)."""
    velocity_mean: float = 64.0
    """MIDI velocity of a mezzo-forte note."""
    velocity_range: float = 0.5
    """How strongly marked dynamics move velocity (0 = flat, 1 = pp..ff spans ~60)."""
    phrase_arc: float = 0.3
    """Velocity swell towards the middle of each phrase (1 = +-10 velocity)."""
    voice_balance: float = 6.0
    """Velocity added to the top note of each chord (melody over accompaniment)."""
    velocity_noise: float = 4.0
    """Standard deviation of velocity noise (MIDI units)."""
    pedal: float = 0.5
    """Probability that a half bar is pedalled."""
    pedal_clean: float = 0.9
    """Probability that the pedal is changed (released) at the next half bar."""
    pedal_lag: float = 0.06
    """Seconds after a half-bar start that the pedal goes down."""
    brightness: float = 0.0
    """Spectral tilt applied after rendering, -1 (dark) .. +1 (bright), see `tone.tilt`."""
    wrong_notes: float = 0.0
    """Probability that a note is played a semitone or a tone off."""
    dynamic_wander: float = 0.0
    """Amplitude (MIDI velocity) of a slow random dynamic curve over 4-16 bars (0 = none)."""
    high_loud: float = 0.0
    """Velocity added per octave above the excerpt's mean pitch (a rising line gets louder)."""
    pedal_harmony: bool = False
    """Change the pedal at harmony changes instead of every half bar."""


@dataclass
class Performance:
    """A rendered-to-be performance: its notes and pedal in seconds, and what made it."""

    notes: np.ndarray          # (N, 4) onset s, offset s (key release), pitch, velocity
    pedal: np.ndarray          # (K, 2) sustain down, up in seconds
    params: PerformanceParams
    bars: tuple[int, int]      # first bar, number of bars of the excerpt
    meta: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        ends = [self.notes[:, 1].max() if len(self.notes) else 0.0,
                self.pedal[:, 1].max() if len(self.pedal) else 0.0]
        return float(max(ends))

    def midi(self):
        """The performance as a one-piano PrettyMIDI (pedal as CC64)."""
        from pianox.midi import notes_to_midi

        return notes_to_midi(self.notes, self.pedal, program=0)


def one_key_one_note(notes: np.ndarray, gap: float = 0.005, min_length: float = 0.001
                     ) -> np.ndarray:
    """`(N, 4)` notes without two notes of one key down at once, as a MIDI file and a piano
    require: a second strike of a key within `gap + min_length` s of the first is dropped, and
    every note ends `gap` s before its key is struck again (and lasts at least `min_length`
    s). Returned sorted by onset, then pitch."""
    notes = np.array(notes, dtype=np.float64).reshape(-1, 4)
    notes = notes[np.lexsort((-notes[:, 1], notes[:, 0], notes[:, 2]))]
    if len(notes) > 1:
        same = notes[1:, 2] == notes[:-1, 2]
        close = notes[1:, 0] - notes[:-1, 0] < gap + min_length
        notes = notes[np.concatenate([[True], ~(same & close)])]
        same = np.flatnonzero(notes[1:, 2] == notes[:-1, 2])
        notes[same, 1] = np.minimum(notes[same, 1], notes[same + 1, 0] - gap)
        notes[:, 1] = np.maximum(notes[:, 1], notes[:, 0] + min_length)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))]


def bars_for_seconds(score: Score, first_bar: int, seconds: float, tempo: float = 1.0) -> int:
    """How many bars from `first_bar` last about `seconds` at the reference tempo x `tempo`."""
    ms = score.measure_starts
    sec_per_ql = 60.0 / (score.work.qpm * tempo)
    elapsed = (ms[first_bar + 1:] - ms[first_bar]) * sec_per_ql
    return int(max(1, min(len(elapsed), np.searchsorted(elapsed, seconds) + 1)))


def _time_map(grid: np.ndarray, bar_starts: np.ndarray, p: PerformanceParams, qpm: float,
              rng: np.random.Generator) -> np.ndarray:
    """Seconds at each grid point (ql) under the tempo curve."""
    wander = np.zeros_like(grid)
    for _ in range(2):
        period = rng.uniform(8.0, 32.0)
        wander += np.sin(2 * np.pi * grid / period + rng.uniform(0, 2 * np.pi)) / np.sqrt(2)
    phrase_starts = bar_starts[:: max(1, p.phrase_bars)]
    k = np.clip(np.searchsorted(phrase_starts, grid, side="right") - 1, 0, len(phrase_starts) - 1)
    ends = np.append(phrase_starts[1:], bar_starts[-1])[k]
    u = (grid - phrase_starts[k]) / np.maximum(ends - phrase_starts[k], 1e-9)
    ritard = np.clip((u - 0.75) / 0.25, 0.0, 1.0) ** 2
    rate = qpm * p.tempo * np.clip(1.0 + p.tempo_drift * wander - p.rubato * ritard, 0.3, 3.0)
    step = np.diff(grid, prepend=grid[0])
    return np.cumsum(step * 60.0 / rate)


def _phrase_position(x: np.ndarray, bar_starts: np.ndarray, phrase_bars: int) -> np.ndarray:
    starts = bar_starts[:: max(1, phrase_bars)]
    k = np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(starts) - 1)
    ends = np.append(starts[1:], bar_starts[-1])[k]
    return (x - starts[k]) / np.maximum(ends - starts[k], 1e-9)


def perform(score: Score, params: PerformanceParams, rng: np.random.Generator,
            first_bar: int = 0, num_bars: int | None = None) -> Performance:
    """Perform bars `[first_bar, first_bar + num_bars)` of `score` (all remaining by default).

    Returns notes and pedal in seconds from the start of the excerpt (after `LEAD_IN` s of
    silence). Notes tied over the excerpt's end are cut at it.
    """
    p = params
    ms = score.measure_starts
    first_bar = int(np.clip(first_bar, 0, score.num_bars - 1))
    last_bar = score.num_bars if num_bars is None else min(score.num_bars, first_bar + num_bars)
    lo, hi = ms[first_bar], ms[last_bar]
    keep = (score.onset >= lo) & (score.onset < hi)
    onset_ql = score.onset[keep] - lo
    dur_ql = np.minimum(score.duration[keep], hi - score.onset[keep])
    pitch = score.pitch[keep].copy()
    dyn = score.dynamic[keep]
    bar_starts = ms[first_bar:last_bar + 1] - lo
    grid = np.arange(0.0, hi - lo + 0.25, 0.125)
    seconds = _time_map(grid, bar_starts, p, score.work.qpm, rng)

    def to_sec(ql: np.ndarray) -> np.ndarray:
        return np.interp(ql, grid, seconds) + LEAD_IN

    n = len(onset_ql)
    _, cluster = np.unique(onset_ql, return_inverse=True)
    onset = (to_sec(onset_ql) + rng.normal(0, p.timing_jitter, n)[cluster]
             + rng.normal(0, p.chord_spread, n))
    onset = np.maximum(onset, 0.0)
    offset = np.maximum(to_sec(onset_ql + dur_ql * p.articulation), onset + MIN_NOTE)
    top = np.zeros(n, dtype=bool)
    if n:
        highest = np.full(cluster.max() + 1, -1)
        np.maximum.at(highest, cluster, pitch)
        top = pitch == highest[cluster]
    arc = np.sin(np.pi * _phrase_position(onset_ql, bar_starts, p.phrase_bars)) - 0.5
    velocity = (p.velocity_mean + p.velocity_range * 60.0 * (dyn - MF) + p.phrase_arc * 20.0 * arc
                + np.where(top, p.voice_balance, -p.voice_balance / 3.0)
                + rng.normal(0, p.velocity_noise, n))
    if p.dynamic_wander:
        bar_ql = float(np.median(np.diff(bar_starts))) if len(bar_starts) > 1 else 4.0
        period = rng.uniform(4.0, 16.0) * bar_ql
        velocity += p.dynamic_wander * np.sin(2 * np.pi * onset_ql / period + rng.uniform(0, 2 * np.pi))
    if p.high_loud and n:
        velocity += p.high_loud * (pitch - pitch.mean()) / 12.0
    velocity = np.clip(np.round(velocity), 1, 127)
    wrong = rng.random(n) < p.wrong_notes
    pitch[wrong] += rng.choice([-2, -1, 1, 2], size=int(wrong.sum()))
    pitch = np.clip(pitch, 21, 108)
    notes = np.stack([onset, offset, pitch, velocity], axis=1)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    units = _harmony_changes(onset_ql, pitch, bar_starts) if p.pedal_harmony else None
    pedal = _pedal(bar_starts, to_sec, p, rng, units)
    return Performance(notes=notes, pedal=pedal, params=p, bars=(first_bar, last_bar - first_bar),
                       meta={"work": score.work.slug})


def _harmony_changes(onset_ql: np.ndarray, pitch: np.ndarray, bar_starts: np.ndarray
                     ) -> np.ndarray:
    """Score times (ql) where the harmony changes: a beat whose pitch classes share under
    `HARMONY_OVERLAP` of their union with the previous beat's (Jaccard index) starts a new
    harmony. Returns the sorted change points, from 0 to the excerpt's end."""
    end = float(bar_starts[-1])
    beat_of = np.floor(onset_ql)
    changes = [0.0]
    previous: set[int] = set()
    for beat in np.unique(beat_of):
        classes = {int(x) % 12 for x in pitch[beat_of == beat]}
        if previous and len(classes & previous) < HARMONY_OVERLAP * len(classes | previous):
            changes.append(float(beat))
        previous = classes
    return np.array(sorted({0.0, *(c for c in changes if 0 < c < end)}) + [end])


def _pedal(bar_starts: np.ndarray, to_sec, p: PerformanceParams,
           rng: np.random.Generator, units: np.ndarray | None = None) -> np.ndarray:
    """Pedalling over `units` (score times, ql; default half bars; see module doc) as merged
    `(K, 2)` intervals in seconds."""
    from pianox.midi import merge_intervals

    if units is None:
        units = np.unique(np.concatenate([bar_starts, (bar_starts[:-1] + bar_starts[1:]) / 2]))
    starts, ends = to_sec(units[:-1]), to_sec(units[1:])
    intervals = []
    for i in range(len(starts)):
        if rng.random() >= p.pedal:
            continue
        held_over = rng.random() >= p.pedal_clean and i + 1 < len(starts)
        up = ends[i + 1] if held_over else ends[i]
        down = starts[i] + p.pedal_lag
        if up > down:
            intervals.append((down, up + (p.pedal_lag * 0.5 if not held_over else 0.0)))
    return merge_intervals(np.asarray(intervals).reshape(-1, 2))
