"""A small CNN on the log-mel (model plugin `cnn`), the convolutional baseline.

(B, T, F) features -> `len(channels)` blocks of [3x3 conv -> BatchNorm -> ReLU -> 2x2 max-pool]
over the (time, frequency) plane -> mean over the remaining frequency rows -> Linear ->
(B, T // 2^L, dim) token states, one per 2^L frames. Activations of padded frames are zeroed
after every block, so (in eval mode) padding never changes the states of real tokens, as the
Model contract asks; `token_mask` gives which tokens are real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F


class CNNEncoder(nn.Module):
    """Convolutional baseline encoder: `forward(features (B, T, F), padding_mask (B, T) | None)`
    -> (B, T // 2^L, dim)."""

    name: ClassVar[str] = "cnn"

    @dataclass
    class Config:
        channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
        """Output channels of the conv blocks; each block halves time and frequency."""
        dim: int = 128
        """Token size D."""
        dropout: float = 0.1
        """Dropout before the output projection."""

        def validate(self) -> None:
            if not self.channels or min(self.channels) < 1 or self.dim < 1:
                raise ValueError("channels must be a non-empty list of positive sizes and dim >= 1")
            if not 0.0 <= self.dropout < 1.0:
                raise ValueError(f"dropout = {self.dropout} must be in [0, 1)")

    num_prefix_tokens: ClassVar[int] = 0

    def __init__(self, config: "CNNEncoder.Config | None" = None, *, num_bins: int = 128):
        super().__init__()
        self.config = cfg = config if config is not None else self.Config()
        self.dim, self.num_bins = cfg.dim, num_bins
        self.downsample = 2 ** len(cfg.channels)
        if num_bins < self.downsample:
            raise ValueError(f"cnn: {len(cfg.channels)} blocks need at least {self.downsample} "
                             f"frequency bins, the features have {num_bins}")
        blocks, c_in = [], 1
        for c in cfg.channels:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                        nn.ReLU(inplace=True)))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(c_in, cfg.dim)

    def token_mask(self, padding_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) frame mask -> (B, T // 2^L) token mask: a token is real when all its frames are."""
        T = padding_mask.shape[1]
        n = max(T, self.downsample) // self.downsample
        m = F.pad(padding_mask, (0, n * self.downsample - T), value=False) if T < n * self.downsample \
            else padding_mask[:, : n * self.downsample]
        return m.reshape(m.shape[0], n, self.downsample).all(dim=2)

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None, **_: object
                ) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.num_bins:
            raise ValueError(f"cnn: expected features (B, T, {self.num_bins}), got {tuple(features.shape)}")
        B, T, _ = features.shape
        if T < self.downsample:
            features = F.pad(features, (0, 0, 0, self.downsample - T))
            if padding_mask is None:
                padding_mask = features.new_zeros(B, features.shape[1], dtype=torch.bool)
                padding_mask[:, :T] = True
            else:
                padding_mask = F.pad(padding_mask, (0, self.downsample - T), value=False)
        x = features.unsqueeze(1)  # (B, 1, T, F)
        mask = None if padding_mask is None else padding_mask.to(x.dtype)[:, None, :, None]
        for block in self.blocks:
            if mask is not None:
                x = x * mask
            x = F.max_pool2d(block(x), 2)
            if mask is not None:  # a pooled frame is real only if both of its frames were
                mask = -F.max_pool2d(-mask, (2, 1))
        if mask is not None:
            x = x * mask
        x = x.mean(dim=3).transpose(1, 2)  # (B, T', C)
        return self.proj(self.drop(x))
