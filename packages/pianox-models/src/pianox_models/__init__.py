"""pianox's shipped models: one function per model returning its folder (a `pianox.pretrained`
entry point in this distribution's pyproject.toml names each). None is shipped yet; a model is
added as

    def transcription() -> Path:
        return folder("transcription")

with `transcription = "pianox_models:transcription"` under `[project.entry-points."pianox.pretrained"]`.
"""

from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models"
"""Where the model folders live (package data: src/pianox_models/models/<name>/)."""


def folder(name: str) -> Path:
    """The folder of the shipped model `name` (config.toml, model.safetensors, manifest.json, ...)."""
    return MODELS / name
