"""Writing transcriptions: `<stem>.mid` (pretty_midi), `<stem>.csv` (start_s, end_s, pitch,
velocity) and `<stem>.musicxml` (a score, pianox_transcription.notation), all atomically,
never over an existing file unless asked to.

With `musicxml` among the formats the MIDI is written from the same notation: it carries the
score's tempo map, metre and key (notation.tempomap), so it lines up with the score."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from pianox.atomic import write_text
from pianox.errors import ConfigError, RunError
from pianox.midi import notes_to_midi, write_midi

CSV_HEADER = "start_s,end_s,pitch,velocity"
FORMATS = ("midi", "csv", "musicxml")
SUFFIX = {"midi": ".mid", "csv": ".csv", "musicxml": ".musicxml"}
DEFAULT_FORMATS = ("midi", "csv")


def parse_formats(text: str) -> tuple[str, ...]:
    """Formats of a `--format` value such as "midi,csv,musicxml" (ConfigError if unknown or none)."""
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--format {text!r}: choose one or more of {', '.join(FORMATS)} (comma-separated)")
    return formats


def output_paths(out_dir: str | Path, stem: str, formats: Sequence[str] = DEFAULT_FORMATS) -> dict[str, Path]:
    """format -> path of a transcription named `stem` in `out_dir`."""
    return {f: Path(out_dir) / f"{stem}{SUFFIX[f]}" for f in formats}


def check_free(out_dir: str | Path, stems: list[str], overwrite: bool = False,
               formats: Sequence[str] = DEFAULT_FORMATS) -> None:
    """RunError naming every output that already exists (unless `overwrite`) and every stem
    used twice, before anything is written."""
    seen: set[str] = set()
    dupes = sorted({s for s in stems if s in seen or seen.add(s)})
    if dupes:
        raise RunError(f"several inputs would write the same outputs in {out_dir}: {', '.join(dupes)} "
                       f"(rename the audio files or transcribe them into separate folders)")
    if overwrite:
        return
    taken = [str(p) for s in stems for p in output_paths(out_dir, s, formats).values() if p.exists()]
    if taken:
        raise RunError(f"{len(taken)} output file(s) already exist: {', '.join(taken[:4])}"
                       f"{' ...' if len(taken) > 4 else ''}; pass --overwrite to replace them")


def notes_csv(notes: np.ndarray) -> str:
    """CSV text of `(N, 4)` notes: header, then one row per note (seconds to the ms)."""
    buf = io.StringIO()
    buf.write(CSV_HEADER + "\n")
    for on, off, pitch, vel in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        buf.write(f"{on:.3f},{off:.3f},{int(pitch)},{int(round(vel))}\n")
    return buf.getvalue()


def write_transcription(notes: np.ndarray, out_dir: str | Path, stem: str, pedal: np.ndarray | None = None,
                        overwrite: bool = False) -> tuple[Path, Path]:
    """Write `(N, 4)` notes (and optional `(K, 2)` sustain pedal) as `<stem>.mid` and `<stem>.csv`
    in `out_dir` (created); returns both paths. RunError when either exists and not `overwrite`."""
    paths = write_outputs(notes, out_dir, stem, DEFAULT_FORMATS, pedal, overwrite)
    return paths["midi"], paths["csv"]


def write_outputs(notes: np.ndarray, out_dir: str | Path, stem: str, formats: Sequence[str] = DEFAULT_FORMATS,
                  pedal: np.ndarray | None = None, overwrite: bool = False, audio: str | Path | None = None
                  ) -> dict[str, Path]:
    """Write `(N, 4)` notes (onset s, key-release offset s, pitch, velocity; optional `(K, 2)`
    sustain pedal) in `formats` as `<stem>.<suffix>` in `out_dir` (created); returns format ->
    path. RunError when one exists and not `overwrite`. For musicxml the notes are notated
    (notation.notate), with the beats also heard in `audio` (a file) when given."""
    check_free(out_dir, [stem], overwrite, formats)
    paths = output_paths(out_dir, stem, formats)
    notation = None
    if "musicxml" in formats:
        from .notation.musicxml import write_musicxml
        from .notation.notate import notate

        notation = notate(notes, audio)
        write_musicxml(paths["musicxml"], notation)
    if "midi" in formats:
        if notation is not None:
            from .notation.tempomap import write_tempo_midi

            write_tempo_midi(paths["midi"], notation, pedal)
        else:
            write_midi(paths["midi"], notes_to_midi(notes, pedal))
    if "csv" in formats:
        write_text(paths["csv"], notes_csv(notes))
    return paths
