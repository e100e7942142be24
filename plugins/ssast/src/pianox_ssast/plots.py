"""plots/reconstruction.png: input, mask and reconstruction of a few validation clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from pianox import atomic
from pianox.train.data import Collate, ExampleDataset, to_device


def fold_patches(values: torch.Tensor, num_frames: int, num_bins: int, patch_shape: tuple[int, int],
                 stride: tuple[int, int]) -> torch.Tensor:
    """(N, ph * pw) patch values -> (F, T) image; overlapping patches are averaged."""
    ph, pw = patch_shape
    t = max(num_frames, pw)
    cols = values.T.unsqueeze(0).float()  # (1, ph * pw, N)
    summed = F.fold(cols, output_size=(num_bins, t), kernel_size=(ph, pw), stride=stride)
    counts = F.fold(torch.ones_like(cols), output_size=(num_bins, t), kernel_size=(ph, pw), stride=stride)
    return (summed / counts.clamp(min=1))[0, 0, :, :num_frames]


def plot_reconstructions(task: Any, run: Any, path: Path) -> None:
    """Draw `task.config.plot_clips` validation clips: input | masked input | reconstruction."""
    stages = run.stages
    examples = list(stages.source.examples(run.experiment.eval.split))[: task.config.plot_clips]
    if not examples:
        return
    dataset = ExampleDataset(examples, stages.features.sample_rate)
    batch = Collate(stages.features, task)([dataset[i] for i in range(len(dataset))])
    model, head = run.model, run.head
    device = next(model.parameters()).device
    batch = to_device(batch, device)
    model.eval()
    with torch.no_grad():
        out = task._forward(model, head, batch, torch.Generator().manual_seed(task.config.eval_seed))
        from .task import patch_targets

        targets = patch_targets(batch["features"], model.patch_shape, model.stride).float()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(examples)
    fig, axes = plt.subplots(rows, 3, figsize=(13, 2.6 * rows), squeeze=False)
    for i in range(rows):
        frames = int(batch["frames"][i])
        mask = out["mask"][i].cpu()
        recon = targets[i].cpu().clone()
        recon[mask] = out["recon"][i].cpu()
        masked = targets[i].cpu().clone()
        masked[mask] = float("nan")
        total = batch["features"].shape[1]  # patches were cut from the padded batch
        images = [fold_patches(v, total, model.num_bins, model.patch_shape, model.stride)[:, :frames]
                  for v in (targets[i].cpu(), masked, recon)]
        for ax, img, title in zip(axes[i], images, ("input", "masked input", "reconstruction")):
            ax.imshow(img.numpy(), origin="lower", aspect="auto", cmap="magma")
            ax.set_title(f"{examples[i].key}: {title}", fontsize=8)
            ax.set_xlabel("frame")
            ax.set_ylabel("mel bin")
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
