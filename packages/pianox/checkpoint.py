"""What a checkpoint folder holds for inference, and reading its weights into modules.

    <dir>/model.safetensors   the encoder ("model.*") and the task head ("head.*")

Training, evaluation and inference all read weights through `load_weights`; writing a
checkpoint (with its optimizer state and RNG states) is the training engine's business
(`pianox.train.checkpoint`). Nothing here unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover - torch is imported where weights are read, not to locate them
    import torch

WEIGHTS = "model.safetensors"


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers."""
    module = getattr(module, "module", module)
    return getattr(module, "_orig_mod", module)


def load_weights(path: Path, modules: dict[str, torch.nn.Module], *, strict: bool = True) -> None:
    """Load "prefix.*" tensors of `path`/model.safetensors into each module; shape or key
    mismatches are CheckpointErrors naming the file and the keys. Floating tensors stored in
    another precision (a float16 model folder) are converted to the module's own dtype."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(path) / WEIGHTS
    if not file.exists():
        raise CheckpointError(f"no {WEIGHTS} in checkpoint {path}")
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read {file}: {exc}") from exc
    for prefix, module in modules.items():
        module = unwrap(module)
        own = module.state_dict()
        got = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        for k, v in got.items():
            if k in own and own[k].shape != v.shape:
                raise CheckpointError(f"{file}: {prefix}.{k} has shape {tuple(v.shape)}, "
                                      f"the model expects {tuple(own[k].shape)}")
            if k in own and v.is_floating_point() and own[k].is_floating_point() and v.dtype != own[k].dtype:
                got[k] = v.to(own[k].dtype)
        missing = sorted(set(own) - set(got))
        unexpected = sorted(set(got) - set(own))
        if strict and (missing or unexpected):
            raise CheckpointError(f"{file} does not fit the {prefix}: missing {missing[:5]}"
                                  f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                                  f"{'...' if len(unexpected) > 5 else ''}")
        module.load_state_dict(got, strict=strict)
