"""The baseline a score is compared with: what a notation program makes of a transcriber's MIDI.

A transcriber writes MIDI at a fixed 120 beats per minute with no metre or key; a notation
program imports it as it is. Here music21 does the import (`converter.parse` of the MIDI file,
with its default quantisation to sixteenths and eighth-note triplets): one staff, 4/4, the
key signature of C, quarter notes of 0.5 s. Its `Written` score goes through the same
metrics as pianox's (evaluate.metrics).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from pianox.midi import notes_to_midi

from .evaluate import Written, score_rows
from .groundtruth import Excerpt

QPM = 120.0
"""The tempo a transcriber's MIDI file is written at (pianox.midi.notes_to_midi's default)."""


def baseline_written(ex: Excerpt) -> Written:
    """The `Written` score of music21's import of `ex`'s played notes and pedal as 120-bpm MIDI."""
    from music21 import converter

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "take.mid"
        notes_to_midi(ex.notes, ex.pedal, tempo=QPM).write(str(path))
        score = converter.parse(str(path), format="midi")
    rows = score_rows(score)
    flat = score.parts[0].flatten()
    ts = flat.getElementsByClass("TimeSignature")
    ks = flat.getElementsByClass("KeySignature")
    lines = np.array(sorted({float(m.offset) for m in score.parts[0].getElementsByClass("Measure")}))
    return Written(rows=rows, seconds=rows[:, 0] * 60.0 / QPM, time_signature=ts[0].ratioString if ts else "4/4",
                   bar_lines=lines if len(lines) else np.zeros(1), fifths=int(ks[0].sharps) if ks else 0, qpm=QPM)
