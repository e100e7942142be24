"""Transcription files: drum MIDI (GM pitches, channel 10), Clone Hero .chart, hits CSV.

Checking targets, atomic writes and publishing one input's files together (a .chart with its
.mid, or neither) are `pianox.inference.outputs`; this module only knows the formats.
`write_outputs` checks all its targets first and refuses, before writing anything, when one
exists and `overwrite` is false (OutputError naming it).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from pianox.inference.options import parse_formats
from pianox.inference.outputs import Writer, check_targets, prepare_dir, publish

from .chart import render_chart
from .classes import DrumClasses
from .tempo import TempoMap

FORMATS = ("midi", "chart", "csv")
SUFFIX = {"midi": ".mid", "chart": ".chart", "csv": ".csv"}
HIT_SECONDS = 0.1
"""Length of a written drum note (GM drums ignore note-offs; a short note keeps files tidy)."""


def _vlq(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes (sum L,), lengths L (N,)) of MIDI variable-length quantities of (N,) ints < 2**28."""
    v = np.asarray(values, np.int64)
    length = 1 + (v >= 1 << 7) + (v >= 1 << 14) + (v >= 1 << 21)
    ends = np.cumsum(length)
    out = np.zeros(int(ends[-1]) if len(v) else 0, np.uint8)
    for k in range(4):  # byte k from the end of each quantity
        has = length > k
        byte = (v[has] >> (7 * k)) & 0x7F
        out[ends[has] - 1 - k] = byte | (0x80 if k else 0)
    return out, length


def midi_bytes(hits: np.ndarray, classes: DrumClasses, bpm: float = 120.0, resolution: int = 480) -> bytes:
    """The standard MIDI file of hits (N, >= 3) [time s, class, velocity] (type 1: a tempo track
    and one drum track on channel 10, each class at its GM pitch, notes `HIT_SECONDS` long, the
    file's tempo `bpm`), encoded with numpy: an hour of dense hits costs tens of MB, not the GBs of
    one Python object per event."""
    rows = np.asarray(hits, np.float64)
    rows = rows.reshape(len(rows), -1)[:, :3] if len(rows) else np.zeros((0, 3))
    ticks_per_s = resolution * float(bpm) / 60.0
    on = np.rint(rows[:, 0] * ticks_per_s).astype(np.int64)
    off = np.rint((rows[:, 0] + HIT_SECONDS) * ticks_per_s).astype(np.int64)
    pitch = np.asarray(classes.pitches, np.int64)[rows[:, 1].astype(np.int64)] if len(rows) else np.zeros(0, np.int64)
    vel = np.clip(np.rint(rows[:, 2]), 1, 127).astype(np.int64)
    tick = np.concatenate([on, off])
    is_on = np.concatenate([np.ones(len(on), np.int64), np.zeros(len(off), np.int64)])
    notes = np.concatenate([pitch, pitch])
    velocity = np.concatenate([vel, np.zeros(len(off), np.int64)])
    order = np.lexsort((is_on, notes, tick))  # as pretty_midi: by tick, pitch, a release before a strike
    tick, notes, velocity = tick[order], notes[order], velocity[order]
    delta = np.diff(tick, prepend=0)
    vlq, lengths = _vlq(delta)
    events = np.zeros(len(vlq) + 3 * len(delta), np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths + 3)[:-1]]).astype(np.int64) if len(delta) else np.zeros(0, np.int64)
    src = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(delta) else np.zeros(0, np.int64)
    for k in range(4):
        has = lengths > k
        events[starts[has] + k] = vlq[src[has] + k]
    events[starts + lengths] = 0x99  # note on, channel 10
    events[starts + lengths + 1] = notes
    events[starts + lengths + 2] = velocity
    tempo = int(round(60_000_000 / float(bpm)))
    head = b"\x00\xff\x03\x05Drums\x00\xc9\x00"  # track name, program 0 on channel 10
    drums = head + events.tobytes() + b"\x01\xff\x2f\x00"
    meta = (b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xff\x58\x04\x04\x02\x18\x08"
            + b"\x01\xff\x2f\x00")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + len(data).to_bytes(4, "big") + data

    return (chunk(b"MThd", (1).to_bytes(2, "big") + (2).to_bytes(2, "big") + resolution.to_bytes(2, "big"))
            + chunk(b"MTrk", meta) + chunk(b"MTrk", drums))


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
    """format -> path of the file `write_outputs` writes for it (ConfigError for an unknown format)."""
    parse_formats(",".join(formats), FORMATS)
    return {f: Path(out_dir) / f"{stem}{SUFFIX[f]}" for f in formats}


def writers(hits: np.ndarray, classes: DrumClasses, paths: dict[str, Path], tempo: TempoMap, *, name: str,
            music_stream: str = "", bpm: float | None = None) -> dict[Path, Writer]:
    """target -> writer of each format in `paths` for hits (N, 4) [time s, class, velocity,
    confidence]. The chart gets `tempo`; the MIDI file's (single) tempo is `bpm`, by default the
    tempo map's last marker (a pickup beat's tempo comes first)."""
    def midi(tmp: Path) -> None:
        tmp.write_bytes(midi_bytes(hits, classes, bpm or tempo.millibpm[-1] / 1000.0))

    def chart(tmp: Path) -> None:
        tmp.write_text(render_chart(hits, classes, tempo, name=name, music_stream=music_stream), encoding="utf-8")

    def table(tmp: Path) -> None:
        tmp.write_text(hits_csv(hits, classes), encoding="utf-8")

    # each file is rendered only when it is written, so one file's text is in memory at a time
    make = {"midi": midi, "chart": chart, "csv": table}
    return {path: make[fmt] for fmt, path in paths.items()}


def write_outputs(hits: np.ndarray, classes: DrumClasses, out_dir: Path, stem: str, formats: Sequence[str],
                  tempo: TempoMap, *, music_stream: str = "", overwrite: bool = False,
                  bpm: float | None = None) -> dict[str, Path]:
    """Write hits (N, 4) [time s, class, velocity, confidence] in `formats` as `out_dir/stem.*`,
    published together (see `writers`). Raises OutputError naming the existing targets when
    `overwrite` is false (then nothing is written)."""
    paths = output_paths(out_dir, stem, formats)
    check_targets([(stem, paths.values())], overwrite)
    prepare_dir(out_dir)
    publish(writers(hits, classes, paths, tempo, name=stem, music_stream=music_stream, bpm=bpm), overwrite=overwrite)
    return paths
