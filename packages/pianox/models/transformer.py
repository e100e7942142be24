"""Transformer building blocks of the AST encoder, in the timm/DeiT parameter layout.

Parameter names match the official AST/SSAST checkpoints (`patch_embed.proj`, `blocks.N.norm1`,
`blocks.N.attn.qkv` fused, `blocks.N.attn.proj`, `blocks.N.norm2`, `blocks.N.mlp.fc1/fc2`), so
those load without renaming. Attention goes through `pianox.kernels.attention.attention`, whose
implementation ("auto" | "triton" | "sdpa" | "eager") the caller passes per forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pianox.kernels.attention import attention


class PatchEmbed(nn.Module):
    """(B, T, F) features -> (B, Fp * Tp, D) patch embeddings, frequency-major.

    A Conv2d over the (F, T) plane with kernel (patch_height, patch_width) frequency x time and
    stride (fstride, tstride); token n is patch (n // Tp, n % Tp), the order Conv2d + flatten(2)
    yields and the one AST/HF/SSAST use.
    """

    def __init__(self, dim: int, patch: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=stride)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.proj(features.transpose(1, 2).unsqueeze(1))  # (B, D, Fp, Tp)
        return x.flatten(2).transpose(1, 2)


def attention_with_weights(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           key_padding_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit softmax attention that also returns its weights, for attention maps.

    q, k, v: (B, H, N, Dh); key_padding_mask: (B, N) bool, True = real. Returns the output
    (B, H, N, Dh) and the weights (B, H, N, N) with zeros on padded keys; rows sum to 1.
    """
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * q.shape[-1] ** -0.5
    if key_padding_mask is not None:
        scores = scores.masked_fill(~key_padding_mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, v.float()).to(q.dtype), weights


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection: (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, impl: str = "auto",
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, N, D = x.shape
        # Three (B, H, N, Dh) views of the (B, N, 3, H, Dh) projection. Unbinding dim 2 (not a
        # permuted dim 0) makes the backward stack the q/k/v gradients straight into the layout
        # the qkv Linear's backward reads: one copy instead of a stack plus a permute copy.
        q, k, v = (t.transpose(1, 2) for t in self.qkv(x).view(B, N, 3, self.heads, D // self.heads).unbind(2))
        weights = None
        if need_weights:
            out, weights = attention_with_weights(q, k, v, key_padding_mask)
        else:
            out = attention(q, k, v, key_padding_mask=key_padding_mask, impl=impl)
        return self.proj(out.transpose(1, 2).reshape(B, N, D)), weights


class MLP(nn.Module):
    """fc1 -> exact GELU -> fc2, (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer layer: x + attn(norm1(x)), then x + mlp(norm2(x)).

    `forward(x (B, N, D), key_padding_mask (B, N) bool True = real | None, impl, need_weights)`
    returns the new states and, when `need_weights`, the (B, H, N, N) attention weights.
    """

    def __init__(self, dim: int, heads: int, mlp_hidden: int, qkv_bias: bool = True,
                 dropout: float = 0.0, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, mlp_hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, impl: str = "auto",
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(self.norm1(x), key_padding_mask, impl, need_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.mlp(self.norm2(x)))
        return x, weights
