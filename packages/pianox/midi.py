"""MIDI IO: read notes, sustain pedal and drum hits as arrays; write MIDI atomically.

Parsing goes through mido (validation) and pretty_midi (tempo map, note pairing). A file that
cannot be used is a `MidiError` naming it: missing, empty, unparsable, SMPTE or absurd
resolution, absurd tick counts, or a duration over `MAX_SECONDS` (a corrupt delta time, not
music). Times are seconds, pitches MIDI numbers (0-127), velocities MIDI (1-127).

Array layouts used across pianox:
    notes  (N, 4) float64: onset, offset, pitch, velocity — sorted by onset, then pitch
    pedal  (K, 2) float64: sustain-pedal down, up intervals — sorted, non-overlapping
    hits   (N, 3) float64: time, class index, velocity — drum onsets, sorted by time
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from .atomic import atomic_path
from .errors import MidiError

MAX_SECONDS = 24 * 3600.0
"""Longest MIDI file accepted (seconds)."""
MAX_TICKS = 10_000_000
"""Largest tick accepted; pretty_midi allocates per-tick tables, so more is a memory bomb."""
MAX_RESOLUTION = 32_767
"""Largest ticks-per-beat a standard MIDI header can hold."""
SUSTAIN_CC = 64
PEDAL_THRESHOLD = 64
"""CC64 values >= this are 'pedal down' (the MAESTRO / Onsets-and-Frames convention)."""


def load_midi(path: str | os.PathLike):
    """Parse `path` into a `pretty_midi.PrettyMIDI` after sanity checks (see module doc)."""
    import mido
    import pretty_midi

    p = Path(path)
    if not p.is_file():
        raise MidiError(f"MIDI file not found: {p}")
    data = p.read_bytes()
    if not data:
        raise MidiError(f"MIDI file {p} is empty (0 bytes)")
    try:
        mf = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError ...
        detail = str(exc) or ("the file ends early" if isinstance(exc, EOFError) else "")
        raise MidiError(f"cannot parse MIDI file {p}: {type(exc).__name__}: {detail}") from exc
    tpb = mf.ticks_per_beat
    if not isinstance(tpb, int) or not 0 < tpb <= MAX_RESOLUTION:
        raise MidiError(f"MIDI file {p} has an unusable resolution of {tpb} ticks per beat "
                        f"(SMPTE timing or a corrupt header)")
    max_tick = max((sum(m.time for m in t) for t in mf.tracks), default=0)
    if max_tick > MAX_TICKS:
        raise MidiError(f"MIDI file {p} has an absurd length of {max_tick} ticks "
                        f"(> {MAX_TICKS}); it is likely corrupt")
    try:
        seconds = mf.length
    except Exception as exc:
        raise MidiError(f"cannot time MIDI file {p}: {exc}") from exc
    if not np.isfinite(seconds) or seconds > MAX_SECONDS:
        raise MidiError(f"MIDI file {p} lasts {seconds:.0f} s (> {MAX_SECONDS:.0f} s); "
                        f"it is likely corrupt")
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:
        raise MidiError(f"cannot parse MIDI file {p}: {type(exc).__name__}: {exc}") from exc


def instrument_pedal(inst, end: float, controller: int = SUSTAIN_CC,
                     threshold: int = PEDAL_THRESHOLD) -> np.ndarray:
    """Pedal-down intervals `(K, 2)` of one pretty_midi Instrument; a pedal still down at the
    end of the file is closed at `end` seconds."""
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for cc in sorted((c for c in inst.control_changes if c.number == controller),
                     key=lambda c: c.time):
        if cc.value >= threshold and down_at is None:
            down_at = cc.time
        elif cc.value < threshold and down_at is not None:
            if cc.time > down_at:
                intervals.append((down_at, cc.time))
            down_at = None
    if down_at is not None and end > down_at:
        intervals.append((down_at, end))
    return np.asarray(intervals, dtype=np.float64).reshape(-1, 2)


def merge_intervals(intervals: np.ndarray) -> np.ndarray:
    """Union of `(K, 2)` [start, end) intervals, sorted and non-overlapping."""
    iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    if len(iv) == 0:
        return iv
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    out = [iv[0].copy()]
    for a, b in iv[1:]:
        if a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append(np.array([a, b]))
    return np.stack(out)


def apply_sustain(notes: np.ndarray, pedal: np.ndarray) -> np.ndarray:
    """Extend note offsets through sustain-pedal intervals, as MAESTRO / Onsets and Frames do.

    A note whose key is released while the pedal is down (`down <= offset < up`) keeps
    sounding until the pedal is lifted, unless the same pitch is struck again first, which
    ends it at that new onset. `notes` is `(N, 4)` (onset, offset, pitch, velocity) of one
    instrument, `pedal` `(K, 2)` intervals of that instrument; returns a new `(N, 4)` array.
    """
    out = np.array(notes, dtype=np.float64).reshape(-1, 4)
    iv = merge_intervals(pedal)
    if len(out) == 0 or len(iv) == 0:
        return out
    k = np.searchsorted(iv[:, 0], out[:, 1], side="right") - 1
    held = (k >= 0) & (out[:, 1] < iv[np.maximum(k, 0), 1])
    extended = np.where(held, iv[np.maximum(k, 0), 1], out[:, 1])
    for pitch in np.unique(out[held, 2]):
        idx = np.flatnonzero(out[:, 2] == pitch)
        idx = idx[np.argsort(out[idx, 0], kind="stable")]
        onsets = out[idx, 0]
        nxt = np.searchsorted(onsets, onsets, side="right")
        has_next = nxt < len(idx)
        later = np.where(has_next, onsets[np.minimum(nxt, len(idx) - 1)], np.inf)
        extended[idx] = np.maximum(out[idx, 1], np.minimum(extended[idx], later))
    out[:, 1] = extended
    return out


def _sort_notes(notes: np.ndarray) -> np.ndarray:
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))] if len(notes) else notes


def midi_notes(pm, sustain: bool = False, threshold: int = PEDAL_THRESHOLD) -> np.ndarray:
    """All pitched (non-drum) notes of a PrettyMIDI as `(N, 4)`; `sustain` applies CC64."""
    end = pm.get_end_time()
    parts = []
    for inst in pm.instruments:
        if inst.is_drum:
            continue
        arr = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes],
                       dtype=np.float64).reshape(-1, 4)
        if sustain:
            arr = apply_sustain(arr, instrument_pedal(inst, end, SUSTAIN_CC, threshold))
        parts.append(arr)
    return _sort_notes(np.concatenate(parts) if parts else np.zeros((0, 4)))


def midi_pedal(pm, controller: int = SUSTAIN_CC, threshold: int = PEDAL_THRESHOLD) -> np.ndarray:
    """Pedal-down intervals `(K, 2)` of a PrettyMIDI (union over its pitched instruments)."""
    end = pm.get_end_time()
    parts = [instrument_pedal(i, end, controller, threshold)
             for i in pm.instruments if not i.is_drum]
    return merge_intervals(np.concatenate(parts) if parts else np.zeros((0, 2)))


def midi_drum_hits(pm, class_map: Mapping[int, int]) -> np.ndarray:
    """Drum onsets `(N, 3)` (time, class, velocity), pitches mapped through `class_map`.

    Uses the drum instruments (channel 10) when the file has any, else every instrument
    (drum files written without a drum channel). Pitches missing from `class_map` are dropped.
    """
    drums = [i for i in pm.instruments if i.is_drum] or list(pm.instruments)
    rows = [(n.start, class_map[n.pitch], n.velocity)
            for inst in drums for n in inst.notes if n.pitch in class_map]
    hits = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return hits[np.lexsort((hits[:, 1], hits[:, 0]))] if len(hits) else hits


def read_notes(path: str | os.PathLike, sustain: bool = False,
               threshold: int = PEDAL_THRESHOLD) -> np.ndarray:
    """Notes `(N, 4)` (onset s, offset s, pitch, velocity) of the MIDI file `path`.

    With `sustain`, offsets are extended through CC64 pedal intervals (`apply_sustain`).
    """
    return midi_notes(load_midi(path), sustain=sustain, threshold=threshold)


def read_pedal(path: str | os.PathLike, controller: int = SUSTAIN_CC,
               threshold: int = PEDAL_THRESHOLD) -> np.ndarray:
    """Pedal-down intervals `(K, 2)` in seconds of the MIDI file `path` (CC64 by default)."""
    return midi_pedal(load_midi(path), controller=controller, threshold=threshold)


def read_drum_hits(path: str | os.PathLike, class_map: Mapping[int, int]) -> np.ndarray:
    """Drum hits `(N, 3)` (time s, class, velocity) of the MIDI file `path` (see midi_drum_hits)."""
    return midi_drum_hits(load_midi(path), class_map)


def notes_to_midi(notes: np.ndarray, pedal: np.ndarray | None = None, program: int = 0,
                  is_drum: bool = False, resolution: int = 480, tempo: float = 120.0):
    """Build a one-instrument PrettyMIDI from `(N, 4)` notes and optional `(K, 2)` pedal.

    At the defaults (480 ticks per beat, 120 bpm) times are stored to ~1 ms. Pedal intervals
    become CC64 127 / 0 pairs.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    for on, off, pitch, vel in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        inst.notes.append(pretty_midi.Note(velocity=int(np.clip(round(vel), 1, 127)),
                                           pitch=int(pitch), start=float(on),
                                           end=float(max(off, on + 1e-3))))
    if pedal is not None:
        for down, up in merge_intervals(pedal):
            inst.control_changes.append(pretty_midi.ControlChange(SUSTAIN_CC, 127, float(down)))
            inst.control_changes.append(pretty_midi.ControlChange(SUSTAIN_CC, 0, float(up)))
    pm.instruments.append(inst)
    return pm


def write_midi(path: str | os.PathLike, pm) -> Path:
    """Write a PrettyMIDI to `path` atomically (temp file + rename); returns the path."""
    p = Path(path)
    with atomic_path(p) as tmp:
        pm.write(str(tmp))
    return p
