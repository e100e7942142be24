"""Loading a trained perception model for inference from a run directory or a checkpoint.

`load_trained(path)` accepts a run directory (`runs/<name>-<hash>/`, whose config.toml is the
resolved experiment and whose checkpoints/best/ holds the weights) or a checkpoint folder
inside one (`.../checkpoints/best`, `.../checkpoints/step-120`). The encoder is rebuilt from
the recorded config without its `init` (the trained weights replace it, and the pretraining run
need not exist any more), then the encoder ("model.*") and head ("head.*") weights are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pianox.errors import CheckpointError, PianoxError

TASK = "perception"


@dataclass
class Trained:
    """A trained run ready for inference (modules in eval mode, on the backend's device)."""

    run_dir: Path
    checkpoint: Path
    experiment: Any
    features: Any
    model: Any
    head: Any
    task: Any
    backend: Any

    @property
    def device(self) -> Any:
        return self.backend.device


def locate(path: str | Path) -> tuple[Path, Path]:
    """(run directory, checkpoint folder) for a run directory or a checkpoint inside one."""
    p = Path(path).expanduser()
    if not p.exists():
        raise CheckpointError(f"--model {p}: no such run directory or checkpoint")
    if (p / "config.toml").is_file():
        return p, p / "checkpoints" / "best"
    if (p / "model.safetensors").is_file() and (p.parent.parent / "config.toml").is_file():
        return p.parent.parent, p
    raise CheckpointError(f"--model {p}: not a pianox run directory (no config.toml) nor a "
                          f"checkpoint folder inside one (no model.safetensors)")


def load_trained(path: str | Path, *, backend: str | None = None) -> Trained:
    """Rebuild the stages of the perception run at `path` and load its weights (see module doc).

    `backend` overrides the recorded `[backend] kind` (e.g. "cpu"). CheckpointError when the
    path is not a run, the run did not train the perception task, or has no weights.
    """
    from pianox.config import load_experiment
    from pianox.runner import build_stages
    from pianox.train import checkpoint as ckpt

    run_dir, checkpoint = locate(path)
    overrides = [f"backend.kind={backend}"] if backend else []
    try:
        exp = load_experiment(run_dir / "config.toml", overrides)
    except PianoxError as exc:
        raise CheckpointError(f"--model {run_dir}: cannot rebuild its experiment: {exc}") from exc
    kind = exp.stages["task"].kind
    if kind != TASK:
        raise CheckpointError(f"--model {run_dir}: a run of task {kind!r}, not a {TASK} run")
    model_cfg = exp.stages["model"].config
    if getattr(model_cfg, "init", ""):
        model_cfg.init = ""  # the trained weights below replace the pretrained ones
    if not (checkpoint / ckpt.WEIGHTS).is_file():
        raise CheckpointError(f"--model {run_dir}: no trained weights at {checkpoint / ckpt.WEIGHTS} "
                              f"(did the run evaluate at least once?)")
    stages = build_stages(exp)
    head = stages.task.build_head(stages.model, stages.features)
    ckpt.load_weights(checkpoint, {"model": stages.model, "head": head})
    model = stages.model.to(stages.backend.device).eval()
    head = head.to(stages.backend.device).eval()
    return Trained(run_dir, checkpoint, exp, stages.features, model, head, stages.task, stages.backend)
