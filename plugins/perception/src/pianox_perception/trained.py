"""`load_trained(path)`: a perception model for inference, through the one loader every task uses
(`pianox.inference.load_model`). Kept as the name docs/perception.md gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_trained(path: str | Path | None, *, backend: str | None = None) -> Any:
    """`pianox.inference.load_model(path, task="perception", device=backend)`: a run directory,
    checkpoint folder, model folder or shipped model name; `backend` a device ("cpu", "cuda:1")."""
    from pianox.inference.models import load_model

    return load_model(path, task="perception", device=backend)
