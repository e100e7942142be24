"""Which tokens SSAST masks: clusters of neighbouring patches, or tokens at random.

Token indices follow the encoder's frequency-major order on its (Fp, Tp) grid: index
f * Tp + t. Cluster masking (SSAST's choice for patch tokens) repeatedly picks a random start
and masks the square of side 3..5 patches to its upper right (clipped at the grid's edges, no
wrap-around), until `count` tokens are masked; random masking (SSAST's choice for frame tokens)
draws `count` distinct tokens.
"""

from __future__ import annotations

import torch


def cluster_mask(fp: int, tp: int, count: int, allowed: torch.Tensor, generator: torch.Generator,
                 min_side: int = 3, max_side: int = 5) -> torch.Tensor:
    """(N,) bool mask with exactly `count` True among `allowed` (N,) bool, N = fp * tp."""
    n = fp * tp
    count = min(count, int(allowed.sum()))
    mask = torch.zeros(n, dtype=torch.bool)
    candidates = allowed.nonzero().flatten()
    if count <= 0:
        return mask
    chosen: list[int] = []
    masked = 0
    while masked < count:
        start = int(candidates[torch.randint(len(candidates), (1,), generator=generator)])
        side = int(torch.randint(min_side, max_side + 1, (1,), generator=generator))
        f0, t0 = divmod(start, tp)
        block = [f * tp + t for f in range(f0, min(fp, f0 + side)) for t in range(t0, min(tp, t0 + side))]
        for idx in block:
            if allowed[idx] and not mask[idx]:
                mask[idx] = True
                chosen.append(idx)
                masked += 1
    if masked > count:  # the last square overshot: unmask its surplus (the most recent picks)
        for idx in chosen[count:]:
            mask[idx] = False
    return mask


def random_mask(n: int, count: int, allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N,) bool mask with `count` True drawn uniformly among `allowed` (N,) bool."""
    candidates = allowed.nonzero().flatten()
    count = min(count, len(candidates))
    pick = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[pick] = True
    return mask


def batch_masks(real: torch.Tensor, fp: int, tp: int, ratio: float, strategy: str,
                generator: torch.Generator) -> torch.Tensor:
    """(B, N) bool masks for real tokens `real` (B, N) bool, the same count in every row.

    The count is `ratio` x the fewest real tokens of any clip (at least 2, so InfoNCE has a
    negative), so every clip contributes a (count, 256) block to the losses.
    """
    counts = real.sum(dim=1)
    count = max(2, int(round(ratio * int(counts.min()))))
    rows = []
    for row in real.cpu():
        if strategy == "cluster":
            rows.append(cluster_mask(fp, tp, count, row, generator))
        else:
            rows.append(random_mask(fp * tp, count, row, generator))
    return torch.stack(rows).to(real.device)
