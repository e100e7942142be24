"""Études: generated piano material that the chorales and quartet reductions lack.

`etude(index)` is a deterministic function of its index: a sequence of sections, each one
texture — scales, arpeggios, block chords (1-10 notes), broken chords, repeated notes, trills
(down to `MIN_IOI` = 60 ms between onsets), octaves, wide leaps, melody with accompaniment,
pedalled chords with long decays — in a seeded key and harmony, register (anywhere on the 88
keys, A0 = 21 .. C8 = 108), dynamics (velocities 10-127, crescendo or diminuendo across the
section), articulation (staccato 0.25 .. legato 1.1 of the inter-onset interval) and pedalling
(none, changed with the harmony, or held through). The notes and pedal it returns are the
labels, exactly: the renderer plays them as they are.

An étude's work identifier is `etude_id(index)` ("etude/00042"); like a music21 work, its
split is `pianox.holdout.work_split` of that identifier, the same in every corpus.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .perform import LEAD_IN, Performance, PerformanceParams, one_key_one_note

LOWEST, HIGHEST = 21, 108
"""A0 and C8, the piano's range (MIDI pitch)."""
MIN_IOI = 0.06
"""Shortest time between two onsets of one voice (seconds): fast trills and repeated notes."""
MIN_VELOCITY, MAX_VELOCITY = 10, 127
MAX_POLYPHONY = 10
"""Most keys held down at once (legato overlaps that would exceed it are shortened)."""
SECONDS = (40.0, 90.0)
"""Range of an étude's length (seconds), drawn per index."""
COMPOSER = "pianox études"
GENRE = "étude (generated)"
MAJOR = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 1, 4), (5, 3, 0, 4), (0, 4, 5, 2, 3, 0, 4, 0))
"""Chord progressions as scale degrees (0 = I, 4 = V, 5 = vi ...)."""

Event = tuple[float, float, int, float]
"""(onset s, inter-onset interval s, MIDI pitch, accent in velocity units) of one note."""


def etude_id(index: int) -> str:
    """The work identifier of étude `index` (its split is `work_split` of this)."""
    return f"etude/{int(index):05d}"


def etude_slug(index: int) -> str:
    return f"Etude{int(index):05d}"


def _rng(index: int, tag: str) -> np.random.Generator:
    from .corpus import item_rng

    return item_rng(0, "etude", int(index), tag)


def etude_seconds(index: int) -> float:
    """About how long étude `index` lasts (seconds; its sections end at or after this)."""
    return float(_rng(index, "length").uniform(*SECONDS))


class _Key:
    """A key (tonic pitch class, major or harmonic minor) and its chords."""

    def __init__(self, rng: np.random.Generator):
        self.tonic = int(rng.integers(12))
        self.scale = MAJOR if rng.random() < 0.6 else HARMONIC_MINOR
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    def scale_classes(self) -> set[int]:
        return {(self.tonic + s) % 12 for s in self.scale}

    def chord_classes(self, degree: int, seventh: bool = False) -> list[int]:
        steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
        return [(self.tonic + self.scale[(degree + s) % 7]) % 12 for s in steps]

    def chord(self, i: int, rng: np.random.Generator) -> list[int]:
        return self.chord_classes(self.progression[i % len(self.progression)], rng.random() < 0.3)


def _pitches(classes, low: int, high: int) -> list[int]:
    """Every pitch in [low, high] ∩ the piano whose pitch class is in `classes`, ascending."""
    low, high = max(LOWEST, low), min(HIGHEST, high)
    return [p for p in range(low, high + 1) if p % 12 in set(classes)]


def _hand(classes, fill, low: int, count: int, span: int = 14) -> list[int]:
    """`count` pitches for one hand from `low` within `span` semitones: chord tones first,
    then scale tones (`fill`) when the chord has too few there, spread across the span."""
    low = int(np.clip(low, LOWEST, HIGHEST - span))
    chord = _pitches(classes, low, low + span)
    extra = [p for p in _pitches(fill, low, low + span) if p not in chord]
    pool = sorted(chord + extra[: max(0, count - len(chord))])
    if count >= len(pool):
        return pool
    idx = np.round(np.linspace(0, len(pool) - 1, count)).astype(int)
    return sorted({pool[i] for i in idx})


# --- textures: events for [t0, t1) around register `centre`, and the harmony change times ----

Texture = Callable[[np.random.Generator, _Key, float, float, int],
                   tuple[list[Event], list[float]]]


