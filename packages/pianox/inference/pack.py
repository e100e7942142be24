"""`pianox models pack`: a run's checkpoint → a model folder that ships on its own.

    <folder>/config.toml          the run's experiment, `[model] init` cleared
    <folder>/model.safetensors    encoder ("model.*") and head ("head.*"), as the checkpoint
                                  (fp16: float32 tensors stored as float16, loaded as float32)
    <folder>/<name>.json          the checkpoint folder's other JSON files: the task's decoding
                                  files (e.g. drums_thresholds.json) and the encoder's
                                  config.json (which makes the folder a `[model] init`)
    <folder>/README.md            the model card (pianox.inference.card)
    <folder>/manifest.json        {"name", "task", "files": {file: sha256}, "created_from",
                                  "commit", "dtype"}; checked on every load (models.verify)

The folder is written into a temporary folder beside it and renamed into place, so it appears
whole or not at all. The optimizer state (state.pt) never travels: nothing in a model folder is
pickled.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from .. import atomic
from ..checkpoint import WEIGHTS
from ..errors import CheckpointError, ConfigError, OutputError
from .models import MANIFEST, locate, sha256, verify

LEFT_BEHIND = {"meta.json", MANIFEST}
"""JSON files of a checkpoint (or model) folder that do not travel: training counters, and the
manifest of a folder being packed again (a new one is written)."""


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} {path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _recorded(key: str, files: Sequence[Path]) -> str | None:
    """The first non-empty string `key` of these JSON files (missing or unreadable ones skipped)."""
    for file in files:
        if file.is_file():
            try:
                value = json.loads(file.read_text(encoding="utf-8")).get(key)
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(value, str) and value:
                return value
    return None


def _experiment(run_dir: Path, checkpoint: Path) -> str | None:
    """The experiment file a run recorded in its status.json (or a packed folder's manifest)."""
    return _recorded("experiment", (checkpoint / MANIFEST, run_dir / "status.json"))


def _commit(run_dir: Path, checkpoint: Path) -> str | None:
    """The git commit a run recorded (a "commit" in its status, results, checkpoint meta or, for
    a packed folder, its manifest), else None."""
    return _recorded("commit", (checkpoint / MANIFEST, checkpoint / "meta.json", run_dir / "results.json",
                                run_dir / "status.json"))


def _check_target(folder: Path, overwrite: bool, sources: Sequence[Path]) -> None:
    """Refuse an existing folder without `overwrite`, and with it anything but a model folder;
    never a folder holding (or inside) the model being packed."""
    resolved = folder.resolve()
    for src in sources:
        src = src.resolve()
        if resolved == src or resolved in src.parents or src in resolved.parents:
            raise OutputError(f"-o {folder}: the model folder may not hold, or lie inside, {src}")
    if folder.exists() or folder.is_symlink():
        if not overwrite:
            raise OutputError(f"{folder} exists; use --overwrite to replace it")
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / MANIFEST).is_file()):
            raise OutputError(f"{folder} is not a model folder (no {MANIFEST}); --overwrite replaces only "
                              f"a model folder or an empty one")
    elif folder.parent.exists() and not folder.parent.is_dir():
        raise OutputError(f"-o {folder}: {folder.parent} is a file")


def _report_of(path: Path, run_dir: Path, checkpoint: Path) -> dict[str, Any]:
    """An evaluation report, refused when it scores another run or checkpoint (compared by
    folder name: a run's name holds its config hash, so a run moved between machines matches)."""
    report = _read_json(path, "--metrics report")
    run = report.get("run")
    if isinstance(run, str) and Path(run).name != run_dir.name:
        raise ConfigError(f"--metrics report {path} scores {run}, not the packed model {run_dir}")
    scored = report.get("checkpoint", report.get("model_file"))
    if isinstance(scored, str) and Path(scored).suffix != ".onnx" and Path(scored).name != checkpoint.name:
        raise ConfigError(f"--metrics report {path} scores the checkpoint {scored}, not the packed {checkpoint}")
    return report


