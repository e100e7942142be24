"""MIDI that lines up with the score: the played notes under a tempo map that follows the beats.

The file's quarter notes are the score's (a beat is one quarter, or a dotted quarter in a
compound metre), with a tempo change at every beat, so a notation program importing it puts
each note where the score has it while it still plays at the played times, with the played
(key-release) lengths and the sustain pedal as CC64. MIDI has no pickup bars: its tick 0 is the
start of the bar that holds the first downbeat's pickup (the pickup padded to a full bar at
the first beat's tempo), so its bars are the score's. Its times are therefore the played times
less the time of that point, `offset` seconds (negative when the padding reaches back past 0 s;
a note played early, before that point, starts at tick 0); the offset is written as a text
marker. Time signature and key signature are meta events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pianox.atomic import atomic_path
from pianox.midi import SUSTAIN_CC, merge_intervals

from .notate import Notation
from .quantize import TPB, beat_position

RESOLUTION = 480
"""MIDI ticks per quarter note."""


def midi_offset(n: Notation) -> float:
    """Seconds of the played timeline at the MIDI file's tick 0 (see module doc)."""
    pad = (n.metre.beats_per_bar - n.metre.downbeat) % n.metre.beats_per_bar
    return float(n.seconds(np.array([-pad * TPB]))[0])


def tempo_midi(n: Notation, pedal: np.ndarray | None = None, resolution: int = RESOLUTION):
    """A type-1 `mido.MidiFile` of `n`'s played notes and `(K, 2)` pedal (see module doc)."""
    import mido

    q = 1.5 if n.metre.compound else 1.0
    pad = (n.metre.beats_per_bar - n.metre.downbeat) % n.metre.beats_per_bar
    offset = midi_offset(n)
    first = np.array([n.beats[0] - pad * (n.beats[1] - n.beats[0])]) if pad else np.zeros(0)
    beats = np.concatenate([first + np.arange(pad) * (n.beats[1] - n.beats[0]), n.beats]) if pad else n.beats
    per_beat = q * resolution

    def ticks(seconds: np.ndarray) -> np.ndarray:  # a note played before the score starts starts it
        return np.maximum(0, np.rint((beat_position(seconds, n.beats) + pad) * per_beat).astype(np.int64))

    meta: list[tuple[int, object]] = [(0, mido.MetaMessage("marker", text=f"pianox offset {offset:.6f} s")),
                                      (0, mido.MetaMessage("time_signature", numerator=3 * n.metre.beats_per_bar
                                                           if n.metre.compound else n.metre.beats_per_bar,
                                                           denominator=8 if n.metre.compound else 4)),
                                      (0, mido.MetaMessage("key_signature", key=_mido_key(n)))]
    intervals = np.diff(beats)
    for k, dt in enumerate(intervals):
        meta.append((int(round(k * per_beat)), mido.MetaMessage("set_tempo", tempo=int(round(dt / q * 1e6)))))
    events: list[tuple[int, int, object]] = []
    notes = n.notes
    on, off = ticks(notes[:, 0]), ticks(notes[:, 1])
    for a, b, p, v in zip(on, np.maximum(off, on + 1), notes[:, 2].astype(int), notes[:, 3]):
        events.append((int(b), 0, mido.Message("note_off", note=int(p), velocity=0)))
        events.append((int(a), 1, mido.Message("note_on", note=int(p), velocity=int(np.clip(round(v), 1, 127)))))
    if pedal is not None:
        for down, up in merge_intervals(pedal):
            a, b = ticks(np.array([down, up]))
            events.append((int(a), 1, mido.Message("control_change", control=SUSTAIN_CC, value=127)))
            events.append((int(b), 0, mido.Message("control_change", control=SUSTAIN_CC, value=0)))
    mf = mido.MidiFile(type=1, ticks_per_beat=resolution)
    mf.tracks.append(_track(sorted(((t, 0, m) for t, m in meta), key=lambda e: e[:2])))
    piano = [(0, 0, mido.Message("program_change", program=0))] + sorted(events, key=lambda e: e[:2])
    mf.tracks.append(_track(piano))
    return mf


def _track(events):
    import mido

    track, now = mido.MidiTrack(), 0
    for t, _, msg in events:
        track.append(msg.copy(time=int(t - now)))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _mido_key(n: Notation) -> str:
    from .key import spell

    major = (7 * n.key.fifths) % 12
    pc = (major - 3) % 12 if n.key.minor else major
    step, alter = spell(pc, n.key.fifths)
    return step + ("#" if alter > 0 else "b" if alter < 0 else "") + ("m" if n.key.minor else "")


def write_tempo_midi(path: str | Path, n: Notation, pedal: np.ndarray | None = None) -> Path:
    """Write `tempo_midi(n, pedal)` to `path` atomically; returns the path."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tempo_midi(n, pedal).save(str(tmp))
    return p
