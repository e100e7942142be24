"""When the decoding thresholds are tuned: at the end of a run, and for an existing run.

Both compute the frame head's posteriors of a split's whole pieces once, through the engine's
evaluation path (`evaluate_split`, the task `collecting` them: every segment, laid end to end
per recording as evaluation and inference decode them; the whole split unless [eval]
test_sample), then `thresholds.search` re-decodes them.

- `tune_at_finish` (the task's `finish`): tunes on the validation split with the best
  checkpoint, writes checkpoints/best/transcription_thresholds.json, and — when the engine
  scored the test split — re-scores the test split's frame head with the tuned thresholds,
  so results.json, status.json and pieces.json report them. results.json says which
  thresholds were used ("thresholds": the [task]'s, with the reason, when nothing was tuned —
  no best checkpoint or no validation examples).
- `pianox transcribe-tune RUN [--split validation] [--set source.KEY=VALUE ...] [--overwrite]`:
  the same for a finished run. The test split is refused (its scores would no longer be
  held out), as is a packed model folder (its manifest lists every file: tune the run and
  pack again) and an existing thresholds file without --overwrite.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any, Sequence

from pianox.errors import ConfigError, OutputError

from .pieces import Pieces
from .thresholds import THRESHOLDS_FILE, Thresholds, Tuned, search, write_thresholds


def collect(task: Any, stages: Any, exp: Any, model: Any, head: Any, split: str, where: str | None = None
            ) -> tuple[Pieces, dict[str, Any]]:
    """(Pieces with references and frame posteriors, `eval_examples`' info) of `split`, with
    `model` and `head` in eval mode."""
    from pianox.train.engine import evaluate_split

    with task.collecting() as box:
        info, _ = evaluate_split(stages, exp, model, head, split, source=where)
    return (box[0] if box else Pieces(task.frame_rate)), info


def tune_split(task: Any, stages: Any, exp: Any, model: Any, head: Any, split: str, where: str | None = None
               ) -> tuple[Tuned, dict[str, Any]] | None:
    """The thresholds tuned on `split` and what was scored; None when it has no examples."""
    pieces, info = collect(task, stages, exp, model, head, split, where)
    posteriors = pieces.take_posteriors()
    if not posteriors:
        return None
    tuned = search(posteriors, {p: pieces.reference(p) for p in posteriors}, pieces.frame_rate,
                   Thresholds.of(task.config))
    scored = {k: info[k] for k in ("examples", "total", "sampled") if k in info}
    return tuned, {"split": split, **scored}


def _report(run: Any, used: dict[str, Any], rescored: dict[str, float]) -> None:
    """Put the thresholds used (and the re-scored test metrics) into results.json and the log."""
    results_file = run.run.path / "results.json"
    if results_file.is_file():
        results = json.loads(results_file.read_text(encoding="utf-8"))
        results.update(rescored)
        results["thresholds"] = used
        run.run.write_json("results.json", results)
    run.run.log({"transcription_thresholds": used, **rescored})


def tune_at_finish(task: Any, run: Any) -> None:
    """The task's end-of-run step (module doc). `run` is the runner's RunContext."""
    from pianox.checkpoint import WEIGHTS, load_weights

    best = run.run.checkpoints / "best"
    got = None
    if (best / WEIGHTS).is_file():
        load_weights(best, {"model": run.model, "head": run.head})  # what the test evaluation scored
        run.model.eval()
        run.head.eval()
        got = tune_split(task, run.stages, run.experiment, run.model, run.head, "validation")
    if got is None:
        why = "no validation examples" if (best / WEIGHTS).is_file() else "no checkpoints/best"
        _report(run, {**Thresholds.of(task.config).to_json(), "source": "[task]", "not_tuned": why}, {})
        return
    tuned, tuned_on = got
    record = tuned.record(tuned_on)
    file = write_thresholds(best, record, overwrite=True)
    task.thresholds = replace(tuned.thresholds, source=str(file))
    rescored: dict[str, float] = {}
    if task.config.eval_decode and any(k.startswith("test/") for k in run.results):  # the engine scored test
        pieces, _ = collect(task, run.stages, run.experiment, run.model, run.head, "test")
        rescored = {f"test/{k}": float(v) for k, v in task.score_head(pieces, "frames").items()}
        run.results.update(rescored)  # the dict the runner writes into status.json
    _report(run, {**tuned.thresholds.to_json(), "source": f"checkpoints/best/{THRESHOLDS_FILE}",
                  "tuned_on": record["tuned_on"], "validation_onset_f1": record["onset_f1"]}, rescored)


def tune_run(model: str, split: str = "validation", overrides: Sequence[str] = (), *, overwrite: bool = False,
             device: str | None = None) -> dict[str, Any]:
    """Tune the thresholds of the run (or checkpoint folder) at `model` on `split` of its source
    (with `source.KEY=VALUE` overrides) and write them into its checkpoint folder; returns the
    file's content. Refusals as the module doc says, before any work."""
    from pianox.api import SPLITS
    from pianox.inference.models import MANIFEST, locate
    from pianox.trained import load_run

    if split == "test":
        raise ConfigError("--split test: tuning decoding thresholds on the test split is not allowed (its "
                          "scores would no longer be held out); tune on validation")
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: expected validation or train")
    bad = [s for s in overrides if not s.strip().startswith("source.")]
    if bad:
        raise ConfigError(f"transcribe-tune only overrides [source] values, got {', '.join(bad)}")
    _, checkpoint = locate(model)
    if (checkpoint / MANIFEST).is_file():
        raise ConfigError(f"{checkpoint} is a packed model folder (its {MANIFEST} lists every file): tune the run "
                          f"it was packed from, then pack it again")
    if (checkpoint / THRESHOLDS_FILE).exists() and not overwrite:
        raise OutputError(f"{checkpoint / THRESHOLDS_FILE} exists; pass --overwrite to replace it")
    loaded = load_run(model, overrides, task="transcription", device=device)
    where = f"{loaded.path} ({split} split)"
    got = tune_split(loaded.task, loaded.stages, loaded.experiment, loaded.model, loaded.head, split, where)
    if got is None:
        raise ConfigError(f"{loaded.path}: the source has no {split!r} examples"
                          + (f" with {' '.join(overrides)}" if overrides else ""))
    tuned, tuned_on = got
    record = tuned.record({**tuned_on, **({"overrides": list(overrides)} if overrides else {})})
    write_thresholds(loaded.checkpoint, record, overwrite=overwrite)
    return record


def main_tune(args: Any) -> int:
    record = tune_run(args.run, args.split, args.set, overwrite=args.overwrite, device=args.device)
    on, both, t = record["onset_f1"], record["onset_offset_f1"], record["tuned_on"]
    print(f"{args.run}: tuned on {t['pieces']} pieces of the {t['split']} split: onset {record['onset_threshold']:g}, "
          f"frame {record['frame_threshold']:g} (offset {record['offset_threshold']:g} as configured)")
    print(f"  onset F1 {on['default']:.4f} -> {on['tuned']:.4f}, onset+offset F1 {both['default']:.4f} -> "
          f"{both['tuned']:.4f} (at the [task] thresholds -> tuned)")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("transcribe-tune", help="tune a transcription run's decoding thresholds on validation",
                       description="Decode the validation recordings' frame posteriors at a grid of onset and frame "
                                   f"thresholds and store the best in the checkpoint's {THRESHOLDS_FILE}, which "
                                   "`pianox transcribe` and `transcribe-eval` then use.")
    p.add_argument("run", help="transcription run directory (or a checkpoint folder in one)")
    p.add_argument("--split", default="validation", help="split to tune on (default validation; test is refused)")
    p.add_argument("--set", action="append", default=[], metavar="source.KEY=VALUE",
                   help="re-render / re-read the source, e.g. --set source.soundfont=/path/other.sf3")
    p.add_argument("--overwrite", action="store_true", help=f"replace an existing {THRESHOLDS_FILE}")
    p.add_argument("--device", default=None, help="run the model on this device (default: the recorded backend)")
    p.set_defaults(func=main_tune)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `pianox transcribe-tune`")
