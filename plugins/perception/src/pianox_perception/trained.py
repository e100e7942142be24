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


def load_trained(path: str | Path, *, backend: str | None = None) -> Trained:
    """Rebuild the stages of the perception run at `path` and load its weights (see module doc).

    `backend` overrides the recorded `[backend] kind` (e.g. "cpu"). CheckpointError when the
    path is not a run, the run did not train the perception task, or has no weights.
    """
    from pianox.trained import load_run

    run = load_run(path, task=TASK, backend=backend)
    s = run.stages
    return Trained(run.path, run.checkpoint, run.experiment, s.features, run.model, run.head, s.task,
                   s.backend)
