"""Encoders, the model stage: (B, T, F) features -> (B, N, D) token states.

The built-in encoder is `ast` (`pianox.models.ast.ASTEncoder`, registered through the
`pianox.models` entry point). Its building blocks live in `transformer.py`, positional-grid
resizing in `positions.py`, and checkpoint reading/writing (Hugging Face, official AST/SSAST,
pianox) in `weights.py` and `checkpoint_formats.py`. This package imports nothing on its own.
"""
