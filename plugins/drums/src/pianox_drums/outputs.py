"""Transcription files: drum MIDI (GM pitches, channel 10), Clone Hero .chart, hits CSV.

Every file is written atomically (temp file + rename). `write_outputs` checks all its targets
first and refuses, before writing anything, when one exists and `overwrite` is false.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from pianox import atomic
from pianox.errors import ConfigError

from .chart import render_chart
from .classes import DrumClasses
from .tempo import TempoMap

FORMATS = ("midi", "chart", "csv")
SUFFIX = {"midi": ".mid", "chart": ".chart", "csv": ".csv"}
HIT_SECONDS = 0.1
"""Length of a written drum note (GM drums ignore note-offs; a short note keeps files tidy)."""


def hits_to_midi(hits: np.ndarray, classes: DrumClasses, bpm: float = 120.0):
    """A PrettyMIDI with one drum track (channel 10) of hits (N, >= 3) [time s, class, velocity],
    each class at its GM pitch (`classes.pitches`); the file's tempo is `bpm`."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=float(bpm))
    inst = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    rows = np.asarray(hits, np.float64)
    rows = rows.reshape(len(rows), -1) if len(rows) else np.zeros((0, 3))
    for t, cls, vel in rows[:, :3]:
        inst.notes.append(pretty_midi.Note(velocity=int(np.clip(round(vel), 1, 127)),
                                           pitch=classes.pitches[int(cls)], start=float(t),
                                           end=float(t) + HIT_SECONDS))
    pm.instruments.append(inst)
    return pm


def hits_csv(hits: np.ndarray, classes: DrumClasses) -> str:
    """CSV text: time_s, class, class_name, midi_pitch, velocity, confidence (one row per hit)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["time_s", "class", "class_name", "midi_pitch", "velocity", "confidence"])
    for row in np.asarray(hits, np.float64).reshape(-1, 4):
        c = int(row[1])
        writer.writerow([f"{row[0]:.4f}", c, classes.names[c], classes.pitches[c], int(row[2]), f"{row[3]:.4f}"])
    return buf.getvalue()


def output_paths(out_dir: Path, stem: str, formats: Sequence[str]) -> dict[str, Path]:
    """format -> path of the file `write_outputs` writes for it."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return {f: Path(out_dir) / f"{stem}{SUFFIX[f]}" for f in formats}


def write_outputs(hits: np.ndarray, classes: DrumClasses, out_dir: Path, stem: str, formats: Sequence[str],
                  tempo: TempoMap, *, music_stream: str = "", overwrite: bool = False,
                  bpm: float | None = None) -> dict[str, Path]:
    """Write hits (N, 4) [time s, class, velocity, confidence] in `formats` as `out_dir/stem.*`.

    The chart gets `tempo`; the MIDI file's (single) tempo is `bpm`, by default the tempo map's
    last marker (a pickup beat's tempo comes first). Raises ConfigError naming the first
    existing target when `overwrite` is false.
    """
    paths = output_paths(out_dir, stem, formats)
    if not overwrite:
        for path in paths.values():
            if path.exists():
                raise ConfigError(f"{path} exists; pass --overwrite to replace it")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for fmt, path in paths.items():
        if fmt == "midi":
            from pianox.midi import write_midi

            write_midi(path, hits_to_midi(hits, classes, bpm or tempo.millibpm[-1] / 1000.0))
        elif fmt == "chart":
            atomic.write_text(path, render_chart(hits, classes, tempo, name=stem, music_stream=music_stream))
        else:
            atomic.write_text(path, hits_csv(hits, classes))
    return paths