def write_weights(src: Path, dst: Path, fp16: bool) -> tuple[dict[str, int], str]:
    """Copy the checkpoint's weights: byte for byte, or (`fp16`) with float32 tensors stored as
    float16 — except those whose values float16 cannot hold (beyond ±65504), which stay float32,
    as do float64 buffers (counters kept in double on purpose). Returns (tensor elements per
    prefix, the floating dtypes stored, e.g. "float16+float64")."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    try:
        tensors = load_file(str(src))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read {src}: {exc}") from exc
    if fp16:
        for key, t in tensors.items():
            if t.dtype == torch.float32:
                half = t.to(torch.float16)
                if bool((torch.isfinite(half) | ~torch.isfinite(t)).all()):
                    tensors[key] = half
        save_file(tensors, str(dst), metadata={"format": "pt", "pianox": "1"})
    else:
        shutil.copyfile(src, dst)
    counts: dict[str, int] = {}
    for key, t in tensors.items():
        prefix = key.split(".", 1)[0]
        counts[prefix] = counts.get(prefix, 0) + t.numel()
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values() if t.is_floating_point()})
    return counts, "+".join(dtypes) or "none"


def pack(model: str | Path, folder: str | Path, *, name: str, fp16: bool = False,
         reports: Sequence[str | Path] = (), licence: str | None = None, overwrite: bool = False) -> Path:
    """Write the model folder of the module doc for `model` (a run directory, a checkpoint
    folder inside one, or a model folder) at `folder`, with the metrics of `reports` (JSON
    reports of `pianox eval -o`, `drums-eval -o`, `transcribe-eval -o`) in its card."""
    import tomli_w

    from .card import model_card

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if not name or Path(name).name != name or name.startswith("."):
        raise ConfigError(f"--name {name!r}: expected a plain model name (letters, digits, '-', '_')")
    run_dir, checkpoint = locate(model)
    verify(checkpoint)
    if not (checkpoint / WEIGHTS).is_file():
        raise CheckpointError(f"{run_dir}: no trained weights at {checkpoint / WEIGHTS}")
    folder = Path(folder).expanduser()
    _check_target(folder, overwrite, [run_dir, checkpoint])
    try:
        config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CheckpointError(f"{run_dir / 'config.toml'}: cannot read the run's experiment: {exc}") from exc
    task = config.get("task", {}).get("kind")
    if not isinstance(task, str):
        raise CheckpointError(f"{run_dir / 'config.toml'}: no [task] kind recorded")
    if config.get("model", {}).get("init"):
        config["model"]["init"] = ""  # the checkpoint holds every weight
    metrics = [(f"`{Path(p).name}` (evaluation report)", _report_of(Path(p), run_dir, checkpoint)) for p in reports]
    if (run_dir / "results.json").is_file():
        metrics.append(("The run's final test (results.json)", _read_json(run_dir / "results.json", "results")))
    decoding = sorted(p for p in checkpoint.glob("*.json") if p.name not in LEFT_BEHIND)
    commit = _commit(run_dir, checkpoint)
    experiment = _experiment(run_dir, checkpoint)
    with atomic.atomic_dir(folder) as tmp:
        (tmp / "config.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
        parameters, dtype = write_weights(checkpoint / WEIGHTS, tmp / WEIGHTS, fp16)
        for file in decoding:
            shutil.copyfile(file, tmp / file.name)
        card = model_card(name=name, task=task, config=config, created_from=str(checkpoint), commit=commit,
                          experiment=experiment, parameters=parameters, dtype=dtype, weights_bytes=(tmp / WEIGHTS).stat().st_size,
                          metrics=metrics, licence=licence)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        manifest = {"name": name, "task": task, "files": {p.name: sha256(p) for p in sorted(tmp.iterdir())},
                    "created_from": str(checkpoint), "commit": commit, "experiment": experiment,
                    "dtype": dtype}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder
