"""Drum grooves: style patterns on a step grid, fills, and a humanising drummer.

A pattern is one bar of step strings, one per drum (General MIDI / Roland TD-17 pitches): "x"
always hit, "o" hit with probability 1/2, "g" ghost note (quiet, probability 0.6), "." rest.
A groove repeats its bar with random variation; every `fill_every` bars the last half bar is a
tom/snare fill that lands on a crash. A drummer profile sets timing noise, swing and dynamics.
Times are seconds, velocities MIDI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KICK, SNARE, RIM, XSTICK, CLAP = 36, 38, 40, 37, 39
HH_CLOSED, HH_OPEN, HH_PEDAL = 42, 46, 44
TOM_HI, TOM_MID, TOM_FLOOR = 48, 45, 43
CRASH, RIDE, RIDE_BELL, COWBELL, CLAVE = 49, 51, 53, 56, 75

# (style, time signature) -> (steps per beat, beats per bar, {pitch: steps})
PATTERNS: dict[tuple[str, str], tuple[int, int, dict[int, str]]] = {
    ("rock", "4-4"): (4, 4, {HH_CLOSED: "x.x.x.x.x.x.x.x.", SNARE: "....x.......x...",
                             KICK: "x.......x.o....."}),
    ("rock", "3-4"): (4, 3, {HH_CLOSED: "x.x.x.x.x.x.", SNARE: "....x...x...",
                             KICK: "x.....o....."}),
    ("rock", "6-8"): (2, 6, {HH_CLOSED: "x.x.x.x.x.x.", SNARE: "......x.....",
                             KICK: "x.....o....."}),
    ("funk", "4-4"): (4, 4, {HH_CLOSED: "xxxxxxxxxxxxxxxx", SNARE: "....x..g.g..x..g",
                             KICK: "x..x..x...x..o.."}),
    ("hiphop", "4-4"): (4, 4, {HH_CLOSED: "x.x.x.x.x.x.x.x.", SNARE: "....x.......x...",
                               KICK: "x.....x...x..x.."}),
    ("jazz", "4-4"): (3, 4, {RIDE: "x..x.xx..x.x", HH_PEDAL: "...x.....x..",
                             KICK: "g..g..g..g..", SNARE: "..g..o..g..g"}),
    ("jazz", "3-4"): (3, 3, {RIDE: "x..x.xx..", HH_PEDAL: "...x..x..", SNARE: "..g..g..o"}),
    ("latin", "4-4"): (4, 4, {HH_CLOSED: "x.x.x.x.x.x.x.x.", XSTICK: "x..x..x...x..x..",
                              KICK: "x..xx..xx..xx..x", COWBELL: "o...o...o...o..."}),
    ("shuffle", "4-4"): (3, 4, {HH_CLOSED: "x.xx.xx.xx.x", SNARE: "...x.....x..",
                                KICK: "x.....x.o..."}),
}
STYLES = tuple(sorted({s for s, _ in PATTERNS}))
TEMPO_RANGE = {"rock": (80, 160), "funk": (80, 120), "hiphop": (70, 100), "jazz": (100, 200),
               "latin": (90, 140), "shuffle": (70, 130)}
BASE_VELOCITY = {KICK: 100, SNARE: 96, HH_CLOSED: 78, HH_PEDAL: 60, RIDE: 80, XSTICK: 84,
                 COWBELL: 70}


@dataclass(frozen=True)
class Drummer:
    """How a drummer plays: timing noise (s), swing (fraction of a step), loudness, fills."""

    timing_jitter: float = 0.008
    swing: float = 0.0
    loudness: float = 1.0
    accent: float = 12.0
    fill_every: int = 4


def sample_drummer(rng: np.random.Generator) -> Drummer:
    """A random drummer profile."""
    return Drummer(timing_jitter=rng.uniform(0.003, 0.015), swing=rng.uniform(0.0, 0.25),
                   loudness=rng.uniform(0.8, 1.15), accent=rng.uniform(6, 18),
                   fill_every=int(rng.choice([4, 8])))


def _fill(steps: int, step_seconds: float, t0: float, rng: np.random.Generator) -> list:
    """A descending fill over the last half bar starting at `t0`."""
    n = steps // 2
    drums = [SNARE, TOM_HI, TOM_MID, TOM_FLOOR]
    out = []
    for i in range(n):
        if rng.random() < 0.85:
            pitch = drums[min(len(drums) - 1, i * len(drums) // n)]
            out.append((t0 + i * step_seconds, pitch, 80 + 30 * i / max(1, n - 1)))
    return out


def groove(style: str, time_signature: str, bpm: float, bars: int, drummer: Drummer,
           rng: np.random.Generator, fill_bar: bool = False, start: float = 0.2) -> np.ndarray:
    """Hits `(N, 3)` (time s, MIDI pitch, velocity) of `bars` bars of a style at `bpm`.

    `fill_bar` makes the last bar end with a fill (E-GMD's "fill" sequences). Tempo is beats
    per minute of the time signature's beat (quarter; eighth for 6/8).
    """
    steps_per_beat, beats, pattern = PATTERNS[(style, time_signature)]
    steps = steps_per_beat * beats
    step_seconds = 60.0 / bpm / steps_per_beat
    bar_seconds = steps * step_seconds
    hits: list[tuple[float, int, float]] = []
    for bar in range(bars):
        t_bar = start + bar * bar_seconds
        fill_here = (fill_bar and bar == bars - 1) or (
            drummer.fill_every and bar % drummer.fill_every == drummer.fill_every - 1
            and bar != bars - 1)
        cut = steps // 2 if fill_here else steps
        for pitch, line in pattern.items():
            for i, mark in enumerate(line[:cut]):
                p = {"x": 1.0, "o": 0.5, "g": 0.6}.get(mark, 0.0)
                if p == 0.0 or rng.random() >= p:
                    continue
                vel = BASE_VELOCITY.get(pitch, 80) * drummer.loudness
                if mark == "g":
                    vel *= 0.4
                elif i % steps_per_beat == 0:
                    vel += drummer.accent
                t = t_bar + i * step_seconds
                if i % 2 == 1 and steps_per_beat == 4:
                    t += drummer.swing * step_seconds
                out_pitch = pitch
                if pitch == HH_CLOSED and i == cut - 2 and rng.random() < 0.3:
                    out_pitch = HH_OPEN
                hits.append((t, out_pitch, vel))
        if bar == 0 and rng.random() < 0.5:
            hits.append((t_bar, CRASH, 105 * drummer.loudness))
        if fill_here:
            hits.extend(_fill(steps, step_seconds, t_bar + cut * step_seconds, rng))
            if bar + 1 < bars:
                hits.append((t_bar + bar_seconds, CRASH, 110 * drummer.loudness))
                hits.append((t_bar + bar_seconds, KICK, 105 * drummer.loudness))
    arr = np.array(hits, dtype=np.float64).reshape(-1, 3)
    arr[:, 0] = np.maximum(arr[:, 0] + rng.normal(0, drummer.timing_jitter, len(arr)), 0.0)
    arr[:, 2] = np.clip(np.round(arr[:, 2] + rng.normal(0, 5, len(arr))), 1, 127)
    # a kick and a crash written twice on one beat (fill landing on a pattern hit) play once
    order = np.lexsort((arr[:, 0], arr[:, 1]))
    arr = arr[order]
    dup = np.r_[False, (np.diff(arr[:, 1]) == 0) & (np.diff(arr[:, 0]) < 0.02)]
    arr = arr[~dup]
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def hits_to_midi(hits: np.ndarray, kit_program: int = 0):
    """A PrettyMIDI drum track (channel 10, `kit_program` = GM drum kit) from `(N, 3)` hits."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=int(kit_program), is_drum=True, name="Drums")
    for t, pitch, vel in hits:
        inst.notes.append(pretty_midi.Note(velocity=int(vel), pitch=int(pitch), start=float(t),
                                           end=float(t) + 0.1))
    pm.instruments.append(inst)
    return pm
