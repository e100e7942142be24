"""A `Notation` as a music21 piano score, and its MusicXML file.

Two staves (music21 PartStaffs joined by a brace: one piano part in MusicXML), treble and bass
clef unless a staff's median pitch is on the other side of middle C. Bars follow the metre;
a pickup bar (measure 0) holds the beats before the first downbeat. Each voice of a bar is
filled in time order: chords as written, rests in the gaps (per beat), and a chord crossing a
barline, or crossing a beat without starting on one, split there and tied. The key signature
is the estimated key's; one metronome mark gives the median tempo (the MIDI written alongside
has the full tempo map). Pitches are spelled from the key (`key.spell`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from pianox.atomic import write_bytes

from .key import spell
from .notate import Notation
from .quantize import TPB


def _pitch(midi: int, fifths: int):
    from music21 import pitch

    step, alter = spell(midi % 12, fifths)
    p = pitch.Pitch(step)
    if alter:
        p.accidental = pitch.Accidental(alter)
    base = pitch.Pitch(step).pitchClass + alter
    p.octave = (midi - base) // 12 - 1
    return p


def _pieces(start: int, stop: int, bar_start: int) -> list[tuple[int, int]]:
    """[start, stop) ticks cut at beats unless it runs from one beat to another."""
    if (start - bar_start) % TPB == 0 and (stop - bar_start) % TPB == 0:
        return [(start, stop)]
    cuts = [t for t in range(start - (start - bar_start) % TPB + TPB, stop, TPB)]
    edges = [start] + cuts + [stop]
    return list(zip(edges[:-1], edges[1:]))


def _fill_voice(measure_voice, chords: list[tuple[int, int, list, str | None]], lo: int, hi: int,
                ql: Fraction, rests: bool) -> None:
    """Insert chords (start, stop, pitches, tie) and rests into a music21 Voice covering [lo, hi)."""
    from music21 import chord, note, tie

    def place(obj, a: int, b: int) -> None:
        obj.quarterLength = (b - a) * ql
        measure_voice.insert((a - lo) * ql, obj)

    cursor = lo
    for a, b, pitches, tie_type in sorted(chords, key=lambda c: c[0]):
        if a > cursor and rests:
            for x, y in _pieces(cursor, a, lo):
                place(note.Rest(), x, y)
        pieces = _pieces(a, b, lo)
        for i, (x, y) in enumerate(pieces):
            obj = chord.Chord(pitches) if len(pitches) > 1 else note.Note(pitches[0])
            first, last = i == 0, i == len(pieces) - 1
            starts = not first or tie_type in ("stop", "continue")
            goes_on = not last or tie_type in ("start", "continue")
            if starts or goes_on:
                obj.tie = tie.Tie("continue" if starts and goes_on else ("start" if goes_on else "stop"))
            place(obj, x, y)
        cursor = max(cursor, b)
    if cursor < hi and rests:
        for x, y in _pieces(cursor, hi, lo):
            place(note.Rest(), x, y)


def to_music21(n: Notation, title: str = "pianox transcription"):
    """The music21 Score of `n` (see module doc)."""
    from music21 import clef, key, layout, meter, metadata, stream, tempo

    ql = Fraction(3, 2) if n.metre.compound else Fraction(1)
    lines = n.bar_lines()
    pickup = n.metre.downbeat > 0
    score = stream.Score()
    score.insert(0, metadata.Metadata(title=title, composer="pianox"))
    staves = []
    for s in (0, 1):
        part = stream.PartStaff(id=f"staff{s + 1}")
        mine = np.flatnonzero(n.staff == s)
        median = float(np.median(n.pitch[mine])) if len(mine) else (67.0 if s == 0 else 48.0)
        for m, (lo, hi) in enumerate(zip(lines[:-1], lines[1:])):
            measure = stream.Measure(number=m if pickup else m + 1)
            if m == 0:
                measure.insert(0, clef.TrebleClef() if median >= 60 else clef.BassClef())
                measure.insert(0, key.KeySignature(n.key.fifths))
                measure.insert(0, meter.TimeSignature(n.metre.time_signature))
                if s == 0:
                    unit = 1.5 if n.metre.compound else 1.0
                    measure.insert(0, tempo.MetronomeMark(number=round(n.bpm), referent=unit))
                if pickup:
                    measure.paddingLeft = float((n.metre.beats_per_bar * TPB - (hi - lo)) * ql / TPB)
            voices = sorted(set(n.voice[mine].tolist())) or [1]
            for v in voices:
                sel = mine[(n.voice[mine] == v) & (n.onset[mine] < hi) & (n.end[mine] > lo)]
                chords = []
                for a, b in sorted({(int(n.onset[i]), int(n.end[i])) for i in sel}):
                    idx = sel[(n.onset[sel] == a) & (n.end[sel] == b)]
                    pitches = [_pitch(int(p), n.key.fifths) for p in sorted(n.pitch[idx])]
                    tie_type = ("continue" if a < lo and b > hi else "stop" if a < lo
                                else "start" if b > hi else None)
                    chords.append((max(a, lo), min(b, hi), pitches, tie_type))
                if not chords and v != 1:
                    continue
                voice = stream.Voice(id=str(v))
                _fill_voice(voice, chords, lo, hi, ql / TPB, rests=True)
                measure.insert(0, voice)
            part.append(measure)
        staves.append(part)
        score.insert(0, part)
    score.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    return score


def musicxml_bytes(n: Notation, title: str = "pianox transcription") -> bytes:
    """The MusicXML document of `n`."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(to_music21(n, title)).parse()


def write_musicxml(path: str | Path, n: Notation, title: str | None = None) -> Path:
    """Write `n` as MusicXML to `path` atomically; returns the path."""
    p = Path(path)
    write_bytes(p, musicxml_bytes(n, title or p.stem))
    return p
