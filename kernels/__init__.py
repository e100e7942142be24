"""Triton kernels, one op per file, each with its plain-torch reference beside it.

Importable without Triton: every op falls back to its reference/SDPA path when Triton (or a
GPU) is missing.
"""
