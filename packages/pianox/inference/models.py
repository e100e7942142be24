"""Finding and loading a trained model: a run directory, a checkpoint folder or a shipped model.

    runs/tiny-1a2b3c4d/                       a run: config.toml + checkpoints/best/
    runs/tiny-1a2b3c4d/checkpoints/step-120/  a checkpoint folder inside a run
    <folder>/                                 a model folder: config.toml + model.safetensors
                                              (+ the task's decoding files, README.md card,
                                              manifest.json with each file's sha256)
    transcription-base                        a shipped model: an entry point of the
                                              `pianox.pretrained` group naming a model folder

`load_model` rebuilds features, encoder, task and head from the recorded experiment (with
`--set` style overrides), drops the encoder's `[model] init` (the checkpoint holds every
weight, and the pretraining run it names may be gone) and loads the weights. A folder with a
manifest.json (`pianox models pack` writes one) is verified first: every listed file must have
its recorded sha256, and no weights, config or decoding file may be unlisted. Weights are read
with safetensors only; nothing is unpickled. Every command
that runs a trained model (`pianox transcribe`, `drums`, `rate`, `eval`) loads through here, so
a wrong path, a run of another task or weights of the wrong shape fail the same way: one
CheckpointError naming the path (or the shipped name, with the names that are installed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..checkpoint import WEIGHTS
from ..errors import CheckpointError, ConfigError, PianoxError

PRETRAINED_GROUP = "pianox.pretrained"
"""Entry points `name = "module:attribute"`; the attribute is a model folder (str or Path) or a
function returning one. A name equal to a task's (`transcription`, `drums`, `perception`) is
that task's default, used when a command gets no --model."""

MANIFEST = "manifest.json"
"""A packed model folder's {"name", "task", "files": {file name: sha256}, "created_from",
"commit", "dtype"} (see pianox.inference.pack)."""

VERIFIED_SUFFIXES = (".json", ".toml", ".safetensors")
"""Files that decide what a model outputs: in a folder with a manifest, each must be listed."""


def pretrained_models() -> dict[str, Any]:
    """name -> entry point of every installed shipped model (metadata only, nothing imported)."""
    from importlib import metadata

    return {ep.name: ep for ep in sorted(metadata.entry_points(group=PRETRAINED_GROUP), key=lambda e: e.name)}


def _installed() -> str:
    return ", ".join(pretrained_models()) or "none"


def pretrained_path(name: str) -> Path:
    """The model folder of the shipped model `name`. CheckpointError naming the name and what
    is installed when it is unknown; naming its distribution when it fails to load or points
    to no model folder."""
    ep = pretrained_models().get(name)
    if ep is None:
        raise CheckpointError(f"no shipped model named {name!r} (installed: {_installed()}); give a run "
                              f"directory or checkpoint folder instead")
    dist = getattr(ep, "dist", None)
    origin = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "an unknown distribution"
    try:
        value = ep.load()
        folder = Path(value() if callable(value) else value)
    except (Exception, SystemExit) as exc:  # a broken plugin raises anything, sys.exit() too
        raise CheckpointError(f"shipped model {name!r} ({ep.value}) from {origin} failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
    if not ((folder / "config.toml").is_file() and (folder / WEIGHTS).is_file()):
        raise CheckpointError(f"shipped model {name!r} from {origin} points to {folder}, which holds no "
                              f"config.toml + {WEIGHTS}")
    return folder


def _looks_like_a_name(text: str) -> bool:
    return "/" not in text and "\\" not in text and not text.startswith((".", "~"))


def locate(path: str | Path) -> tuple[Path, Path]:
    """(model folder, checkpoint folder) of a run directory, a checkpoint folder inside one, a
    model folder, or the name of a shipped model (see module doc)."""
    p = Path(path).expanduser()
    if (p / "config.toml").is_file() and (p / "checkpoints").is_dir():
        return p, p / "checkpoints" / "best"
    if (p / "config.toml").is_file() and (p / WEIGHTS).is_file():
        return p, p
    if (p / WEIGHTS).is_file() and (p.parent.parent / "config.toml").is_file():
        return p.parent.parent, p
    if (p / "config.toml").is_file():
        return p, p / "checkpoints" / "best"
    if not p.exists():
        if _looks_like_a_name(str(path)) and str(path) in pretrained_models():
            folder = pretrained_path(str(path))
            return folder, folder
        raise CheckpointError(f"{p}: no such run directory or checkpoint, and no shipped model of that name "
                              f"(installed: {_installed()})")
    raise CheckpointError(f"{p} is neither a run directory (config.toml + checkpoints/best) nor a "
                          f"checkpoint folder inside one, nor a model folder (config.toml + {WEIGHTS})")


def default_model(task: str) -> str:
    """The shipped model a task uses when no --model is given (the `pianox.pretrained` entry
    point named like the task); CheckpointError saying what to pass when none is installed."""
    if task in pretrained_models():
        return str(pretrained_path(task))  # a folder: a local file or folder named like the task is not it
    raise CheckpointError(f"no --model given and no shipped {task} model is installed (shipped models: "
                          f"{_installed()}); pass --model RUN_OR_DIR (a trained {task} run or checkpoint)")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> dict[str, Any] | None:
    """Check a model folder against its manifest.json (None when it has none): each listed file
    exists with its recorded sha256 and every config, weights or decoding file is listed.
    CheckpointError naming the file otherwise."""
    file = folder / MANIFEST
    if not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a table")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{file}: unreadable manifest: {exc}") from exc
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name or name == MANIFEST:
            raise CheckpointError(f"{file} lists {name!r}, which is not a file of the model folder")
        if not path.is_file():
            raise CheckpointError(f"{path} is listed in {file} but missing")
        if sha256(path) != digest:
            raise CheckpointError(f"{path} does not match its sha256 in {file}: the file was changed or "
                                  f"damaged after packing (restore it, or pack the model again)")
    unlisted = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in VERIFIED_SUFFIXES
                      and p.name not in files and p.name != MANIFEST)
    if unlisted:
        raise CheckpointError(f"{folder / unlisted[0]} is not listed in {file} (unlisted: {', '.join(unlisted)}); "
                              f"remove it, or pack the model again")
    return manifest


