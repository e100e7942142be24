"""The note decoder: a pre-norm transformer decoder over the encoder's token states.

Each layer: causal self-attention, cross-attention to the (projected) encoder tokens with
the encoder's token mask as key padding mask, and an MLP; both attentions go through
`pianox.kernels.attention.attention` with q, k, v as (B, H, N, Dh). Generation keeps a
key/value cache: self-attention keys and values are written into preallocated
(B, H, max_tokens, Dh) buffers as tokens arrive, cross-attention keys and values are computed
once per sequence, so each step costs one token's worth of work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pianox.kernels.attention import attention


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, D) -> (B, H, N, D / H)."""
    B, N, D = x.shape
    return x.view(B, N, heads, D // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(B, H, N, Dh) -> (B, N, H * Dh)."""
    B, H, N, Dh = x.shape
    return x.transpose(1, 2).reshape(B, N, H * Dh)


@dataclass
class LayerCache:
    """One layer's generation cache: self-attention keys/values (B, H, max_tokens, Dh) filled
    up to the state's length, and the cross-attention keys/values (B, H, M, Dh)."""

    k: torch.Tensor
    v: torch.Tensor
    mk: torch.Tensor
    mv: torch.Tensor


@dataclass
class DecodeState:
    """Everything incremental decoding carries between steps, for B sequences."""

    caches: list[LayerCache]
    memory_mask: torch.Tensor | None
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows `index` of every cache, in that order (beam search)."""
        for c in self.caches:
            c.k, c.v = c.k.index_select(0, index), c.v.index_select(0, index)
            c.mk, c.mv = c.mk.index_select(0, index), c.mv.index_select(0, index)
        if self.memory_mask is not None:
            self.memory_mask = self.memory_mask.index_select(0, index)


class DecoderLayer(nn.Module):
    """Self-attention (causal) -> cross-attention -> MLP, each pre-normed and residual."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_q = nn.Linear(dim, dim)
        self.cross_kv = nn.Linear(dim, 2 * dim)
        self.cross_proj = nn.Linear(dim, dim)
        self.norm3 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, D) projected encoder states -> cross-attention keys and values (B, H, M, Dh)."""
        k, v = self.cross_kv(memory).chunk(2, dim=-1)
        return _heads(k, self.heads), _heads(v, self.heads)

    def forward(self, x: torch.Tensor, mk: torch.Tensor, mv: torch.Tensor, memory_mask: torch.Tensor | None,
                impl: str, cache: LayerCache | None = None, start: int = 0) -> torch.Tensor:
        """x (B, L, D) at positions start..start+L-1 -> (B, L, D). With `cache`, the new keys and
        values are stored at those positions and attention covers positions 0..start+L-1."""
        q, k, v = (_heads(t, self.heads) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if cache is not None:
            end = start + x.shape[1]
            cache.k[:, :, start:end] = k
            cache.v[:, :, start:end] = v
            k, v = cache.k[:, :, :end], cache.v[:, :, :end]
        a = attention(q, k, v, causal=True, impl=impl)  # ends aligned: query i sees keys <= start + i
        x = x + self.drop(self.proj(_merge(a)))
        q = _heads(self.cross_q(self.norm2(x)), self.heads)
        c = attention(q, mk, mv, key_padding_mask=memory_mask, impl=impl)
        x = x + self.drop(self.cross_proj(_merge(c)))
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.norm3(x)))))


class NoteDecoder(nn.Module):
    """Token ids (B, L) + encoder states (B, M, E) -> next-token logits (B, L, V).

    Learned token and position embeddings (`max_tokens` positions), `layers` decoder layers of
    width `dim` with `heads` heads, a final LayerNorm and an output projection.
    """

    def __init__(self, vocab_size: int, memory_dim: int, dim: int = 256, layers: int = 4, heads: int = 8,
                 hidden: int = 1024, dropout: float = 0.1, max_tokens: int = 1024):
        super().__init__()
        if dim % heads:
            raise ValueError(f"decoder dim {dim} is not divisible by {heads} heads")
        self.vocab_size, self.dim, self.heads, self.max_tokens = vocab_size, dim, heads, max_tokens
        self.memory_proj = nn.Linear(memory_dim, dim)
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(max_tokens, dim)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, hidden, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, vocab_size)
        self.drop = nn.Dropout(dropout)
        self.attention_impl = "auto"
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)

    def _embed(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        L = tokens.shape[1]
        if start + L > self.max_tokens:
            raise ValueError(f"decoding past max_tokens={self.max_tokens} positions")
        positions = torch.arange(start, start + L, device=tokens.device)
        return self.drop(self.embed(tokens) + self.pos(positions)[None])

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Teacher-forced logits (B, L, V) for input tokens (B, L) (SOS first) given encoder
        states (B, M, E) and their (B, M) bool mask (True = real)."""
        mem = self.memory_proj(memory)
        x = self._embed(tokens, 0)
        for layer in self.layers:
            mk, mv = layer.memory_kv(mem)
            x = layer(x, mk, mv, memory_mask, self.attention_impl)
        return self.out(self.norm(x))

    def begin(self, memory: torch.Tensor, memory_mask: torch.Tensor | None = None, repeat: int = 1
              ) -> DecodeState:
        """A fresh generation state for memory (B, M, E), each sequence repeated `repeat` times
        (beams) -> B * repeat rows, beams of one sequence adjacent."""
        if repeat > 1:
            memory = memory.repeat_interleave(repeat, dim=0)
            memory_mask = None if memory_mask is None else memory_mask.repeat_interleave(repeat, dim=0)
        mem = self.memory_proj(memory)
        B = mem.shape[0]
        caches = []
        for layer in self.layers:
            mk, mv = layer.memory_kv(mem)
            shape = (B, self.heads, self.max_tokens, self.dim // self.heads)
            caches.append(LayerCache(mem.new_zeros(shape), mem.new_zeros(shape), mk, mv))
        return DecodeState(caches, memory_mask)

    def step(self, state: DecodeState, tokens: torch.Tensor) -> torch.Tensor:
        """Feed tokens (B,) or (B, L) after those already in `state`; returns the logits (B, V)
        for the position after the last one and advances the state."""
        tokens = tokens.view(tokens.shape[0], -1)
        x = self._embed(tokens, state.length)
        for layer, cache in zip(self.layers, state.caches):
            x = layer(x, cache.mk, cache.mv, state.memory_mask, self.attention_impl, cache, state.length)
        state.length += tokens.shape[1]
        return self.out(self.norm(x[:, -1]))
