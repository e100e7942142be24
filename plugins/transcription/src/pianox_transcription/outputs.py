"""Transcription files: `<stem>.mid` (pretty_midi), `<stem>.csv` (start_s, end_s, pitch,
velocity) and `<stem>.musicxml` (a score, pianox_transcription.notation).

Checking targets, atomic writes and publishing the files of one input together are
`pianox.inference.outputs`; this module only knows the formats. With `musicxml` among the
formats the MIDI is written from the same notation: it carries the score's tempo map, metre
and key (notation.tempomap), so it lines up with the score."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from pianox.inference.options import parse_formats as _parse_formats
from pianox.inference.outputs import Writer, check_targets, prepare_dir, publish

CSV_HEADER = "start_s,end_s,pitch,velocity"
FORMATS = ("midi", "csv", "musicxml")
SUFFIX = {"midi": ".mid", "csv": ".csv", "musicxml": ".musicxml"}
DEFAULT_FORMATS = ("midi", "csv")


def parse_formats(text: str) -> tuple[str, ...]:
    """Formats of a `--format` value such as "midi,csv,musicxml" (ConfigError if unknown or none)."""
    return _parse_formats(text, FORMATS)


def output_paths(out_dir: str | Path, stem: str, formats: Sequence[str] = DEFAULT_FORMATS) -> dict[str, Path]:
    """format -> path of a transcription named `stem` in `out_dir`."""
    return {f: Path(out_dir) / f"{stem}{SUFFIX[f]}" for f in formats}


def check_free(out_dir: str | Path, stems: list[str], overwrite: bool = False,
               formats: Sequence[str] = DEFAULT_FORMATS) -> None:
    """OutputError naming every output that already exists (unless `overwrite`) and every stem
    used twice, before anything is written."""
    check_targets([(s, output_paths(out_dir, s, formats).values()) for s in stems], overwrite)


def notes_csv(notes: np.ndarray) -> str:
    """CSV text of `(N, 4)` notes: header, then one row per note (seconds to the ms)."""
    buf = io.StringIO()
    buf.write(CSV_HEADER + "\n")
    for on, off, pitch, vel in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        buf.write(f"{on:.3f},{off:.3f},{int(pitch)},{int(round(vel))}\n")
    return buf.getvalue()


def writers(notes: np.ndarray, paths: dict[str, Path], title: str, pedal: np.ndarray | None = None,
            audio: str | Path | None = None) -> dict[Path, Writer]:
    """target -> writer of each format in `paths` for `(N, 4)` notes (onset s, key-release
    offset s, pitch, velocity; optional `(K, 2)` sustain pedal). For musicxml the notes are
    notated (notation.notate) with the beats also heard in `audio` (a file) when given."""
    from pianox.midi import notes_to_midi

    out: dict[Path, Writer] = {}
    notation = None
    if "musicxml" in paths:
        from .notation.musicxml import write_musicxml
        from .notation.notate import notate

        notation = notate(notes, audio)
        out[paths["musicxml"]] = lambda tmp: write_musicxml(tmp, notation, title=title)
    if "midi" in paths:
        if notation is not None:
            from .notation.tempomap import write_tempo_midi

            out[paths["midi"]] = lambda tmp: write_tempo_midi(tmp, notation, pedal)
        else:
            out[paths["midi"]] = lambda tmp: notes_to_midi(notes, pedal).write(str(tmp))
    if "csv" in paths:
        out[paths["csv"]] = lambda tmp: tmp.write_text(notes_csv(notes), encoding="utf-8")
    return out


def write_transcription(notes: np.ndarray, out_dir: str | Path, stem: str, pedal: np.ndarray | None = None,
                        overwrite: bool = False) -> tuple[Path, Path]:
    """Write `(N, 4)` notes (and optional `(K, 2)` sustain pedal) as `<stem>.mid` and `<stem>.csv`
    in `out_dir` (created); returns both paths. OutputError when either exists and not `overwrite`."""
    paths = write_outputs(notes, out_dir, stem, DEFAULT_FORMATS, pedal, overwrite)
    return paths["midi"], paths["csv"]


def write_outputs(notes: np.ndarray, out_dir: str | Path, stem: str, formats: Sequence[str] = DEFAULT_FORMATS,
                  pedal: np.ndarray | None = None, overwrite: bool = False, audio: str | Path | None = None
                  ) -> dict[str, Path]:
    """Write `(N, 4)` notes in `formats` as `<stem>.<suffix>` in `out_dir` (created), all
    published together; returns format -> path. OutputError when one exists and not
    `overwrite` (then nothing is written)."""
    check_free(out_dir, [stem], overwrite, formats)
    prepare_dir(out_dir)
    paths = output_paths(out_dir, stem, formats)
    publish(writers(notes, paths, stem, pedal, audio), overwrite=overwrite)
    return paths
