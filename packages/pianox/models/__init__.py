"""Encoders, the model stage: (B, T, F) features -> (B, N, D) token states.

The built-in encoder is `ast` (`pianox.models.ASTEncoder`, registered through the
`pianox.models` entry point). Its building blocks live in `transformer.py`, positional-grid
resizing in `positions.py`, and checkpoint reading/writing (Hugging Face, official AST/SSAST,
pianox) in `weights.py` and `checkpoint_formats.py`.

Names are imported on first use (PEP 562), so `import pianox.models` imports no torch:

    from pianox.models import ASTEncoder, read_checkpoint
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ASTEncoder": "ast", "grid_size": "ast", "patch_geometry": "ast",
    "Block": "transformer", "PatchEmbed": "transformer",
    "resize_grid": "positions",
    "Checkpoint": "weights", "from_pretrained": "weights", "load_checkpoint": "weights",
    "read_checkpoint": "weights", "save_pretrained": "weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
