"""Attention with a key padding mask and a causal option: the reference and the dispatcher.

q, k, v are (B, H, N, D); `key_padding_mask` is (B, Nk) bool, True = real token, False = padding.
Rows whose keys are all masked return zeros, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _combined_mask(key_padding_mask: torch.Tensor | None, causal: bool, nq: int, nk: int,
                   device: torch.device) -> torch.Tensor | None:
    """(B|1, 1, Nq, Nk) bool mask, True = attend; None when nothing is masked."""
    mask = None
    if key_padding_mask is not None:
        mask = key_padding_mask[:, None, None, :].to(torch.bool)
    if causal:
        # Query i sees keys j <= i + (nk - nq): aligned at the end, as SDPA does for Nq != Nk.
        i = torch.arange(nq, device=device)[:, None]
        j = torch.arange(nk, device=device)[None, :]
        tri = (j <= i + (nk - nq))[None, None]
        mask = tri if mask is None else mask & tri
    return mask


def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
              causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """Plain-torch attention, the spec: softmax(q kᵀ · scale + mask) v in fp32, (B, H, Nq, D)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale
    mask = _combined_mask(key_padding_mask, causal, q.shape[-2], k.shape[-2], q.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if mask is not None:
        probs = torch.nan_to_num(probs, nan=0.0)  # all-masked rows: softmax of all -inf
    return torch.matmul(probs, v.float()).to(q.dtype)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
         causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """torch's scaled_dot_product_attention with the same mask convention (zeros for empty rows)."""
    mask = _combined_mask(key_padding_mask, causal, q.shape[-2], k.shape[-2], q.device)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    empty = ~mask.any(dim=-1, keepdim=True)  # (B, 1, Nq, 1)
    return out.masked_fill(empty, 0.0)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
              causal: bool = False, scale: float | None = None, impl: str = "auto") -> torch.Tensor:
    """Attention for models: `impl` is "auto" | "triton" | "sdpa" | "eager" (the backend's choice).

    "eager" is `reference`; "sdpa" is torch SDPA; "auto" picks SDPA off CUDA.
    """
    if impl == "eager":
        return reference(q, k, v, key_padding_mask, causal, scale)
    if impl in ("auto", "sdpa", "triton"):
        return sdpa(q, k, v, key_padding_mask, causal, scale)
    raise ValueError(f"unknown attention implementation {impl!r}; expected auto, triton, sdpa or eager")
