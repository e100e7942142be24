"""Command line of the perception task (entry point `pianox.commands`).

    pianox rate INPUT... [--model MODEL] [-o OUTDIR] [--json] [--segments] [--segment-seconds S]
    pianox perception cv EXP.toml [--set K=V ...] [--folds 0,1] [--force] [--quiet]
    pianox perception baselines EXP.toml [--set K=V ...] [--only scratch,cnn,handcrafted] [--force]
    pianox perception compare RUN --baseline RUN [--split test|validation|oof]
    pianox perception rollout AUDIO --model RUN_OR_DIR --out PNG [--start S] [--seconds S]
    pianox perception correlations EXP.toml [--set K=V ...] [--split train] [--out PNG]

User errors are `PianoxError`s, printed by the main CLI without a traceback.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pianox.errors import ConfigError, DataError
from pianox.inference.options import add_inference_arguments


def register(subparsers: Any) -> None:
    """Add `rate` and `perception` (cv, compare, rollout, correlations) to the pianox CLI."""
    rate = subparsers.add_parser(
        "rate", help="rate audio files on the 19 PercePiano dimensions with a trained model",
        description="Rate piano recordings on PercePiano's 19 perceptual dimensions (0 = the first "
                    "pole of a dimension's name, 1 = the second). Long files are rated per segment "
                    "and the segments averaged. Prints a table (or JSON); with -o also writes "
                    "<name>.json per input.")
    own = add_inference_arguments(rate, task="perception", out="optional",
                                  out_help="also write each input's ratings as <name>.json into this folder")
    own.add_argument("--json", action="store_true",
                     help='print [{"file": ..., "ratings": {dimension: value}}] as JSON')
    own.add_argument("--segments", action="store_true", help="also show every segment's ratings")
    own.add_argument("--segment-seconds", type=float, default=None, metavar="S",
                     help="segment length (default: what the model was trained on)")
    own.add_argument("--hop-seconds", type=float, default=None, metavar="S", help="segment hop (default: the length)")
    rate.set_defaults(func=cmd_rate)

    top = subparsers.add_parser("perception",
                                help="perception task tools: cv, baselines, compare, rollout, correlations")
    sub = top.add_subparsers(dest="perception_command",
                             metavar="{cv,baselines,compare,rollout,correlations}", required=True)
    cv = sub.add_parser("cv", help="run an experiment on every fold and aggregate",
                        description="Train the experiment once per fold of its PercePiano source "
                                    "(--set source.fold=k) and pool the results with bootstrap CIs.")
    cv.add_argument("experiment", type=Path)
    cv.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    cv.add_argument("--folds", default=None, help="comma-separated folds (default: all)")
    cv.add_argument("--force", action="store_true", help="retrain folds whose runs already finished")
    cv.add_argument("--quiet", action="store_true")
    cv.set_defaults(func=cmd_cv)

    bl = sub.add_parser("baselines", help="train an experiment and its baselines on the same split, compare",
                        description="Derive the scratch (random init), cnn and handcrafted baselines from "
                                    "the experiment, train what is not trained yet, and compare the main "
                                    "model with each on the test split (paired tests).")
    bl.add_argument("experiment", type=Path)
    bl.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                    help="override applied to the main experiment before the baselines are derived")
    bl.add_argument("--only", default=None, help="comma-separated baselines (default: scratch,cnn,handcrafted)")
    bl.add_argument("--force", action="store_true", help="retrain runs that already finished")
    bl.add_argument("--quiet", action="store_true")
    bl.set_defaults(func=cmd_baselines)

    cmp = sub.add_parser("compare", help="paired significance test of two runs on the same clips",
                         description="Paired sign-flip permutation test on per-clip squared errors, "
                                     "and paired bootstraps of the mean Pearson difference.")
    cmp.add_argument("run", type=Path, help="run or CV directory (with predictions/)")
    cmp.add_argument("--baseline", type=Path, required=True, help="run or CV directory to compare with")
    cmp.add_argument("--split", default="test", help="test, validation or oof (CV directories)")
    cmp.add_argument("--json", action="store_true")
    cmp.set_defaults(func=cmd_compare)

    ro = sub.add_parser("rollout", help="attention rollout of a trained AST over a clip's spectrogram")
    ro.add_argument("audio", type=Path)
    ro.add_argument("--model", required=True)
    ro.add_argument("--out", type=Path, required=True, help="PNG to write")
    ro.add_argument("--start", type=float, default=0.0, help="seconds")
    ro.add_argument("--seconds", type=float, default=None, help="span length (default: the training length)")
    ro.set_defaults(func=cmd_rollout)

    co = sub.add_parser("correlations", help="label correlations and the grouping of pedal and timbre")
    co.add_argument("experiment", type=Path)
    co.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    co.add_argument("--split", default="train")
    co.add_argument("--out", type=Path, default=None, help="also write the 19 x 19 heatmap PNG")
    co.set_defaults(func=cmd_correlations)


def cmd_rate(args: argparse.Namespace) -> int:
    import sys

    from pianox.inference.session import Outcome, run_command

    from .rate import print_table

    outcomes: list[Outcome] = []
    code = run_command(args, {"json": ".json"}, lambda: _rate_work(args), verb="rating", echo=sys.stderr,
                       outcomes=outcomes)
    results = [o.result for o in outcomes if o.ok]
    if results:
        if args.json:
            if not args.segments:
                results = [{"file": r["file"], "ratings": r["ratings"]} for r in results]
            print(json.dumps(results, indent=2))
        else:
            print_table(results, segments=args.segments)
    return code


def _rate_work(args: argparse.Namespace) -> Any:
    """Load the model named by `args` and return the function rating one target."""
    from pianox.inference.models import load_model
    from pianox.inference.outputs import publish

    from .rate import Rater

    rater = Rater(load_model(args.model, task="perception", device=args.device), args.segment_seconds,
                  args.hop_seconds, args.batch_size)

    def work(target: Any, progress: Any) -> tuple[Any, str]:
        result = rater.rate_file(target.input.path, progress)
        if not target.paths:
            return result, ""
        text = json.dumps(result, indent=2) + "\n"
        written = publish({target.paths["json"]: lambda tmp: tmp.write_text(text, encoding="utf-8")},
                          overwrite=args.overwrite)
        return result, f"{target.input.path}: {len(result['segments'])} segment(s) -> {written[0]}"

    return work


def cmd_cv(args: argparse.Namespace) -> int:
    from .cv import run_folds

    folds = None
    if args.folds:
        try:
            folds = [int(x) for x in args.folds.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--folds {args.folds!r}: expected comma-separated integers") from None
    out = run_folds(args.experiment, args.set, folds=folds, force=args.force, quiet=args.quiet)
    print(f"cross-validation results: {out / 'cv_results.md'}")
    print((out / "cv_results.md").read_text(encoding="utf-8"))
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from .baselines import run_baselines

    only = [x.strip() for x in args.only.split(",") if x.strip()] if args.only else None
    out = run_baselines(args.experiment, args.set, variants=only, force=args.force, quiet=args.quiet)
    print((out / "baselines.md").read_text(encoding="utf-8"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .report import align, compare, read_predictions

    def load(root: Path) -> dict:
        path = root / "predictions" / f"{args.split}.json"
        if not path.exists():
            raise DataError(f"{root}: no predictions/{args.split}.json (a finished perception run or "
                            f"CV directory?)")
        return read_predictions(path)

    pred, base, target = align(load(args.run), load(args.baseline), f"{args.run} vs {args.baseline}")
    result = {"run": str(args.run), "baseline": str(args.baseline), "split": args.split,
              **compare(pred, base, target)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    pb, pa = result["pearson"], result["pearson_audible"]
    print(f"{args.run} vs {args.baseline} on {result['clips']} {args.split} clips")
    print(f"  {result['test']}: MSE difference {result['mse_diff']:+.5f}, p = {result['p']:.4g}")
    print(f"  mean Pearson difference {pb['diff']:+.3f} [{pb['low']:+.3f}, {pb['high']:+.3f}], "
          f"one-sided bootstrap p = {pb['p_greater']:.4g}")
    print(f"  audible dimensions: {pa['diff']:+.3f} [{pa['low']:+.3f}, {pa['high']:+.3f}], p = {pa['p_greater']:.4g}")
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    from pianox.api import Example
    from pianox.audio import probe_audio
    from pianox.errors import CheckpointError

    from pianox.inference.models import load_model

    from .rate import segment_seconds
    from .rollout import rollout_figure, supports_rollout

    frames, sr = probe_audio(args.audio)
    trained = load_model(args.model, task="perception")
    if not supports_rollout(trained.model):
        raise CheckpointError(f"--model {args.model}: its encoder ({trained.experiment.stages['model'].kind}) "
                              f"has no attention maps; rollout needs the 'ast' model")
    seconds = args.seconds or min(segment_seconds(trained), frames / sr - args.start)
    example = Example(key=args.audio.name, audio_path=args.audio, start=args.start, duration=seconds)
    rollout_figure(trained.model, trained.features, example, args.out, device=trained.device)
    print(f"wrote {args.out}")
    return 0


def cmd_correlations(args: argparse.Namespace) -> int:
    import numpy as np

    from pianox.config import load_experiment
    from pianox.runner import build_stages

    from .correlations import correlation_figure, format_report
    from .predict import clip_of

    stages = build_stages(load_experiment(args.experiment, args.set))
    seen: dict[str, Any] = {}
    for e in stages.source.examples(args.split):
        if "ratings" in e.targets:
            seen.setdefault(clip_of(e.key), e.targets["ratings"])
    if len(seen) < 3:
        raise DataError(f"{args.experiment}: the {args.split} split has {len(seen)} rated clips; need 3")
    ratings = np.stack([np.asarray(v, np.float64) for v in seen.values()])
    print(format_report(ratings))
    if args.out:
        correlation_figure(ratings, args.out, f"{args.experiment.stem}: {args.split} labels")
        print(f"wrote {args.out}")
    return 0
