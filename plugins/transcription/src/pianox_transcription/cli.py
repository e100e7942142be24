"""`pianox transcribe INPUT... [--model MODEL] -o OUTDIR`: audio -> .mid + .csv (+ .musicxml).

Registered through the `pianox.commands` entry point `transcribe`. Inputs, model, outputs and
running options are the ones every inference command shares (`pianox.inference.options`,
docs/inference.md); the transcription options choose the head, the seq2seq decoding and the
formats. Every output is checked before the model is loaded: an existing file stops the
command at once (unless --overwrite).
"""

from __future__ import annotations

import argparse
from typing import Any

from pianox.inference.options import add_inference_arguments

from .outputs import DEFAULT_FORMATS, FORMATS, SUFFIX, parse_formats


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `transcribe` command to the pianox CLI's subparsers."""
    p = subparsers.add_parser(
        "transcribe", help="transcribe piano audio to MIDI and CSV with a trained model",
        description="Transcribe piano recordings with a trained transcription model; writes <name>.mid and "
                    "<name>.csv (start_s, end_s, pitch, velocity) per input into OUTDIR.")
    own = add_inference_arguments(p, task="transcription", formats=(",".join(DEFAULT_FORMATS), FORMATS))
    own.add_argument("--head", choices=("frames", "seq2seq"), default=None,
                     help="which head decodes (default: frames if the model has it, else seq2seq)")
    own.add_argument("--strategy", choices=("greedy", "beam", "sample"), default=None,
                     help="seq2seq decoding (default: the model's [task] strategy)")
    own.add_argument("--beam-size", type=int, default=None, metavar="K")
    own.add_argument("--length-penalty", type=float, default=None, metavar="A")
    own.add_argument("--temperature", type=float, default=None, metavar="T")
    own.add_argument("--top-k", type=int, default=None, metavar="K")
    own.add_argument("--top-p", type=float, default=None, metavar="P")
    own.add_argument("--seed", type=int, default=None, help="sampling seed")
    own.add_argument("--beats", choices=("notes", "audio"), default="notes",
                     help="for musicxml: track beats from the notes (default) or the notes and the audio")
    p.set_defaults(func=run_transcribe)
    return p


def run_transcribe(args: argparse.Namespace) -> int:
    from pianox.inference.session import run_command

    formats = parse_formats(args.format)
    return run_command(args, {f: SUFFIX[f] for f in formats}, lambda: _work(args), verb="transcribing")


def _work(args: argparse.Namespace) -> Any:
    """Load the model named by `args` and return the function transcribing one target."""
    from pianox.errors import ConfigError
    from pianox.inference.models import load_model
    from pianox.inference.outputs import publish

    from .inference import Transcriber
    from .outputs import writers

    trained = load_model(args.model, task="transcription", device=args.device)
    options = trained.task.config.decode_options(
        strategy=args.strategy, beam_size=args.beam_size, length_penalty=args.length_penalty,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    try:
        options.validate()
    except ValueError as exc:
        raise ConfigError(f"pianox transcribe: {exc}") from exc
    transcriber = Transcriber(trained, args.head, options, args.batch_size)

    def work(target: Any, progress: Any) -> tuple[Any, str]:
        path = target.input.path
        notes = transcriber.transcribe_file(path, progress)
        written = publish(writers(notes, target.paths, target.input.name.name,
                                  audio=path if args.beats == "audio" else None), overwrite=args.overwrite)
        return notes, f"{path}: {len(notes)} notes -> {', '.join(str(p) for p in written)}"

    return work
