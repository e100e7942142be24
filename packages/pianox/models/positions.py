"""Positional embeddings on the (frequency patches x time patches) grid: crop or interpolate.

A learned positional table holds one vector per patch of a fixed grid (Fg, Tg), stored
frequency-major as (1, Fg * Tg, D). Inputs of another length, and checkpoints trained on another
grid, get a table cropped from the start of the time axis (when patch positions keep their
meaning: same stride and patch width) or resized bilinearly on the grid, as AST and SSAST do when
they move positional embeddings between ImageNet, AudioSet and downstream shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_grid(table: torch.Tensor, src: tuple[int, int], dst: tuple[int, int], crop_time: bool = True
                ) -> torch.Tensor:
    """Map a (1, Fs * Ts, D) positional table on grid `src` = (Fs, Ts) to grid `dst` = (Fd, Td).

    The time axis is cropped to its first Td columns when `crop_time` and Td <= Ts (an embedding
    then keeps the time offset it was trained for); every other change is bilinear interpolation
    (align_corners=False) on the grid. Returns (1, Fd * Td, D) in the table's dtype.
    """
    (fs, ts), (fd, td) = src, dst
    if table.shape[1] != fs * ts:
        raise ValueError(f"positional table has {table.shape[1]} entries, grid {fs}x{ts} needs {fs * ts}")
    if (fs, ts) == (fd, td):
        return table
    d = table.shape[-1]
    grid = table.reshape(1, fs, ts, d)
    if crop_time and td <= ts:
        grid = grid[:, :, :td]
    if grid.shape[1:3] != (fd, td):
        resized = F.interpolate(grid.permute(0, 3, 1, 2).float(), size=(fd, td), mode="bilinear",
                                align_corners=False)
        grid = resized.permute(0, 2, 3, 1).to(table.dtype)
    return grid.reshape(1, fd * td, d)
