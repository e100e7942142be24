"""`pianox transcribe AUDIO... --model RUN_OR_DIR -o OUTDIR`: audio files -> .mid + .csv (+ .musicxml).

    pianox transcribe AUDIO... --model RUN_OR_DIR -o OUTDIR [--head frames|seq2seq]
                      [--strategy greedy|beam|sample] [--beam-size K] [--temperature T]
                      [--top-k K] [--top-p P] [--seed S] [--device cpu|cuda] [--overwrite] [--quiet]
                      [--format midi,csv,musicxml] [--beats notes|audio]

Registered through the `pianox.commands` entry point `transcribe`. Every output path is
checked before anything is transcribed, so an existing file stops the command at once
(unless --overwrite).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pianox.errors import AudioError


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `transcribe` command to the pianox CLI's subparsers."""
    p = subparsers.add_parser(
        "transcribe", help="transcribe piano audio to MIDI and CSV with a trained run",
        description="Transcribe audio files with a trained transcription run; writes <stem>.mid and "
                    "<stem>.csv (start_s, end_s, pitch, velocity) per file into OUTDIR.")
    p.add_argument("audio", nargs="+", type=Path, help="audio files (wav, flac, ogg, ...)")
    p.add_argument("--model", required=True, type=Path, metavar="RUN_OR_DIR",
                   help="a transcription run directory or a checkpoint folder in one")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUTDIR", help="output folder")
    p.add_argument("--head", choices=("frames", "seq2seq"), default=None,
                   help="which head decodes (default: frames if the run has it, else seq2seq)")
    p.add_argument("--strategy", choices=("greedy", "beam", "sample"), default=None,
                   help="seq2seq decoding (default: the run's [task] strategy)")
    p.add_argument("--beam-size", type=int, default=None)
    p.add_argument("--length-penalty", type=float, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=None, help="sampling seed")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--format", default="midi,csv", metavar="FORMATS",
                   help="comma-separated outputs among midi, csv, musicxml (default midi,csv); with "
                        "musicxml the MIDI carries the score's tempo map")
    p.add_argument("--beats", choices=("notes", "audio"), default="notes",
                   help="for musicxml: track beats from the notes (default) or the notes and the audio")
    p.set_defaults(func=run_transcribe)
    return p


def run_transcribe(args: argparse.Namespace) -> int:
    from .inference import Transcriber, load_trained
    from .outputs import check_free, parse_formats, write_outputs

    missing = [str(a) for a in args.audio if not a.is_file()]
    if missing:
        raise AudioError(f"audio file(s) not found: {', '.join(missing)}")
    formats = parse_formats(args.format)
    check_free(args.out, [a.stem for a in args.audio], args.overwrite, formats)
    trained = load_trained(args.model, args.device)
    options = trained.task.config.decode_options(
        strategy=args.strategy, beam_size=args.beam_size, length_penalty=args.length_penalty,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    try:
        options.validate()
    except ValueError as exc:
        from pianox.errors import ConfigError

        raise ConfigError(f"pianox transcribe: {exc}") from exc
    transcriber = Transcriber(trained, args.head, options)
    with _Bar(args.quiet, len(args.audio)) as bar:
        for path in args.audio:
            bar.start(path.name)
            notes = transcriber.transcribe_file(path, bar.advance)
            paths = write_outputs(notes, args.out, path.stem, formats, overwrite=args.overwrite,
                                  audio=path if args.beats == "audio" else None)
            bar.done(f"{path.name}: {len(notes)} notes -> {', '.join(p.name for p in paths.values())}")
    return 0


class _Bar:
    """A rich progress bar over files and their segments (silent with `quiet`)."""

    def __init__(self, quiet: bool, files: int):
        self.quiet, self.files = quiet, files
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> "_Bar":
        if not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True))
            self.progress.__enter__()
        return self

    def start(self, name: str) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task(f"transcribing {name}", total=None)

    def advance(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total)

    def done(self, message: str) -> None:
        if self.progress is not None:
            self.progress.console.print(message)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
