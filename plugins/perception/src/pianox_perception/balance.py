"""Adaptive balancing of the group losses: homoscedastic uncertainty weighting.

Kendall, Gal & Cipolla (2018), "Multi-task learning using uncertainty to weigh losses", for
regression tasks: each group g has a learned log-variance s_g = log sigma_g^2 and

    L = sum_g 0.5 * exp(-s_g) * L_g + 0.5 * s_g

so a group whose loss stays high (noisy labels) is down-weighted, and the 0.5 * s_g term keeps
the weights from collapsing to zero. For fixed L_g the minimum over s_g is at s_g = log L_g,
i.e. every group then contributes 0.5 * (1 + log L_g).
"""

from __future__ import annotations

import torch
from torch import nn


class UncertaintyWeights(nn.Module):
    """Learned log-variances s (G,) for G group losses; `forward(losses (G,))` -> scalar loss."""

    def __init__(self, groups: int):
        super().__init__()
        self.log_vars = nn.Parameter(torch.zeros(groups))

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        """sum_g 0.5 exp(-s_g) L_g + 0.5 s_g for (G,) group losses."""
        s = self.log_vars.float()
        return (0.5 * torch.exp(-s) * losses.float() + 0.5 * s).sum()

    def weights(self) -> torch.Tensor:
        """(G,) effective weights 0.5 exp(-s_g) on the group losses."""
        return 0.5 * torch.exp(-self.log_vars.detach().float())
