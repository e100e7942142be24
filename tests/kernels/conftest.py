"""Inputs for the attention tests: q, k, v and padding masks of the shapes AST and its decoder use."""

from __future__ import annotations

import pytest
import torch

def _make_inputs(batch: int, heads: int, n_q: int, n_k: int, head_dim: int, dtype: torch.dtype = torch.float32,
                device: str = "cpu", mask: str | None = None, seed: int = 0):
    """(q, k, v, key_padding_mask) with q (B, H, Nq, D), k and v (B, H, Nk, D), leaf tensors.

    mask: None; "prefix" (item 0 keeps its first 2/3 keys, the last item is all padding);
    "random" (keys kept with p=0.6, any pattern, the last item all padding); "broadcast" ((1, Nk)).
    """
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, n, head_dim, generator=gen).to(device, dtype).requires_grad_()
               for n in (n_q, n_k, n_k))
    if mask is None:
        key_padding_mask = None
    elif mask == "prefix":
        lengths = torch.full((batch,), max(1, 2 * n_k // 3))
        lengths[-1] = 0
        key_padding_mask = torch.arange(n_k)[None, :] < lengths[:, None]
    elif mask == "random":
        key_padding_mask = torch.rand(batch, n_k, generator=gen) < 0.6
        key_padding_mask[-1] = False
    elif mask == "broadcast":
        key_padding_mask = torch.rand(1, n_k, generator=gen) < 0.6
    else:
        raise ValueError(f"unknown mask kind {mask!r}")
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.to(device)
    return q, k, v, key_padding_mask


def _empty_rows(key_padding_mask: torch.Tensor | None, causal: bool, batch: int, n_q: int, n_k: int) -> torch.Tensor:
    """(B, 1, Nq) bool: query rows that see no key at all (their output must be exactly 0)."""
    from pianox.kernels.attention import _combined_mask

    mask = _combined_mask(key_padding_mask.cpu() if key_padding_mask is not None else None, causal, n_q, n_k,
                          torch.device("cpu"))
    if mask is None:
        return torch.zeros(batch, 1, n_q, dtype=torch.bool)
    return ~mask.any(dim=-1).expand(batch, 1, n_q)


def _reference_grads(q, k, v, key_padding_mask, causal, grad_out, scale=None):
    """Output and (dq, dk, dv) of the fp32 reference on fp32 copies of q, k, v (the ground truth)."""
    from pianox.kernels.attention import reference

    q32, k32, v32 = (t.detach().float().cpu().requires_grad_() for t in (q, k, v))
    mask = key_padding_mask.cpu() if key_padding_mask is not None else None
    out = reference(q32, k32, v32, mask, causal, scale)
    out.backward(grad_out.detach().float().cpu())
    return out.detach(), q32.grad, k32.grad, v32.grad


@pytest.fixture
def make_inputs():
    return _make_inputs


@pytest.fixture
def empty_rows():
    return _empty_rows


@pytest.fixture
def reference_grads():
    return _reference_grads
