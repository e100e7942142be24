"""The perception head: pooled encoder states -> 19 ratings, one small MLP per dimension group.

    states (B, P + N, D) ──pool──► (B, D) ──group MLP g──► (B, K_g) standardised ratings
                                                   └── scattered into (B, 19), label order

Pooling: "prefix" (mean of the cls/distillation tokens), "mean" (mean of the real patch
tokens) or "attention" (a learned softmax weighting of the real patch tokens, one per group;
it starts as the mean). Layout "grouped" gives each group its own MLP (and attention pool);
"shared" is one MLP for all 19 outputs.

Targets are standardised per dimension (or per group, or not at all) with statistics of the
training targets the head has seen, and predictions are mapped back and clipped to [0, 1].
The statistics are cumulative sums over every training batch (so after each full epoch they
are exactly the train split's mean and std), and each update rescales the output layers so
that the head's de-standardised predictions do not change (PopArt's "preserving outputs
precisely", van Hasselt et al., 2016). They are buffers, saved and loaded with the weights.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

from .balance import UncertaintyWeights

STD_FLOOR = 0.02
"""Smallest standard deviation used to standardise a target (ratings are in [0, 1])."""


class Pooling(nn.Module):
    """(B, P + N, D) token states + (B, P + N) bool real-token mask -> (B, D)."""

    def __init__(self, kind: Literal["prefix", "mean", "attention"], dim: int, prefix_tokens: int):
        super().__init__()
        self.kind, self.prefix = kind, prefix_tokens
        if kind == "attention":
            self.norm = nn.LayerNorm(dim)
            self.score = nn.Linear(dim, 1)
            nn.init.zeros_(self.score.weight)  # uniform weights at the start: the mean
            nn.init.zeros_(self.score.bias)

    def forward(self, states: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.kind == "prefix":
            return states[:, : self.prefix].mean(dim=1)
        tokens, mask = states[:, self.prefix:], real[:, self.prefix:]
        if self.kind == "mean":
            w = mask.to(tokens.dtype).unsqueeze(-1)
            return (tokens * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)
        scores = self.score(self.norm(tokens)).squeeze(-1).float()
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0).to(tokens.dtype)  # all-padded rows -> 0
        return (weights.unsqueeze(-1) * tokens).sum(dim=1)


def _mlp(dim: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    """LayerNorm -> [Linear -> GELU -> Dropout] -> Linear; `hidden = 0` is a linear probe."""
    if hidden <= 0:
        return nn.Sequential(nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, outputs))
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, outputs))


class PerceptionHead(nn.Module):
    """Pooling + group MLPs + target standardisation + (optional) uncertainty weights.

    `groups` is [(name, dimension indices)] covering range(outputs) exactly once (see
    `dimensions.resolve_groups`). `forward(states (B, P + N, D), real (B, P + N))` returns
    (B, outputs) standardised predictions; `ratings(...)` the same in [0, 1].
    """

    def __init__(self, dim: int, prefix_tokens: int, groups: Sequence[tuple[str, Sequence[int]]], *,
                 outputs: int = 19, layout: Literal["grouped", "shared"] = "grouped",
                 pool: Literal["prefix", "mean", "attention"] = "mean", hidden: int = 256,
                 dropout: float = 0.1, normalise: Literal["dimension", "group", "none"] = "dimension",
                 balance: Literal["uncertainty", "none"] = "uncertainty",
                 dim_weights: Sequence[float] | None = None):
        super().__init__()
        self.groups = [(name, list(idx)) for name, idx in groups]
        self.layout, self.normalise_mode, self.outputs = layout, normalise, outputs
        heads = self.groups if layout == "grouped" else [("all", list(range(outputs)))]
        self.columns = [idx for _, idx in heads]
        per_head_pool = pool == "attention" and layout == "grouped"
        self.pools = nn.ModuleList(Pooling(pool, dim, prefix_tokens)
                                   for _ in (heads if per_head_pool else heads[:1]))
        self.mlps = nn.ModuleList(_mlp(dim, hidden, len(idx), dropout) for idx in self.columns)
        self.balance = UncertaintyWeights(len(self.groups)) if balance == "uncertainty" else None
        weights = torch.ones(outputs) if dim_weights is None else torch.as_tensor(dim_weights, dtype=torch.float32)
        self.register_buffer("dim_weights", weights.float())
        self.register_buffer("target_mean", torch.full((outputs,), 0.5))
        self.register_buffer("target_std", torch.full((outputs,), 0.25 if normalise != "none" else 1.0))
        self.register_buffer("seen", torch.zeros((), dtype=torch.float64))
        self.register_buffer("seen_sum", torch.zeros(outputs, dtype=torch.float64))
        self.register_buffer("seen_sq", torch.zeros(outputs, dtype=torch.float64))
        if normalise == "none":
            self.target_mean.zero_()

    # ------------------------------------------------------------------------ prediction

    def forward(self, states: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """(B, P + N, D) states, (B, P + N) bool real mask -> (B, outputs) standardised outputs."""
        pooled = [pool(states, real) for pool in self.pools]
        out = states.new_zeros(states.shape[0], self.outputs, dtype=torch.float32)
        for i, (mlp, cols) in enumerate(zip(self.mlps, self.columns)):
            out[:, cols] = mlp(pooled[min(i, len(pooled) - 1)]).float()
        return out

    def ratings(self, standardised: torch.Tensor) -> torch.Tensor:
        """(B, outputs) standardised outputs -> ratings clipped to [0, 1]."""
        return (standardised * self.target_std + self.target_mean).clamp(0.0, 1.0)

    def standardise(self, ratings: torch.Tensor) -> torch.Tensor:
        """(B, outputs) ratings in [0, 1] -> standardised targets."""
        return (ratings.float() - self.target_mean) / self.target_std

    # ------------------------------------------------------------------------ loss

    def group_losses(self, standardised: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(G,) weighted mean squared errors per group in standardised units."""
        se = (standardised - self.standardise(targets)) ** 2 * self.dim_weights
        w = self.dim_weights
        return torch.stack([se[:, idx].sum(dim=1).mean() / w[idx].sum() for _, idx in self.groups])

    def combine(self, losses: torch.Tensor) -> torch.Tensor:
        """Scalar training loss from (G,) group losses: uncertainty weighting, or the plain
        weighted MSE over all dimensions when balancing is off."""
        if self.balance is not None:
            return self.balance(losses)
        sizes = torch.tensor([float(self.dim_weights[idx].sum()) for _, idx in self.groups],
                             device=losses.device)
        return (losses * sizes).sum() / sizes.sum()

    # ------------------------------------------------------------------------ statistics

    @torch.no_grad()
    def observe(self, targets: torch.Tensor) -> None:
        """Add (B, outputs) training targets to the running statistics, re-standardise, and
        rescale the output layers so that `ratings(forward(...))` is unchanged (PopArt)."""
        if self.normalise_mode == "none":
            return
        t = targets.detach().to(self.seen_sum.device, torch.float64)
        self.seen += t.shape[0]
        self.seen_sum += t.sum(dim=0)
        self.seen_sq += (t * t).sum(dim=0)
        n = float(self.seen)
        mean = self.seen_sum / n
        var = (self.seen_sq / n - mean * mean).clamp(min=0.0)
        if self.normalise_mode == "group":
            for _, idx in self.groups:
                g_mean = mean[idx].mean()
                # pooled variance of the group's ratings around the group mean
                g_var = (var[idx] + (mean[idx] - g_mean) ** 2).mean()
                mean[idx], var[idx] = g_mean, g_var
        std = var.sqrt().clamp(min=STD_FLOOR) if n >= 2 else self.target_std.double()
        self._preserve_outputs(mean.float(), std.float())
        self.target_mean.copy_(mean.float())
        self.target_std.copy_(std.float())

    def _preserve_outputs(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Rescale the last Linear of every MLP: y = s z + m stays the same under new (m', s')."""
        for mlp, cols in zip(self.mlps, self.columns):
            last: nn.Linear = mlp[-1]
            old_s, old_m = self.target_std[cols], self.target_mean[cols]
            new_s, new_m = std[cols], mean[cols]
            last.weight.mul_((old_s / new_s).unsqueeze(1))
            last.bias.copy_((old_s * last.bias + old_m - new_m) / new_s)
