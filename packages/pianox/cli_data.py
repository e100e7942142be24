"""`pianox data ...`: corpora on disk.

    pianox data check SOURCE ROOT [--full] [--quiet]

`register(subparsers)` adds the `data` command with its `check` subcommand to the main parser.
Other distributions add `data` subcommands of their own through `data_commands(subparsers)`
from their `pianox.commands` entry point: pianox-synth adds `pianox data synth` this way, so
the core never imports it. Each subcommand sets `func(args) -> exit code`; user errors are
`PianoxError`s (the CLI prints them without a traceback); `check` exits 1 when it finds
problems.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_SUBCOMMANDS = "_pianox_data_subcommands"


def data_commands(subparsers: Any) -> Any:
    """The subparsers of the `data` command, which is added to `subparsers` (the main parser's)
    if it is not there yet: whichever plugin comes first creates it, the others add to it."""
    parser = subparsers.choices.get("data")
    if parser is None:
        parser = subparsers.add_parser(
            "data", help="check corpora on disk (and, with pianox-synth, render synthetic ones)",
            description="Work with corpora on disk: list the problems of one (`check`); "
                        "pianox-synth adds `synth`, which renders synthetic corpora in the real "
                        "formats.")
        setattr(parser, _SUBCOMMANDS,
                parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True))
    return getattr(parser, _SUBCOMMANDS)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `data` with its `check` subcommand to an argparse subparsers object."""
    sub = data_commands(subparsers)
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
    return subparsers.choices["data"]


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
