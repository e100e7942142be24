"""A feedforward network on clip statistics of frame descriptors (model plugin `ffn`), the
hand-crafted-features baseline (with the `handcrafted` features plugin).

(B, T, F) frame descriptors + (B, T) padding mask -> per descriptor, over the real frames:
mean, standard deviation, minimum, maximum and mean absolute frame-to-frame change (5F
statistics) -> BatchNorm (standardisation learned from the training data) -> `depth` x
[Linear -> GELU -> Dropout] -> Linear -> (B, 1, dim): one token per clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

STATISTICS = ("mean", "std", "min", "max", "delta")


def clip_statistics(features: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, T, F) features over real frames -> (B, 5F): mean, std, min, max, mean |delta|."""
    B, T, _ = features.shape
    x = features.float()
    real = torch.ones(B, T, dtype=torch.bool, device=x.device) if padding_mask is None else padding_mask.bool()
    w = real.float().unsqueeze(-1)
    n = w.sum(dim=1).clamp(min=1.0)
    mean = (x * w).sum(dim=1) / n
    std = (((x - mean.unsqueeze(1)) ** 2 * w).sum(dim=1) / n).sqrt()
    big = torch.finfo(x.dtype).max
    lo = x.masked_fill(~real.unsqueeze(-1), big).amin(dim=1)
    hi = x.masked_fill(~real.unsqueeze(-1), -big).amax(dim=1)
    empty = ~real.any(dim=1, keepdim=True)
    lo, hi = lo.masked_fill(empty, 0.0), hi.masked_fill(empty, 0.0)
    both = (real[:, 1:] & real[:, :-1]).float().unsqueeze(-1)
    delta = ((x[:, 1:] - x[:, :-1]).abs() * both).sum(dim=1) / both.sum(dim=1).clamp(min=1.0)
    return torch.cat([mean, std, lo, hi, delta], dim=1)


class FeedForwardEncoder(nn.Module):
    """Clip statistics -> MLP: `forward(features (B, T, F), padding_mask (B, T) | None)` -> (B, 1, dim)."""

    name: ClassVar[str] = "ffn"

    @dataclass
    class Config:
        dim: int = 128
        """Output token size D."""
        hidden: int = 256
        """Hidden units per layer."""
        depth: int = 2
        """Hidden layers."""
        dropout: float = 0.1

        def validate(self) -> None:
            if self.dim < 1 or self.hidden < 1 or self.depth < 0:
                raise ValueError("need dim >= 1, hidden >= 1 and depth >= 0")
            if not 0.0 <= self.dropout < 1.0:
                raise ValueError(f"dropout = {self.dropout} must be in [0, 1)")

    num_prefix_tokens: ClassVar[int] = 0

    def __init__(self, config: "FeedForwardEncoder.Config | None" = None, *, num_bins: int = 16):
        super().__init__()
        self.config = cfg = config if config is not None else self.Config()
        self.dim, self.num_bins = cfg.dim, num_bins
        inputs = len(STATISTICS) * num_bins
        self.norm = nn.BatchNorm1d(inputs)
        layers: list[nn.Module] = []
        width = inputs
        for _ in range(cfg.depth):
            layers += [nn.Linear(width, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout)]
            width = cfg.hidden
        layers.append(nn.Linear(width, cfg.dim))
        self.blocks = nn.ModuleList(layers)

    def token_mask(self, padding_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) frame mask -> (B, 1): the clip token is always real."""
        return torch.ones(padding_mask.shape[0], 1, dtype=torch.bool, device=padding_mask.device)

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None, **_: object
                ) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.num_bins:
            raise ValueError(f"ffn: expected features (B, T, {self.num_bins}), got {tuple(features.shape)}")
        x = clip_statistics(features, padding_mask)
        if self.training and x.shape[0] < 2:  # batch statistics need two clips: use the running ones
            x = F.batch_norm(x, self.norm.running_mean, self.norm.running_var, self.norm.weight,
                             self.norm.bias, False, 0.0, self.norm.eps)
        else:
            x = self.norm(x)
        for layer in self.blocks:
            x = layer(x)
        return x.unsqueeze(1)
