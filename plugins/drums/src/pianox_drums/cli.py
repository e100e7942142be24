"""`pianox drums`, `pianox drums-export`, `pianox drums-eval`: transcription, ONNX export, scoring.

    pianox drums INPUT... [--model MODEL | --onnx MODEL.onnx] -o OUTDIR
                 [--format midi,chart,csv] [--bpm BPM | --tempo hits|librosa] [--overwrite]
                 [--device D] [--batch-size N] [--jobs N] [--quiet] [--threads N]
    pianox drums-export MODEL -o MODEL.onnx [--quantize]
    pianox drums-eval MODEL [--split test] [--set source.KEY=VALUE ...] [--onnx MODEL.onnx]
                      [--baseline] [--bootstrap N] [--max-examples N] [-o REPORT.json]

Registered through the `pianox.commands` entry point `drums = "pianox_drums.cli:register"`.
`pianox drums` shares its inputs, model, outputs and running options with every inference
command (`pianox.inference.options`, docs/inference.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from pianox.errors import ConfigError
from pianox.inference.options import add_inference_arguments, add_running

from .outputs import FORMATS, SUFFIX


def register(subparsers: Any) -> None:
    """Add the drums commands to the `pianox` parser."""
    p = subparsers.add_parser(
        "drums", help="transcribe drum audio to MIDI, Clone Hero charts and CSV",
        description="Transcribe drum recordings with a trained drums model (or an exported ONNX model): "
                    "per-class hits with velocities, written as GM drum MIDI (channel 10), a Clone Hero "
                    ".chart and a hits CSV named after each input.")
    own = add_inference_arguments(p, task="drums", formats=(",".join(FORMATS), FORMATS))
    own.add_argument("--onnx", type=Path, metavar="MODEL.onnx",
                     help="an exported model (pianox drums-export); replaces --model")
    own.add_argument("--bpm", type=float, default=None, help="known tempo for the chart / MIDI tempo map")
    own.add_argument("--tempo", choices=("hits", "librosa"), default="hits",
                     help="beat estimate when --bpm is not given: from the hits (default) or librosa.beat "
                          "(reads the whole file into memory)")
    own.add_argument("--threads", type=int, default=0, metavar="N",
                     help="ONNX Runtime / torch threads (0: default)")
    p.set_defaults(func=run_transcribe)

    e = subparsers.add_parser(
        "drums-export", help="export a drums model to ONNX (optionally int8-quantised)",
        description="Export encoder + head of a drums run to ONNX with a dynamic time axis, check it "
                    "against torch, and with --quantize also write <stem>.int8.onnx.")
    e.add_argument("model", help="trained drums run directory or checkpoint folder")
    e.add_argument("-o", "--out", required=True, type=Path, help="output .onnx file")
    e.add_argument("--quantize", action="store_true", help="also write a dynamic int8 model")
    e.add_argument("--overwrite", action="store_true", help="replace existing files")
    e.set_defaults(func=run_export)

    v = subparsers.add_parser(
        "drums-eval", help="score a drums model (and the band-onset baseline) on a split",
        description="Transcribe every example of a split of the run's source (changed with --set "
                    "source.KEY=VALUE, e.g. to a held-out kit) and report onset F1 per class with "
                    "bootstrap CIs, using the thresholds tuned at the end of training.")
    v.add_argument("model", help="trained drums run directory or checkpoint folder")
    v.add_argument("--split", default="test", choices=("train", "validation", "test"))
    v.add_argument("--set", action="append", default=[], metavar="source.KEY=VALUE",
                   help="override a [source] value (repeatable)")
    v.add_argument("--onnx", type=Path, help="score this exported model instead of the torch weights")
    v.add_argument("--baseline", action="store_true", help="also score the librosa band-onset baseline")
    v.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    v.add_argument("--max-examples", type=int, default=0,
                   help="score a seeded random sample of N examples (0: the whole split, default)")
    v.add_argument("--seed", type=int, default=0, help="seed of the --max-examples sample (default 0)")
    v.add_argument("-o", "--out", type=Path, help="write the report JSON (and plots beside it)")
    v.add_argument("--overwrite", action="store_true", help="replace an existing report")
    add_running(v, jobs=False, quiet=False)
    v.set_defaults(func=run_eval)


def _transcriber(model: str | None, onnx: Path | None, threads: int = 0, device: str | None = "cpu",
                 batch_size: int = 8) -> Any:
    from .inference import Transcriber, build_features, load_trained, torch_predictor

    if onnx is not None:
        from .onnx_export import load_onnx, onnx_predictor

        session, decoding = load_onnx(onnx, threads)
        return Transcriber(build_features(decoding.features, str(onnx)), onnx_predictor(session), decoding,
                           batch_size)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    trained = load_trained(model, device)
    if not trained.tuned:
        print(f"pianox drums: note: {trained.checkpoint} has no tuned thresholds; using "
              f"{trained.task.config.threshold} for every class")
    return Transcriber(trained.features, torch_predictor(trained.network()), trained.decoding, batch_size)


def run_transcribe(args: argparse.Namespace) -> int:
    """`pianox drums`: transcribe each input and publish its outputs together."""
    from pianox.inference.options import parse_formats
    from pianox.inference.session import run_command

    formats = parse_formats(args.format, FORMATS)
    if args.bpm is not None and not 20.0 <= args.bpm <= 400.0:
        raise ConfigError(f"--bpm {args.bpm} is outside 20..400")
    if args.onnx is not None and args.model is not None:
        raise ConfigError("give --model MODEL or --onnx MODEL.onnx, not both")
    return run_command(args, {f: SUFFIX[f] for f in formats}, lambda: _work(args), verb="transcribing")


def _work(args: argparse.Namespace) -> Any:
    """Load the model named by `args` and return the function transcribing one target."""
    from pianox.inference.outputs import publish

    from .outputs import writers
    from .tempo import TempoMap, estimate_tempo, grid_beats, librosa_beats

    transcriber = _transcriber(args.model, args.onnx, args.threads, args.device, args.batch_size)
    names = transcriber.decoding.classes.names
    rate = transcriber.features.sample_rate

    def work(target: Any, progress: Any) -> tuple[Any, str]:
        audio = target.input.path
        probs, velocity = transcriber.posteriors(audio, progress=progress)
        hits = transcriber.hits(probs, velocity)
        end = max(len(probs), 1) / transcriber.decoding.frame_rate  # the recording's length, to a frame (> 0)
        beats = np.zeros(0)
        if args.tempo == "librosa" and args.bpm is None:
            from pianox.audio import read_audio

            beats = librosa_beats(read_audio(audio, rate)[0], rate)
        if (beats > 0).sum() >= 2:
            tempo = TempoMap.from_beats(beats)
            bpm = float(np.median(np.asarray(tempo.millibpm))) / 1000.0
        else:  # the known tempo, or an estimate from the hits (also when librosa found no beats)
            bpm = args.bpm or estimate_tempo(hits[:, 0], hits[:, 2])
            tempo = TempoMap.from_beats(grid_beats(hits[:, 0], bpm, end, weights=hits[:, 2]))
        written = publish(writers(hits, transcriber.decoding.classes, target.paths, tempo,
                                  name=target.input.name.name, music_stream=audio.name, bpm=bpm),
                          overwrite=args.overwrite)
        per_class = {n: int((hits[:, 1] == c).sum()) for c, n in enumerate(names)}
        summary = ", ".join(f"{n} {k}" for n, k in per_class.items() if k)
        return hits, (f"{audio}: {len(hits)} hits ({summary or 'none'}), {bpm:.1f} bpm -> "
                      + ", ".join(str(p) for p in written))

    return work


def run_export(args: argparse.Namespace) -> int:
    """`pianox drums-export`: ONNX (and int8) files plus a parity check against torch."""
    from .inference import load_trained
    from .onnx_export import export_onnx, load_onnx, parity

    from pianox.inference.outputs import check_file

    targets = [args.out] + ([args.out.with_name(args.out.stem + ".int8.onnx")] if args.quantize else [])
    for path in targets:
        check_file(path, args.overwrite)
    trained = load_trained(args.model)
    paths = export_onnx(trained, args.out, quantize=args.quantize)
    for kind, path in paths.items():
        session, _ = load_onnx(path)
        print(f"wrote {path} ({kind}): max |onnx - torch| posterior = {parity(trained, session):.2e}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """`pianox drums-eval`: the report of one split (see evaluation.score)."""
    from pianox import atomic
    from pianox.config import load_experiment
    from pianox.inference.models import locate
    from pianox.inference.outputs import check_file

    from .evaluation import collect_clips, score, write_plots
    from .inference import THRESHOLDS_FILE

    bad = [s for s in args.set if not s.strip().startswith("source.")]
    if bad:
        raise ConfigError(f"drums-eval only overrides [source] values (source.KEY=VALUE), got {', '.join(bad)}")
    if args.out is not None:
        check_file(args.out, args.overwrite, "report")
    run_dir, ckpt = locate(args.model)
    source = load_experiment(run_dir / "config.toml", args.set).stages["source"].build()
    examples = list(source.examples(args.split))
    scored: dict[str, Any] = {"split": args.split, "examples": len(examples), "total": len(examples),
                              "sampled": False}
    if 0 < args.max_examples < len(examples):  # a seeded random sample, said in the report
        keep = np.sort(np.random.default_rng(args.seed).choice(len(examples), args.max_examples, replace=False))
        examples = [examples[i] for i in keep]
        scored.update(examples=len(examples), sampled=True, sample_seed=args.seed)
    if not examples:
        raise ConfigError(f"the {args.split} split of {run_dir} (with {args.set or 'no overrides'}) has no examples")
    transcriber = _transcriber(str(run_dir) if args.onnx is None else None, args.onnx, device=args.device,
                               batch_size=args.batch_size)
    deltas = None
    if args.baseline:
        saved = ckpt / THRESHOLDS_FILE
        deltas = json.loads(saved.read_text()).get("baseline_deltas") if saved.is_file() else None
        if not deltas:
            print("pianox drums-eval: note: no tuned baseline deltas in the run; using 0.1 for every band")
            deltas = {}
    clips, bands = collect_clips(transcriber, examples, args.baseline)
    report, matrix = score(clips, transcriber, bands, deltas, args.bootstrap)
    from pianox.holdout import timbre_report

    training = load_experiment(run_dir / "config.toml").stages["source"].build() if args.set else source
    timbre = timbre_report(training, source, args.split)
    if timbre is not None:
        scored["timbre"] = timbre
    report = {"run": str(run_dir), "split": args.split, "scored": scored, "overrides": args.set,
              "model_file": str(args.onnx or ckpt), **report}
    text = json.dumps(report, indent=2)
    if args.out is not None:
        atomic.write_text(args.out, text + "\n")
        write_plots(report, matrix, transcriber.decoding.classes.names, args.out.with_suffix(""),
                    f"{run_dir.name}: {args.split} {' '.join(args.set)}")
    if timbre is not None:
        print(f"kits {', '.join(timbre['held_out'])}: " + (
            "held out (no sample shared with the training kits)" if timbre["disjoint"] else
            f"NOT held out: {timbre['shared_samples']} of their {timbre['held_out_samples']} samples are "
            f"played by the training kits"))
    m = report["model"]
    print(f"{args.split}: {report['clips']} clips" + (f" (a seeded sample of {scored['total']}, seed {args.seed})"
                                                       if scored["sampled"] else " (whole split)")
          + f", f1_macro {m['f1_macro']:.3f}"
          f"{_interval(m, 'f1_macro')}, f1_micro {m['f1_micro']:.3f}")
    if "baseline" in report:
        b = report["baseline"]
        print(f"baseline: f1_macro {b['f1_macro']:.3f}{_interval(b, 'f1_macro')}, "
              f"f1_micro {b['f1_micro']:.3f}")
    for n in transcriber.decoding.classes.names:
        value = m.get(f"f1_{n}")
        base = report.get("baseline", {}).get(f"f1_{n}")
        if value is not None:
            extra = f" (baseline {base:.3f})" if base is not None else ""
            print(f"  {n:10s} f1 {value:.3f}{_interval(m, f'f1_{n}')}{extra}")
    if args.out is None:
        print(text)
    return 0


def _interval(metrics: dict, key: str) -> str:
    """' [lo, hi]' of a bootstrap interval in `metrics['ci95']`, or '' when there is none."""
    ci = metrics.get("ci95", {}).get(key)
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
