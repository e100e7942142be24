"""`pianox data synth`: render a synthetic corpus in a real corpus's on-disk format.

    pianox data synth {maestro,percepiano,egmd} --out DIR [--minutes M] [--soundfont PATH]
                      [--sample-rate SR] [--seed S] [--jobs N] [--performers P] [--program N]
    pianox data synth piano --out DIR [--hours H | --minutes M] [--soundfont A --soundfont B ...]
                      [--etude-share F] [--no-acoustics] [--splits S,S] [--sample-rate SR]
                      [--seed S] [--jobs N] [--quiet]
    pianox data synth piano --reserved --out DIR [--soundfont fluidr3|PATH] [--no-acoustics]
                      [--sample-rate SR] [--seed S] [--jobs N] [--quiet]

`--reserved` renders the reserved evaluation material (pianox.holdout) and nothing else, every
piece in split test, into a corpus stamped evaluation-only that no training reads
(`pianox_synth.reserved_corpus`).

Registered through the `pianox.commands` entry point `data-synth = "pianox_synth.cli:register"`:
it adds `synth` to the core's `pianox data` command (`pianox.cli_data.data_commands`), so the
core never imports this package.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

from pianox.errors import ConfigError

from . import TWINS

PIANO_ONLY = ("hours", "etude_share", "no_acoustics", "splits", "reserved")
NOT_WITH_RESERVED = ("hours", "minutes", "etude_share", "splits")
"""Options of the training corpus that an evaluation-only render (every reserved work whole,
all in split test) has no use for."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `synth` to the `data` command of the main parser's `subparsers`."""
    from pianox.cli_data import data_commands

    synth = data_commands(subparsers).add_parser(
        "synth", help="render a synthetic corpus in a real corpus's on-disk format",
        description="Render real scores (music21's corpus), generated études or drum grooves "
                    "through SoundFonts into a corpus in MAESTRO's, PercePiano's or E-GMD's "
                    "format; the same seed gives identical files whatever --jobs is. `piano` "
                    "is the training corpus: works and études on several SoundFonts and rooms, "
                    "in MAESTRO's layout with FLAC audio; `piano --reserved` is the "
                    "evaluation-only render of the reserved works and SoundFonts.")
    synth.add_argument("corpus", choices=TWINS,
                       help="maestro / percepiano / egmd: a twin of that corpus; piano: the "
                            "piano training corpus (MAESTRO layout)")
    synth.add_argument("--out", required=True, type=Path, help="new (or empty) output folder")
    synth.add_argument("--minutes", type=float, default=None,
                       help="about how many minutes of audio (default: 5 for maestro and egmd, "
                            "4 for percepiano)")
    synth.add_argument("--hours", type=float, default=None,
                       help="piano only: hours of music (default 1)")
    synth.add_argument("--soundfont", action="append", default=None, metavar="PATH",
                       help=".sf2/.sf3 file, or timgm6mb / musescore / csound / fluidr3 "
                            "(default: pretty_midi's TimGM6mb.sf2; with --reserved, fluidr3); "
                            "piano takes it several times")
    synth.add_argument("--etude-share", type=float, default=None,
                       help="piano only: share of the hours given to generated études "
                            "(default 0.25)")
    synth.add_argument("--no-acoustics", action="store_true",
                       help="piano only: no room, colour, noise or detuning (dry SoundFont)")
    synth.add_argument("--splits", default=None,
                       help="piano only: render only these splits' works, e.g. test or "
                            "validation,test (default: all)")
    synth.add_argument("--reserved", action="store_true",
                       help="piano only: an evaluation-only render of the reserved material "
                            "(pianox.holdout: the reserved music21 works, every movement, "
                            "whole; FluidR3 allowed) and nothing else, every piece in split "
                            "test; its stamp says evaluation_only and training refuses it")
    synth.add_argument("--max-seconds", type=float, default=None, help=argparse.SUPPRESS)
    # --max-seconds: with --reserved, each piece cut to its first bars (tests only)
    synth.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--jobs", type=int, default=0,
                       help="render processes (default 0: automatic)")
    synth.add_argument("--performers", type=int, default=0,
                       help="percepiano only: synthetic performers (default: 4 below 10 "
                            "minutes, else 10)")
    synth.add_argument("--program", type=int, default=0,
                       help="maestro only: General MIDI program the pieces are played on "
                            "(default 0, Acoustic Grand; e.g. 2 for Electric Grand)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=run_synth)
    return synth


@contextlib.contextmanager
def _progress(quiet: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=False) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _summary(root: Path) -> tuple[int, float]:
    import soundfile as sf

    files = [p for p in root.rglob("*") if p.suffix in (".wav", ".flac")]
    return len(files), sum(sf.info(str(p)).duration for p in files)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword options of `pianox_synth.synthesize`, checked (ConfigError names the flag)."""
    from pianox.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

    if args.minutes is not None and not args.minutes > 0:
        raise ConfigError(f"--minutes must be positive, got {args.minutes}")
    if args.jobs < 0:
        raise ConfigError(f"--jobs must be >= 0, got {args.jobs}")
    if not MIN_SAMPLE_RATE <= args.sample_rate <= MAX_SAMPLE_RATE:
        raise ConfigError(f"--sample-rate {args.sample_rate} is outside "
                          f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    options: dict[str, Any] = {"sample_rate": args.sample_rate, "seed": args.seed,
                               "jobs": args.jobs}
    soundfonts = args.soundfont or []
    if args.max_seconds is not None and not args.reserved:
        raise ConfigError("--max-seconds only applies to --reserved")
    if args.reserved and args.corpus == "piano":
        given = [f"--{k.replace('_', '-')}" for k in NOT_WITH_RESERVED if getattr(args, k) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} cannot be combined with --reserved: an "
                              f"evaluation-only render plays every reserved work whole, all in "
                              f"split test, and nothing else")
        if len(soundfonts) > 1:
            raise ConfigError("--reserved renders on one --soundfont (default fluidr3); render "
                              "one corpus per SoundFont")
        options.update(reserved=True, soundfont=soundfonts[0] if soundfonts else None,
                       acoustics=not args.no_acoustics, max_seconds=args.max_seconds)
    elif args.corpus == "piano":
        if args.hours is not None and args.minutes is not None:
            raise ConfigError("give --hours or --minutes, not both")
        if args.hours is not None and not args.hours > 0:
            raise ConfigError(f"--hours must be positive, got {args.hours}")
        options.update(hours=args.hours, minutes=args.minutes, soundfonts=soundfonts,
                       acoustics=not args.no_acoustics)
        if args.etude_share is not None:
            if not 0.0 <= args.etude_share <= 1.0:
                raise ConfigError(f"--etude-share must be in 0..1, got {args.etude_share}")
            options["etude_share"] = args.etude_share
        if args.splits:
            options["splits"] = [s.strip() for s in args.splits.split(",") if s.strip()]
    else:
        given = [f"--{k.replace('_', '-')}" for k in PIANO_ONLY if getattr(args, k) not in (None, False)]
        if given:
            raise ConfigError(f"{', '.join(given)} only applies to the piano corpus")
        if len(soundfonts) > 1:
            raise ConfigError(f"the {args.corpus} twin plays one --soundfont; only the piano "
                              f"corpus takes several")
        options.update(minutes=args.minutes, soundfont=soundfonts[0] if soundfonts else None)
    if args.corpus == "percepiano":
        options["performers"] = args.performers
    elif args.performers:
        raise ConfigError("--performers only applies to the percepiano twin")
    if args.corpus == "maestro":
        if not 0 <= args.program <= 127:
            raise ConfigError(f"--program {args.program} is not a General MIDI program (0..127)")
        options["program"] = args.program
    elif args.program:
        raise ConfigError("--program only applies to the maestro twin")
    return options


def run_synth(args: argparse.Namespace) -> int:
    """`pianox data synth`: render the corpus and print where it went."""
    from . import synthesize
    from .corpus import check_output
    from .render import resolve_soundfont

    options = _options(args)
    check_output(args.out)  # every user error before the progress bar starts
    if options.get("reserved"):
        from .reserved_corpus import DEFAULT_SOUNDFONT

        resolve_soundfont(options["soundfont"] or DEFAULT_SOUNDFONT, reserved_ok=True)
        what = "evaluation-only corpus of reserved material"
    else:
        for soundfont in options.get("soundfonts") or [options.get("soundfont")]:
            resolve_soundfont(soundfont)
        what = "piano corpus" if args.corpus == "piano" else f"{args.corpus} twin"
    with _progress(args.quiet, f"rendering the {what}") as advance:
        out = synthesize(args.corpus, args.out, progress=advance, **options)
    count, seconds = _summary(out)
    if not args.quiet:
        print(f"wrote the {what} to {out}: {count} audio files, "
              f"{seconds / 60:.1f} min at {args.sample_rate} Hz")
    return 0
