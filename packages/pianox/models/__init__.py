"""Encoders, the model stage: (B, T, F) features -> (B, N, D) token states.

The built-in encoder is `ast` (`pianox.models.ASTEncoder`, registered through the
`pianox.models` entry point). Its building blocks live in `transformer.py`, positional-grid
resizing in `positions.py`, and checkpoint reading/writing (Hugging Face, official AST/SSAST,
pianox) in `weights.py` and `checkpoint_formats.py`.

Names are imported on first use (PEP 562), so `import pianox.models` imports no torch:

    from pianox.models import ASTEncoder, read_checkpoint
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "ASTEncoder": "ast", "grid_size": "ast", "patch_geometry": "ast",
    "Block": "transformer", "PatchEmbed": "transformer",
    "resize_grid": "positions",
    "Checkpoint": "weights", "from_pretrained": "weights", "load_checkpoint": "weights",
    "read_checkpoint": "weights", "save_pretrained": "weights",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
