"""The options every inference command shares, with one name, one help text and one layout.

    inputs and model   INPUT...  --model MODEL
    outputs            -o/--out  [--format]  --overwrite
    running            --device  --batch-size  --jobs  --quiet
    <task> options     what only that task has

`pianox transcribe`, `pianox drums` and `pianox rate` build their parsers with
`add_inference_arguments`; `pianox eval` takes the ones that apply to it (`add_output_file`,
`add_running`). `checked(args)` rejects out-of-range numbers before anything is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError

INPUTS_HELP = ("audio files, folders (searched recursively for .wav, .flac, .ogg, .mp3, ...) or glob "
               "patterns (quoted, e.g. 'live/**/*.flac')")
DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto (default auto: a GPU when there is one, else the CPU)"


def add_inference_arguments(p: argparse.ArgumentParser, *, task: str, out: str = "required",
                            out_help: str = "", formats: tuple[str, tuple[str, ...]] | None = None
                            ) -> argparse._ArgumentGroup:
    """Add the shared groups to `p` for a command of `task`; `out` is "required" or "optional";
    `formats` = (default, choices) adds --format. Returns the "<task> options" group."""
    g = p.add_argument_group("inputs and model")
    g.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)
    g.add_argument("--model", default=None, metavar="MODEL",
                   help=f"a trained {task} run directory, a checkpoint folder inside one, a model folder, or "
                        f"the name of a shipped model (default: the shipped {task!r} model, when installed)")
    o = p.add_argument_group("outputs")
    o.add_argument("-o", "--out", type=Path, metavar="OUTDIR", required=out == "required",
                   help=out_help or "output folder (created; inputs found in a folder keep its sub-folders)")
    if formats is not None:
        default, choices = formats
        o.add_argument("--format", default=default, metavar="FORMATS",
                       help=f"comma-separated outputs among {', '.join(choices)} (default {default})")
    o.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (without it an existing output stops the command before "
                        "any work)")
    add_running(p)
    return p.add_argument_group(f"{task} options")


def add_running(p: argparse.ArgumentParser, jobs: bool = True, quiet: bool = True, *, recorded: bool = False) -> None:
    """The "running" group: --device, --batch-size, and (for commands over many inputs) --jobs,
    --quiet. With `recorded` (evaluation) the defaults are the run's own backend and batch size."""
    r = p.add_argument_group("running")
    r.add_argument("--device", default=None if recorded else "auto", metavar="DEVICE",
                   help=DEVICE_HELP.replace("default auto: a GPU when there is one, else the CPU",
                                            "default: the run's backend") if recorded else DEVICE_HELP)
    r.add_argument("--batch-size", type=int, default=None if recorded else 8, metavar="N",
                   help="windows (or examples) per forward pass (default "
                        + ("the run's [eval] batch_size)" if recorded else "8)"))
    if jobs:
        r.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="inputs processed at the same time, sharing one model (default 1)")
    if quiet:
        r.add_argument("--quiet", action="store_true",
                       help="no progress bar (what was written, failures and the summary are still printed)")


def add_output_file(p: argparse.ArgumentParser, help: str) -> None:
    """The "outputs" group of a command writing one report file: -o/--out FILE, --overwrite, --json."""
    o = p.add_argument_group("outputs")
    o.add_argument("-o", "--out", type=Path, metavar="FILE", help=help)
    o.add_argument("--overwrite", action="store_true", help="replace an existing report file")
    o.add_argument("--json", action="store_true", help="print the report as JSON")


def checked(args: argparse.Namespace) -> Any:
    """`args` after checking the shared numbers (ConfigError naming the option)."""
    for name in ("batch_size", "jobs"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return args


def parse_formats(text: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """Formats of a --format value such as "midi,csv" (ConfigError when one is unknown or none is
    given), in the order given, each once."""
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in choices]
    if unknown or not formats:
        raise ConfigError(f"--format {text!r}: unknown output format(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose one or more of {', '.join(choices)} (comma-separated)")
    return formats
