"""Reopen a finished run for evaluation (`pianox eval`): rebuild it with its source, score a split.

Loading goes through `pianox.inference.models` — the one loader every command that runs a
trained model uses — so a wrong path, a run of another task or weights of the wrong shape fail
the same way everywhere: one CheckpointError naming the path. `load_run(path)` is
`load_model(path, with_source=True)`: the stages rebuilt from the recorded experiment (with
`--set` style overrides, e.g. another source split or kit) and the checkpoint loaded into the
encoder and the task head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .errors import CheckpointError, ConfigError
from .inference.models import LoadedModel, load_experiment_of, load_model, locate

LoadedRun = LoadedModel
"""A finished run rebuilt for evaluation (see `pianox.inference.models.LoadedModel`)."""

__all__ = ["LoadedRun", "evaluate_run", "heldout_timbre", "load_experiment_of", "load_run", "locate"]


def load_run(path: str | Path, overrides: Sequence[str] = (), *, task: str | None = None,
             backend: str | None = None, device: str | None = None) -> LoadedModel:
    """Rebuild the run at `path` with its source and load its weights (see module doc).

    `overrides` are `TABLE.KEY=VALUE` strings applied to the recorded experiment; `backend`
    replaces the recorded `[backend] kind` (e.g. "cpu"), `device` the device ("cuda:1")."""
    extra = [f"backend.kind={backend}"] if backend else []
    return load_model(path, task=task, overrides=[*overrides, *extra], device=device, with_source=True)


def heldout_timbre(loaded: LoadedRun, overrides: Sequence[str], split: str) -> dict[str, Any] | None:
    """`pianox.holdout.timbre_report` of the evaluated source's `split` against the recorded
    (un-overridden) training source: whether the evaluated presets' samples are disjoint
    from those the model trained on. None when the sources do not record their presets."""
    from .holdout import timbre_report

    if not hasattr(loaded.stages.source, "timbres"):
        return None
    training = loaded.stages.source
    if overrides:
        _, _, recorded = load_experiment_of(loaded.path)
        training = recorded.stages["source"].build()
    return timbre_report(training, loaded.stages.source, split)


def evaluate_run(path: str | Path, split: str = "test", overrides: Sequence[str] = (), *,
                 device: str | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """The task's metrics of the run at `path` on `split` of its (possibly overridden) source,
    on `device` (None: the recorded backend) with `batch_size` examples per batch (None: the
    run's [eval] batch_size).

    Returns {"run", "checkpoint", "split", "examples", "total", "sampled", "overrides",
    "metrics"} (+ "sample_seed" when [eval] test_sample scored a seeded sample).
    InferenceError naming the run when the model's output is not finite.
    """
    from .api import SPLITS
    from .train.engine import evaluate_split

    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    loaded = load_run(path, overrides, device=device)
    if batch_size is not None:
        loaded.experiment.eval.batch_size = batch_size
    info, metrics = evaluate_split(loaded.stages, loaded.experiment, loaded.model, loaded.head, split,
                                   source=f"{loaded.path} ({split} split)")
    if not info["examples"]:
        raise CheckpointError(f"{loaded.path}: the source has no {split!r} examples"
                              + (f" with {' '.join(overrides)}" if overrides else ""))
    report: dict[str, Any] = {"run": str(loaded.path), "checkpoint": str(loaded.checkpoint), **info,
                              "overrides": list(overrides)}
    timbre = heldout_timbre(loaded, overrides, split)
    if timbre is not None:
        report["timbre"] = timbre
    return {**report,
            "metrics": {k: float(v) for k, v in metrics.items()}}
