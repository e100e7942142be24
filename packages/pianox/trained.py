"""Reopen a finished run: find its experiment and checkpoint, rebuild the stages, load weights.

`locate(path)` accepts a run directory (config.toml + checkpoints/best) or a checkpoint folder
inside one (`<run>/checkpoints/step-120`). `load_run(path)` rebuilds the five stages from the
recorded experiment (with `--set` style overrides, e.g. another source split or kit) and loads
the checkpoint into the encoder and the task head. The encoder's `[model] init` is dropped: the
checkpoint holds every weight, and the pretraining run it names may be gone.

Every task's inference (`pianox rate`, `transcribe`, `drums`) and `pianox eval` load runs
through here, so a wrong path, a run of another task or weights of the wrong shape fail the
same way everywhere: one CheckpointError naming the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import CheckpointError, ConfigError, PianoxError


@dataclass
class LoadedRun:
    """A finished run rebuilt for inference or evaluation (modules in eval mode on the backend's device)."""

    path: Path
    checkpoint: Path
    experiment: Any
    stages: Any
    model: Any
    head: Any

    @property
    def device(self) -> Any:
        return self.stages.backend.device


def locate(path: str | Path) -> tuple[Path, Path]:
    """(run directory, checkpoint folder) for a run directory or a checkpoint folder inside one."""
    from .train.checkpoint import WEIGHTS

    p = Path(path).expanduser()
    if (p / "config.toml").is_file():
        return p, p / "checkpoints" / "best"
    if (p / WEIGHTS).is_file() and (p.parent.parent / "config.toml").is_file():
        return p.parent.parent, p
    if not p.exists():
        raise CheckpointError(f"{p}: no such run directory or checkpoint")
    raise CheckpointError(f"{p} is neither a run directory (config.toml + checkpoints/best) nor a "
                          f"checkpoint folder inside one")


def load_experiment_of(path: str | Path, overrides: Sequence[str] = (), *,
                       task: str | None = None) -> tuple[Path, Path, Any]:
    """(run directory, checkpoint folder, experiment) of the run at `path`, with `overrides`
    applied and the encoder's `init` cleared; `task` checks the run trained that task."""
    from .config import load_experiment
    from .train.checkpoint import WEIGHTS

    run_dir, checkpoint = locate(path)
    try:
        exp = load_experiment(run_dir / "config.toml", list(overrides))
    except PianoxError as exc:
        raise CheckpointError(f"{run_dir}: cannot rebuild its experiment: {exc}") from exc
    kind = exp.stages["task"].kind
    if task is not None and kind != task:
        raise CheckpointError(f"{run_dir} is a {kind!r} run, not a {task!r} run")
    model_cfg = exp.stages["model"].config
    if getattr(model_cfg, "init", ""):
        model_cfg.init = ""
    if not (checkpoint / WEIGHTS).is_file():
        raise CheckpointError(f"{run_dir}: no trained weights at {checkpoint / WEIGHTS} "
                              f"(did the run evaluate at least once?)")
    return run_dir, checkpoint, exp


def load_run(path: str | Path, overrides: Sequence[str] = (), *, task: str | None = None,
             backend: str | None = None) -> LoadedRun:
    """Rebuild the run at `path` and load its weights (see module doc).

    `overrides` are `TABLE.KEY=VALUE` strings applied to the recorded experiment; `backend`
    replaces the recorded `[backend] kind` (e.g. "cpu" for inference on another machine).
    """
    from .runner import build_stages
    from .train.checkpoint import load_weights

    extra = [f"backend.kind={backend}"] if backend else []
    run_dir, checkpoint, exp = load_experiment_of(path, [*overrides, *extra], task=task)
    stages = build_stages(exp)
    head = stages.task.build_head(stages.model, stages.features)
    load_weights(checkpoint, {"model": stages.model, "head": head})
    device = stages.backend.device
    model = stages.model.to(device).eval()
    head = head.to(device).eval()
    return LoadedRun(run_dir, checkpoint, exp, stages, model, head)


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


def evaluate_run(path: str | Path, split: str = "test", overrides: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """The task's metrics of the run at `path` on `split` of its (possibly overridden) source.

    Returns {"run", "checkpoint", "split", "examples", "total", "sampled", "overrides",
    "metrics"} (+ "sample_seed" when [eval] test_sample scored a seeded sample).
    """
    from .api import SPLITS
    from .train.engine import evaluate_split

    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    loaded = load_run(path, overrides)
    info, metrics = evaluate_split(loaded.stages, loaded.experiment, loaded.model, loaded.head, split)
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