def load_experiment_of(path: str | Path, overrides: Sequence[str] = (), *,
                       task: str | None = None) -> tuple[Path, Path, Any]:
    """(model folder, checkpoint folder, experiment) of the model at `path`, with `overrides`
    applied and the encoder's `init` cleared; `task` checks the model was trained for that task.
    A model folder with a manifest is verified first (see `verify`)."""
    from ..config import load_experiment

    run_dir, checkpoint = locate(path)
    verify(checkpoint)
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


@dataclass
class LoadedModel:
    """A trained model rebuilt for inference or evaluation: modules in eval mode on `device`.

    `stages` holds the built stages (`pianox.stages.Stages`; its `source` is None unless the
    model was loaded `with_source`)."""

    path: Path
    checkpoint: Path
    experiment: Any
    stages: Any
    model: Any
    head: Any

    @property
    def features(self) -> Any:
        return self.stages.features

    @property
    def task(self) -> Any:
        return self.stages.task

    @property
    def backend(self) -> Any:
        return self.stages.backend

    @property
    def device(self) -> Any:
        return self.stages.backend.device


def device_overrides(device: str | None) -> list[str]:
    """`backend.*` overrides that put a model on `device` ("cpu", "cuda:1", "mps", "auto");
    BackendError listing this machine's devices when it has no such device."""
    if device is None:
        return []
    if device == "auto":
        return ["backend.kind=auto"]
    from ..devices import parse_device

    dev = parse_device(device)
    return [f"backend.kind={dev.type}"] + ([f"backend.device_index={dev.index}"] if dev.type == "cuda" else [])


def load_model(model: str | Path | None, *, task: str | None = None, overrides: Sequence[str] = (),
               device: str | None = None, with_source: bool = False) -> LoadedModel:
    """Rebuild the model at `model` (see module doc; None: the task's shipped default) and load
    its weights.

    `overrides` are `TABLE.KEY=VALUE` strings applied to the recorded experiment; `device`
    replaces the recorded backend ("cpu", "cuda", "cuda:1", "mps", "auto"; None keeps it).
    `with_source` also builds the source (evaluation); inference never needs the corpus the
    model was trained on.
    """
    from ..checkpoint import load_weights
    from ..stages import build_stages

    if model is None:
        if task is None:
            raise ConfigError("no model given")
        model = default_model(task)
    extra = device_overrides(device)  # before loading: a device this machine lacks fails at once
    run_dir, checkpoint, exp = load_experiment_of(model, [*overrides, *extra], task=task)
    stages = build_stages(exp, with_source=with_source)
    head = stages.task.build_head(stages.model, stages.features)
    load_weights(checkpoint, {"model": stages.model, "head": head})
    dev = stages.backend.device
    stages.model = stages.model.to(dev).eval()
    head = head.to(dev).eval()
    return LoadedModel(run_dir, checkpoint, exp, stages, stages.model, head)
