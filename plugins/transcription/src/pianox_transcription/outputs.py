"""Writing transcriptions: `<stem>.mid` (pretty_midi) and `<stem>.csv` (start_s, end_s, pitch,
velocity), both atomically, never over an existing file unless asked to."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pianox.atomic import write_text
from pianox.errors import RunError
from pianox.midi import notes_to_midi, write_midi

CSV_HEADER = "start_s,end_s,pitch,velocity"


def output_paths(out_dir: str | Path, stem: str) -> tuple[Path, Path]:
    """(MIDI path, CSV path) of a transcription named `stem` in `out_dir`."""
    out = Path(out_dir)
    return out / f"{stem}.mid", out / f"{stem}.csv"


def check_free(out_dir: str | Path, stems: list[str], overwrite: bool = False) -> None:
    """RunError naming every output that already exists (unless `overwrite`) and every stem
    used twice, before anything is written."""
    seen: set[str] = set()
    dupes = sorted({s for s in stems if s in seen or seen.add(s)})
    if dupes:
        raise RunError(f"several inputs would write the same outputs in {out_dir}: {', '.join(dupes)} "
                       f"(rename the audio files or transcribe them into separate folders)")
    if overwrite:
        return
    taken = [str(p) for s in stems for p in output_paths(out_dir, s) if p.exists()]
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
    check_free(out_dir, [stem], overwrite)
    midi_path, csv_path = output_paths(out_dir, stem)
    write_midi(midi_path, notes_to_midi(notes, pedal))
    write_text(csv_path, notes_csv(notes))
    return midi_path, csv_path