def _scale(rng, key, t0, t1, centre):
    """Scale runs up and down, alone or doubled a third, sixth or octave away."""
    ioi = rng.uniform(MIN_IOI, 0.22)
    classes = set(range(12)) if rng.random() < 0.2 else key.scale_classes()
    if rng.random() < 0.15:  # a run across the whole keyboard
        lo, hi = LOWEST, HIGHEST
    else:
        width = int(rng.integers(10, 30))
        lo, hi = centre - width, centre + width
    line = _pitches(classes, lo, hi)
    double = int(rng.choice([0, 0, -12, 12, -3, -4, -8, -9, 24]))
    events, i, step, t = [], int(rng.integers(len(line))), int(rng.choice([-1, 1])), t0
    while t < t1:
        events.append((t, ioi, line[i], 0.0))
        if double:
            events.append((t, ioi, line[i] + double, -4.0))
        if not 0 <= i + step < len(line) or rng.random() < 0.03:
            step = -step
        i = int(np.clip(i + step, 0, len(line) - 1))
        t += ioi
    return events, [t0]


def _arpeggio(rng, key, t0, t1, centre):
    """Broken chords over two to four octaves, up and down, one chord per sweep."""
    ioi = rng.uniform(MIN_IOI, 0.2)
    octaves = int(rng.integers(2, 5))
    lo = int(np.clip(centre - 6 * octaves, LOWEST, HIGHEST - 12 * octaves))
    events, changes, t, c = [], [], t0, 0
    while t < t1:
        line = _pitches(key.chord(c, rng), lo, lo + 12 * octaves)
        sweep = line + line[-2:0:-1] if rng.random() < 0.5 else line
        changes.append(t)
        for k, pitch in enumerate(sweep):
            events.append((t, ioi, pitch, 6.0 if k == 0 else 0.0))
            t += ioi
        c += 1
    return events, changes


def _block_chords(rng, key, t0, t1, centre):
    """Chords of 1 to 10 notes in two hands, a new chord every 0.2-1.5 s."""
    ioi = rng.uniform(0.2, 1.5)
    events, changes, t, c = [], [], t0, 0
    while t < t1:
        size = int(rng.integers(1, 11))
        classes = key.chord(c, rng)
        left = size // 2
        low = int(np.clip(centre - 16, LOWEST, HIGHEST - 30))
        right = _hand(classes, key.scale_classes(), low + int(rng.integers(12, 17)), size - left)
        notes = _hand(classes, key.scale_classes(), low, left) + right if left else right
        changes.append(t)
        for pitch in sorted(set(notes)):
            events.append((t, ioi, pitch, 3.0 if pitch == max(notes) else 0.0))
        t += ioi
        c += 1
    return events, changes


