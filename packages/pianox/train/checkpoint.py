"""Checkpoints: safetensors weights + a weights-only state file, written atomically.

    <dir>/model.safetensors   the encoder ("model.*") and the task head ("head.*")
    <dir>/state.pt            optimizer, scheduler, scaler, counters, RNG states; loadable with
                              torch.load(weights_only=True) (tensors, numbers, strings only)
    <dir>/meta.json           step, epoch, metric values, experiment hash (human-readable)

Nothing here ever unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .. import atomic
from ..checkpoint import WEIGHTS, load_weights
from ..checkpoint import unwrap as _unwrap
from ..errors import CheckpointError

STATE = "state.pt"
META = "meta.json"

__all__ = ["META", "STATE", "WEIGHTS", "load_state", "load_weights", "prune", "read_meta", "rng_state", "save",
           "set_rng_state"]  # weights are read in pianox.checkpoint (inference needs no training code)


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in weights-only-loadable form."""
    np_state = np.random.get_state()
    state = {
        "python": _to_lists(random.getstate()),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(x: Any) -> Any:
    return [_to_lists(v) for v in x] if isinstance(x, tuple) else x


def save(path: Path, modules: dict[str, torch.nn.Module], state: dict[str, Any] | None,
         meta: dict[str, Any]) -> None:
    """Write a checkpoint folder atomically (a crash leaves the previous one intact).

    A model with `config_json()` (the AST encoder) also gets a config.json, which makes the
    folder loadable by the model's `from_pretrained` / `[model] init = "<run>/checkpoints/best"`.
    """
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for k, v in _unwrap(module).state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().to("cpu").contiguous()
    with atomic.atomic_dir(path) as tmp:
        save_file(_dedupe(tensors), str(tmp / WEIGHTS), metadata={"format": "pt", "pianox": "1"})
        if state is not None:
            torch.save(state, tmp / STATE)
        (tmp / META).write_text(json.dumps(meta, indent=2, default=float) + "\n", encoding="utf-8")
        describe = getattr(_unwrap(modules.get("model", torch.nn.Module())), "config_json", None)
        if callable(describe):
            (tmp / "config.json").write_text(json.dumps(describe(), indent=2) + "\n", encoding="utf-8")


def _dedupe(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses shared storage (tied weights): give each entry its own copy."""
    seen: set[int] = set()
    out = {}
    for k, v in tensors.items():
        ptr = v.untyped_storage().data_ptr() if v.numel() else -len(out) - 1
        out[k] = v.clone() if ptr in seen else v
        seen.add(ptr)
    return out


def load_state(path: Path) -> dict[str, Any]:
    """The training state of a checkpoint, loaded weights-only (no arbitrary unpickling)."""
    file = path / STATE
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no {STATE} in checkpoint {path}") from None
    except Exception as exc:  # corrupt file or disallowed content
        raise CheckpointError(f"cannot load {file} weights-only: {exc}") from exc


def read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def prune(root: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` step-N/ folders under `root` (last/ and best/ stay)."""
    steps = sorted((p for p in root.glob("step-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
    for old in steps[: max(0, len(steps) - keep_last)]:
        shutil.rmtree(old, ignore_errors=True)
