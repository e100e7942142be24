"""Running trained models: one path for every task (`pianox transcribe`, `drums`, `rate`, `eval`).

    models.py    find and load a model: run dir, checkpoint dir, model folder, shipped name
    stream.py    read → resample → window → features, a window at a time
    combine.py   join windows: centre-crop, overlap-add, or one output per window
    pipeline.py  a task's forward over the windows of one input, outputs checked finite
    inputs.py    files, folders (recursive, by audio extension) and globs
    outputs.py   targets checked before work; atomic writes; pairs published together
    session.py   many inputs: --jobs, progress, failures that stop nothing, a summary
    options.py   the shared command-line options and their help

A task plugin adds only what is its own: its forward pass, how its windows join, decoding and
output formats. Names are imported lazily (this package imports nothing on its own), e.g.
`from pianox.inference import load_model, stream_windows`. See docs/inference.md.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "LoadedModel": "models", "PRETRAINED_GROUP": "models", "default_model": "models", "load_model": "models",
    "locate": "models", "pretrained_models": "models", "pretrained_path": "models",
    "Window": "stream", "Windowing": "stream", "Windows": "stream", "array_windows": "stream",
    "featurise": "stream", "frame_windowing": "stream", "read_blocks": "stream", "stream_windows": "stream",
    "CentreCrop": "combine", "OverlapAdd": "combine", "PerWindow": "combine", "taper": "combine",
    "Plan": "pipeline", "collect": "pipeline", "run": "pipeline",
    "AUDIO_EXTENSIONS": "inputs", "Input": "inputs", "expand_inputs": "inputs",
    "Target": "outputs", "check_file": "outputs", "clean_stale": "outputs", "plan_outputs": "outputs",
    "prepare_dir": "outputs", "publish": "outputs",
    "Outcome": "session", "exit_code": "session", "finish_inputs": "session", "plan_inputs": "session",
    "run_inputs": "session",
    "add_inference_arguments": "options", "parse_formats": "options",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
