"""`pianox score NOTES.mid... -o OUTDIR`: a score (and a tempo-mapped MIDI) of existing MIDI.

    pianox score NOTES.mid... -o OUTDIR [--format musicxml,midi,csv] [--audio AUDIO]
                 [--overwrite]

Registered through the `pianox.commands` entry point `score`. Each MIDI file's notes (key
releases, not pedal-extended) and sustain pedal are notated (notation.notate) and written as
`OUTDIR/<stem>.musicxml` (and, when asked, `<stem>.mid` with the score's tempo map and
`<stem>.csv`). `--audio` (one MIDI file only) adds the recording's onsets to the beat
tracking. Every output is checked before any work, never overwritten without --overwrite,
and never the input itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pianox.errors import AudioError, MidiError, RunError


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `score` command to the pianox CLI's subparsers."""
    p = subparsers.add_parser(
        "score", help="write sheet music (MusicXML) of piano MIDI files",
        description="Notate MIDI files (beats, metre, key, quantised rhythm, two staves by hand) and write "
                    "<stem>.musicxml per file into OUTDIR; with midi among the formats also a MIDI file whose "
                    "tempo map follows the score.")
    p.add_argument("midi", nargs="+", type=Path, help="MIDI files of piano notes")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUTDIR", help="output folder")
    p.add_argument("--format", default="musicxml", metavar="FORMATS",
                   help="comma-separated outputs among musicxml, midi, csv (default musicxml)")
    p.add_argument("--audio", type=Path, default=None,
                   help="the recording of the (single) MIDI file, to hear the beats in too")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run_score)
    return p


def run_score(args: argparse.Namespace) -> int:
    from pianox.midi import read_notes, read_pedal

    from ..outputs import check_free, output_paths, parse_formats, write_outputs

    formats = parse_formats(args.format)
    missing = [str(m) for m in args.midi if not m.is_file()]
    if missing:
        raise MidiError(f"MIDI file(s) not found: {', '.join(missing)}")
    if args.audio is not None:
        if len(args.midi) != 1:
            raise RunError("--audio goes with exactly one MIDI file")
        if not args.audio.is_file():
            raise AudioError(f"audio file not found: {args.audio}")
    inputs = {m.resolve() for m in args.midi}
    for m in args.midi:
        clash = [str(p) for p in output_paths(args.out, m.stem, formats).values() if p.resolve() in inputs]
        if clash:
            raise RunError(f"output {clash[0]} would replace an input file; write into another folder")
    check_free(args.out, [m.stem for m in args.midi], args.overwrite, formats)
    played = [(m, read_notes(m), read_pedal(m)) for m in args.midi]  # every input read before any output
    empty = [str(m) for m, notes, _ in played if len(notes) == 0]
    if empty:
        raise MidiError(f"MIDI file(s) with no notes to notate: {', '.join(empty)}")
    for m, notes, pedal in played:
        paths = write_outputs(notes, args.out, m.stem, formats, pedal, args.overwrite, audio=args.audio)
        print(f"{m.name}: {len(notes)} notes -> {', '.join(p.name for p in paths.values())}")
    return 0