def _broken_chords(rng, key, t0, t1, centre):
    """Alberti-style figures (low, high, middle, high) over each chord."""
    ioi = rng.uniform(0.07, 0.22)
    low = int(np.clip(centre - 7, LOWEST, HIGHEST - 14))
    events, changes, t, c = [], [], t0, 0
    while t < t1:
        chord = _hand(key.chord(c, rng), key.scale_classes(), low, 3)
        figure = [chord[0], chord[-1], chord[len(chord) // 2], chord[-1]]
        changes.append(t)
        for _ in range(int(rng.integers(1, 3))):
            for k, pitch in enumerate(figure):
                events.append((t, ioi, pitch, 4.0 if k == 0 else 0.0))
                t += ioi
        c += 1
    return events, changes


def _repeated(rng, key, t0, t1, centre):
    """One note (or a dyad) struck again and again, 60-200 ms apart."""
    ioi = rng.uniform(MIN_IOI, 0.2)
    pitch = int(np.clip(centre + rng.integers(-6, 7), LOWEST, HIGHEST))
    dyad = pitch - int(rng.choice([3, 4, 7, 12])) if rng.random() < 0.4 else None
    events, t, k = [], t0, 0
    while t < t1:
        accent = 8.0 if k % int(rng.integers(2, 5)) == 0 else 0.0
        events.append((t, ioi, pitch, accent))
        if dyad is not None and dyad >= LOWEST:
            events.append((t, ioi, dyad, accent - 4))
        t += ioi
        k += 1
    return events, [t0]


def _trill(rng, key, t0, t1, centre):
    """Trills on two neighbouring notes (60-120 ms apart) over a held bass, ending on a turn."""
    ioi = rng.uniform(MIN_IOI, 0.12)
    events, changes, t = [], [], t0
    while t < t1:
        upper = int(np.clip(centre + rng.integers(-8, 9), LOWEST + 14, HIGHEST))
        lower = upper - int(rng.choice([1, 2]))
        length = rng.uniform(1.0, 3.5)
        changes.append(t)
        if rng.random() < 0.6:
            events.append((t, length, upper - int(rng.choice([12, 15, 16, 19, 24])), 0.0))
        end, k = t + length, 0
        while t < end:
            events.append((t, ioi, upper if k % 2 else lower, 3.0 if k % 4 == 0 else 0.0))
            t += ioi
            k += 1
        events.append((t, ioi * 4, lower - 1, 5.0))
        t += ioi * 4
    return events, changes


def _octaves(rng, key, t0, t1, centre):
    """A melody in octaves, in one hand or in both (up to 4 notes at once)."""
    ioi = rng.uniform(0.12, 0.5)
    both = rng.random() < 0.5
    line = _pitches(key.scale_classes(), centre - 10, centre + 10)
    events, t, i = [], t0, len(line) // 2
    while t < t1:
        top = line[i]
        for pitch in (top, top - 12) + ((top - 24, top - 36) if both else ()):
            if pitch >= LOWEST:
                events.append((t, ioi, pitch, 0.0))
        i = int(np.clip(i + rng.integers(-2, 3), 0, len(line) - 1))
        t += ioi
    return events, [t0]


def _leaps(rng, key, t0, t1, centre):
    """Wide leaps: stride (bass note, then a chord over an octave higher) or a jumping line."""
    ioi = rng.uniform(0.15, 0.45)
    stride = rng.random() < 0.6
    events, changes, t, c = [], [], t0, 0
    while t < t1:
        classes = key.chord(c, rng)
        changes.append(t)
        if stride:
            bass = _pitches(classes[:1], centre - 30, centre - 14) or [LOWEST]
            events.append((t, ioi, bass[int(rng.integers(len(bass)))], 6.0))
            chord = _hand(classes, key.scale_classes(), centre - 2, int(rng.integers(2, 5)), 12)
            events.extend((t + ioi, ioi, p, 0.0) for p in chord)
            t += 2 * ioi
        else:
            pool = _pitches(classes, LOWEST, HIGHEST)
            pitch = pool[int(rng.integers(len(pool)))]
            for _ in range(4):
                events.append((t, ioi, pitch, 0.0))
                far = [p for p in pool if 13 <= abs(p - pitch) <= 36]
                pitch = far[int(rng.integers(len(far)))] if far else pitch
                t += ioi
        c += 1
    return events, changes


def _melody(rng, key, t0, t1, centre):
    """A right-hand melody over a left-hand accompaniment (broken or block chords per beat)."""
    beat = rng.uniform(0.3, 0.8)
    mel_lo = int(np.clip(centre, LOWEST + 24, HIGHEST - 12))
    line = _pitches(key.scale_classes(), mel_lo, mel_lo + 14)
    block = rng.random() < 0.4
    events, changes, t, c, i = [], [], t0, 0, len(line) // 2
    while t < t1:
        classes = key.chord(c, rng)
        changes.append(t)
        for b in range(2):  # two beats per chord
            start = t + b * beat
            acc = _hand(classes, key.scale_classes(), mel_lo - 19, 3, 12)
            if block:
                events.extend((start, beat, p, -6.0) for p in acc)
            else:
                events.extend((start + k * beat / 4, beat / 4, acc[j], -6.0)
                              for k, j in enumerate((0, 2, 1, 2)))
            parts = [1] if rng.random() < 0.5 else [2, 2] if rng.random() < 0.7 else [4, 4, 4, 4]
            s = start
            for n in parts:
                events.append((s, beat / n, line[i], 14.0))
                i = int(np.clip(i + rng.integers(-2, 3), 0, len(line) - 1))
                s += beat / n
        t += 2 * beat
        c += 1
    return events, changes


def _pedal_chords(rng, key, t0, t1, centre):
    """Rolled chords under the pedal, keys let go early, the last one left to ring."""
    events, changes, t, c = [], [], t0, 0
    while t < t1:
        classes = key.chord(c, rng)
        low = int(np.clip(centre - 24, LOWEST, HIGHEST - 36))
        notes = _pitches(classes, low, low + 36)
        notes = [notes[k] for k in sorted(set(np.round(np.linspace(0, len(notes) - 1,
                                                                   min(len(notes), 8))).astype(int)))]
        changes.append(t)
        roll = rng.uniform(0.0, 0.06)
        for k, pitch in enumerate(notes):
            events.append((t + k * roll, 0.3, pitch, 0.0))
        t += rng.uniform(1.5, 4.0)
        c += 1
    return events, changes


TEXTURES: dict[str, Texture] = {
    "scale": _scale, "arpeggio": _arpeggio, "block_chords": _block_chords,
    "broken_chords": _broken_chords, "repeated": _repeated, "trill": _trill,
    "octaves": _octaves, "leaps": _leaps, "melody_accompaniment": _melody,
    "pedal_chords": _pedal_chords,
}
"""The textures an étude's sections are drawn from, by name."""


def _pedal(rng, mode: str, changes: list[float], t0: float, t1: float) -> list[tuple[float, float]]:
    """Pedal intervals of one section: none, changed at each harmony change (legato pedalling:
    up just after the new harmony sounds, down again 40-120 ms later) or held through."""
    if mode == "none":
        return []
    lag = rng.uniform(0.04, 0.12)
    if mode == "held":
        return [(t0 + lag, t1)]
    points = sorted(set(changes)) + [t1]
    return [(a + lag, b + 0.01) for a, b in zip(points[:-1], points[1:]) if b + 0.01 > a + lag]


def _exact(notes: np.ndarray) -> np.ndarray:
    """Clip to the keyboard, one note per key at a time (`perform.one_key_one_note`), and at
    most `MAX_POLYPHONY` keys down."""
    notes = notes[(notes[:, 2] >= LOWEST) & (notes[:, 2] <= HIGHEST)]
    notes = one_key_one_note(notes, gap=0.005, min_length=0.02)
    for onset in np.unique(notes[:, 0]):  # at most MAX_POLYPHONY keys down: release the oldest
        held = np.flatnonzero((notes[:, 0] < onset) & (notes[:, 1] > onset))
        now = int(np.count_nonzero(notes[:, 0] == onset))
        excess = len(held) + now - MAX_POLYPHONY
        if excess > 0:
            oldest = held[np.argsort(notes[held, 0], kind="stable")[:excess]]
            notes[oldest, 1] = onset
    return notes


def etude(index: int, seconds: float | None = None) -> Performance:
    """Étude `index` (see module doc): notes `(N, 4)` onset s, key release s, pitch, velocity
    and sustain pedal `(K, 2)` in seconds, from `LEAD_IN` s; about `seconds` long (default
    `etude_seconds(index)`). `meta` names the work id and each section's texture."""
    rng = _rng(index, "material")
    seconds = etude_seconds(index) if seconds is None else float(seconds)
    key = _Key(rng)
    names = list(TEXTURES)
    rows, pedal, sections = [], [], []
    t = LEAD_IN
    while t < seconds:
        name = names[int(rng.integers(len(names)))]
        t1 = t + rng.uniform(4.0, 12.0)
        centre = int(rng.integers(LOWEST + 8, HIGHEST - 7))
        events, changes = TEXTURES[name](rng, key, t, t1, centre)
        if not events:
            continue
        v0, v1 = rng.uniform(MIN_VELOCITY + 5, MAX_VELOCITY, size=2)
        articulation = rng.choice([rng.uniform(0.25, 0.5), rng.uniform(0.6, 0.95),
                                   rng.uniform(0.95, 1.1)])
        mode = "held" if name == "pedal_chords" else str(rng.choice(["none", "harmony", "held"],
                                                                     p=[0.4, 0.45, 0.15]))
        jitter = rng.uniform(0.0, 0.008)
        ev = np.array(events, dtype=np.float64)
        end = float(ev[:, 0].max() + ev[:, 1].max())
        u = (ev[:, 0] - t) / max(end - t, 1e-9)
        velocity = v0 + (v1 - v0) * u + ev[:, 3] + rng.normal(0, 3.0, len(ev))
        onset = np.maximum(ev[:, 0] + rng.normal(0, jitter, len(ev)), 0.0)
        offset = onset + np.maximum(ev[:, 1] * articulation, 0.02)
        rows.append(np.stack([onset, offset, ev[:, 2],
                              np.clip(np.round(velocity), MIN_VELOCITY, MAX_VELOCITY)], axis=1))
        tail = rng.uniform(2.0, 5.0) if name == "pedal_chords" else 0.0  # long decay under pedal
        pedal.extend(_pedal(rng, mode, changes, t, end + tail))
        sections.append({"texture": name, "start": round(t, 3), "pedal": mode})
        t = end + tail + rng.uniform(0.1, 0.8)
    from pianox.midi import merge_intervals

    notes = _exact(np.concatenate(rows))
    return Performance(notes=notes, pedal=merge_intervals(np.array(pedal).reshape(-1, 2)),
                       params=PerformanceParams(), bars=(0, 0),
                       meta={"work": etude_id(index), "sections": sections})
