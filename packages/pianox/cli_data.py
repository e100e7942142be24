"""`pianox data ...`: render synthetic twin corpora and check corpora on disk.

    pianox data synth {maestro,percepiano,egmd} --out DIR [--minutes M] [--soundfont PATH]
                      [--sample-rate SR] [--seed S] [--jobs N] [--performers P] [--quiet]
    pianox data check SOURCE ROOT [--full] [--quiet]

`register(subparsers)` adds the `data` command to the main parser; each subcommand sets
`func(args) -> exit code`. User errors are `PianoxError`s (the CLI prints them without a
traceback); `check` exits 1 when it finds problems.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ConfigError, PluginError

TWINS = ("maestro", "percepiano", "egmd")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `data` with its `synth` and `check` subcommands to an argparse subparsers object."""
    data = subparsers.add_parser(
        "data", help="render synthetic twin corpora, check corpora on disk",
        description="Render synthetic twins of MAESTRO, PercePiano and E-GMD in their real "
                    "formats, or list the problems of a corpus on disk.")
    sub = data.add_subparsers(dest="data_command", metavar="{synth,check}", required=True)

    synth = sub.add_parser(
        "synth", help="render a synthetic twin of a corpus in its real on-disk format",
        description="Render real scores (music21's corpus) or generated drum grooves through a "
                    "SoundFont into a miniature corpus in the real format; the same seed gives "
                    "identical files.")
    synth.add_argument("corpus", choices=TWINS, help="which corpus to imitate")
    synth.add_argument("--out", required=True, type=Path, help="new (or empty) output folder")
    synth.add_argument("--minutes", type=float, default=None,
                       help="about how many minutes of audio (default: 5 for maestro and egmd, "
                            "4 for percepiano)")
    synth.add_argument("--soundfont", default=None,
                       help=".sf2/.sf3 SoundFont (default: pretty_midi's TimGM6mb.sf2)")
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

    check = sub.add_parser(
        "check", help="list missing or corrupt files and label problems of a corpus",
        description="Read a corpus as SOURCE would and list every problem without stopping; "
                    "exits 1 when there are problems.")
    check.add_argument("source", help="source name: maestro, percepiano, egmd (or a twin)")
    check.add_argument("root", type=Path, help="corpus folder")
    check.add_argument("--full", action="store_true",
                       help="decode every audio file completely (default: first and last second)")
    check.add_argument("--quiet", action="store_true", help="print only the summary line")
    check.set_defaults(func=run_check)
    return data


@contextlib.contextmanager
def _progress(quiet: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _summary(root: Path) -> tuple[int, float]:
    import soundfile as sf

    files = [p for p in root.rglob("*.wav")]
    return len(files), sum(sf.info(str(p)).duration for p in files)


def run_synth(args: argparse.Namespace) -> int:
    """`pianox data synth`: render the twin and print where it went."""
    try:
        import pianox_synth
    except ImportError as exc:
        raise PluginError("`pianox data synth` needs the pianox-synth distribution "
                          f"(pip install pianox-synth): {exc}") from exc
    if args.minutes is not None and not args.minutes > 0:
        raise ConfigError(f"--minutes must be positive, got {args.minutes}")
    if args.jobs < 0:
        raise ConfigError(f"--jobs must be >= 0, got {args.jobs}")
    options: dict[str, Any] = {"minutes": args.minutes, "sample_rate": args.sample_rate,
                               "soundfont": args.soundfont, "seed": args.seed, "jobs": args.jobs}
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
    from .audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

    if not MIN_SAMPLE_RATE <= args.sample_rate <= MAX_SAMPLE_RATE:
        raise ConfigError(f"--sample-rate {args.sample_rate} is outside "
                          f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    with _progress(args.quiet, f"rendering the {args.corpus} twin") as advance:
        out = pianox_synth.synthesize(args.corpus, args.out, progress=advance, **options)
    count, seconds = _summary(out)
    if not args.quiet:
        print(f"wrote the {args.corpus} twin to {out}: {count} audio files, "
              f"{seconds / 60:.1f} min at {args.sample_rate} Hz")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """`pianox data check`: print each problem; 0 when clean, 1 otherwise."""
    from .sources.check import check_corpus

    problems = check_corpus(args.source, args.root, full=args.full)
    if not args.quiet:
        for line in problems:
            print(line)
    if problems:
        print(f"{args.root}: {len(problems)} problem(s) reading it as {args.source!r}",
              file=sys.stderr)
        return 1
    print(f"{args.root}: no problems reading it as {args.source!r}")
    return 0
