"""What a perception run leaves behind once trained (the task's `finish`).

With the best checkpoint loaded: the split leakage check (`splits.check_source`), per-clip
predictions of the validation and test splits (`predictions/<split>.json`), the results table
of the test split (validation when there is no test split) as `perception_results.{json,md}`
and `plots/perception_results.png`, the paired comparison with `[task] baseline` when set, and
attention-rollout PNGs of the first test clips (`plots/rollout_<n>.png`, AST encoders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pianox.errors import CheckpointError
from pianox.train import checkpoint as ckpt

from .predict import predict_examples
from .report import align, compare, read_predictions, results_table, write_predictions, write_report
from .splits import check_source


def finish_run(task: Any, run: Any) -> dict[str, Any]:
    """Write the run's perception outputs (see module doc); returns the results table."""
    best = run.run.checkpoints / "best"
    if (best / ckpt.WEIGHTS).exists():
        ckpt.load_weights(best, {"model": run.model, "head": run.head})
    source, exp = run.stages.source, run.experiment
    check = check_source(source)
    out: dict[str, Any] = {}
    table: dict[str, Any] = {}
    batch = exp.eval.batch_size or exp.train.batch_size
    for split in ("validation", "test"):
        examples = list(source.examples(split))
        if not examples:
            continue
        cache = (source, split) if exp.train.cache_features else None
        got = predict_examples(task, run.model, run.head, run.stages.features, examples,
                               device=run.stages.backend.device, batch_size=batch,
                               autocast=run.stages.backend.autocast, cache=cache)
        write_predictions(run.run.path / "predictions" / f"{split}.json", split, got["clips"], got["pred"],
                          got["target"])
        out[split] = got
    split = "test" if "test" in out else "validation" if "validation" in out else None
    if split is not None and out[split]["target"] is not None:
        got = out[split]
        table = results_table(got["pred"], got["target"], task.groups, n_boot=task.config.bootstrap,
                              seed=exp.run.seed, split=split)
        table["run"] = run.run.path.name
        table["splits"] = check
        if task.config.baseline:
            table["baseline"] = baseline_comparison(task.config.baseline, run.run.path, split)
        write_report(run.run.path, run.run.plots, "perception_results", table,
                     f"{run.run.path.name}: perception, {split} split")
    if task.config.rollout_clips and split is not None:
        _rollouts(task, run, source.examples(split)[: task.config.rollout_clips])
    return table


def baseline_comparison(baseline: str, run_path: Path, split: str) -> dict[str, Any]:
    """The paired comparison (see `report.compare`) of this run's `split` predictions with those
    of the run at `baseline`; CheckpointError when that run has none."""
    path = Path(baseline).expanduser() / "predictions" / f"{split}.json"
    if not path.exists():
        raise CheckpointError(f"[task] baseline = {baseline!r}: no {path.name} under "
                              f"{path.parent} (is it a finished perception run?)")
    mine = read_predictions(run_path / "predictions" / f"{split}.json")
    pred, base, target = align(mine, read_predictions(path), f"baseline {baseline}")
    return {"run": str(baseline), **compare(pred, base, target)}


def _rollouts(task: Any, run: Any, examples: Any) -> None:
    from .rollout import rollout_figure, supports_rollout

    if not supports_rollout(run.model):
        return
    for i, example in enumerate(examples):
        rollout_figure(run.model, run.stages.features, example, run.run.plots / f"rollout_{i}.png",
                       device=run.stages.backend.device)
