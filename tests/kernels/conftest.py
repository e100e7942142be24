"""Inputs for the attention tests: q, k, v and padding masks of the shapes AST and its decoder use
(built by `pianox.testing.attention`, which bench/device_check.py shares), and the fp32 ground truth."""

from __future__ import annotations

import pytest
import torch

from pianox.testing.attention import attention_inputs
from pianox.testing.attention import reference_grads as _reference_grads


def _empty_rows(key_padding_mask: torch.Tensor | None, causal: bool, batch: int, n_q: int, n_k: int) -> torch.Tensor:
    """(B, 1, Nq) bool: query rows that see no key at all (their output must be exactly 0)."""
    from pianox.kernels.attention import _combined_mask

    mask = _combined_mask(key_padding_mask.cpu() if key_padding_mask is not None else None, causal, n_q, n_k,
                          torch.device("cpu"))
    if mask is None:
        return torch.zeros(batch, 1, n_q, dtype=torch.bool)
    return ~mask.any(dim=-1).expand(batch, 1, n_q)


@pytest.fixture
def make_inputs():
    return attention_inputs


@pytest.fixture
def empty_rows():
    return _empty_rows


@pytest.fixture
def reference_grads():
    return _reference_grads
