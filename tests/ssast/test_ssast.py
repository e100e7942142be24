"""SSAST task: masking, patch targets in the encoder's order, losses, and a short pretraining run."""

from __future__ import annotations

import json

import pytest
import torch

from pianox.config import experiment_from_dict
from pianox.models.ast import ASTEncoder
from pianox.runner import run_experiment
from pianox_ssast.masking import batch_masks, cluster_mask, random_mask
from pianox_ssast.plots import fold_patches
from pianox_ssast.task import SSASTTask, info_nce, patch_targets


def test_cluster_mask_count_and_shape():
    gen = torch.Generator().manual_seed(0)
    allowed = torch.ones(8 * 64, dtype=torch.bool)
    mask = cluster_mask(8, 64, 400, allowed, gen)
    assert int(mask.sum()) == 400
    grid = mask.reshape(8, 64)
    # clusters: most masked patches have a masked neighbour in time or frequency
    neighbours = (grid[:, 1:] & grid[:, :-1]).sum() + (grid[1:] & grid[:-1]).sum()
    assert int(neighbours) > 400


def test_masks_respect_allowed_tokens():
    gen = torch.Generator().manual_seed(1)
    allowed = torch.zeros(6 * 10, dtype=torch.bool)
    allowed.reshape(6, 10)[:, :7] = True  # the last 3 time columns are padding
    for mask in (cluster_mask(6, 10, 30, allowed, gen), random_mask(60, 30, allowed, gen)):
        assert int(mask.sum()) == 30 and not (mask & ~allowed).any()


def test_batch_masks_equal_counts_scaled_to_shortest_clip():
    gen = torch.Generator().manual_seed(2)
    real = torch.ones(2, 8 * 10, dtype=torch.bool)
    real[1].reshape(8, 10)[:, 5:] = False
    masks = batch_masks(real, 8, 10, 400 / 512, "cluster", gen)
    assert masks.sum(1).tolist() == [round(400 / 512 * 40)] * 2
    assert not (masks & ~real).any()


@pytest.mark.parametrize("stride", [10, 16])
def test_patch_targets_follow_the_encoder_order(stride):
    torch.manual_seed(0)
    enc = ASTEncoder(ASTEncoder.Config(dim=32, depth=1, heads=2, fstride=stride, tstride=stride, max_frames=64),
                     num_bins=48)
    x = torch.randn(2, 64, 48)
    targets = patch_targets(x, enc.patch_shape, enc.stride)
    w, b = enc.patch_embed.proj.weight, enc.patch_embed.proj.bias
    expected = enc.patch_embed(x)
    assert targets.shape == (2, enc.grid(64)[0] * enc.grid(64)[1], 256)
    torch.testing.assert_close(targets @ w.reshape(32, -1).T + b, expected, atol=1e-5, rtol=1e-5)
    image = fold_patches(targets[0], 64, 48, enc.patch_shape, enc.stride)
    covered = image.shape[1] - (64 - ((enc.grid(64)[1] - 1) * stride + 16))
    torch.testing.assert_close(image[: (enc.grid(64)[0] - 1) * stride + 16, :covered],
                               x[0].T[: (enc.grid(64)[0] - 1) * stride + 16, :covered])


def test_info_nce_is_zero_loss_for_perfect_separation():
    target = torch.eye(4).unsqueeze(0) * 50
    loss, acc = info_nce(target, target)
    assert float(loss) < 1e-6 and float(acc) == 1.0
    loss, acc = info_nce(torch.zeros(1, 4, 4), target)
    assert float(loss) == pytest.approx(torch.log(torch.tensor(4.0)).item(), rel=1e-5)


def test_loss_backpropagates_into_mask_embedding():
    torch.manual_seed(0)
    enc = ASTEncoder(ASTEncoder.Config(dim=32, depth=1, heads=2, fstride=16, tstride=16, max_frames=128),
                     num_bins=64)
    task = SSASTTask()
    head = task.build_head(enc, None)
    batch = {"features": torch.randn(2, 128, 64), "padding_mask": torch.ones(2, 128, dtype=torch.bool)}
    loss, logs = task.loss(enc, head, batch)
    loss.backward()
    assert set(logs) == {"nce", "mse", "acc"}
    assert float(loss.detach()) == pytest.approx(logs["nce"] + 10 * logs["mse"], rel=1e-5)
    assert enc.mask_embed.grad is not None and enc.mask_embed.grad.abs().sum() > 0


def test_pretraining_run_lowers_validation_losses(tmp_path):
    raw = {
        "run": {"name": "ssast-dummy", "seed": 0, "output_dir": str(tmp_path)},
        "source": {"kind": "dummy", "num_train": 24, "num_validation": 6, "num_test": 0, "seconds": 1.3},
        "features": {"kind": "dummy", "num_bins": 32},
        "model": {"kind": "ast", "preset": "tiny", "depth": 2, "fstride": 16, "tstride": 16, "max_frames": 128},
        "task": {"kind": "ssast", "plot_clips": 2},
        "backend": {"kind": "cpu"},
        "train": {"epochs": 6, "batch_size": 6, "lr": 1e-3, "warmup_steps": 2, "metric": "val/loss"},
        "eval": {"test": False},
    }
    run = run_experiment(experiment_from_dict(raw), quiet=True)
    evals = [r for r in run.read_metrics() if "val/nce" in r]
    assert len(evals) == 6
    first, last = evals[0], evals[-1]
    assert last["val/mse"] < first["val/mse"] and last["val/nce"] < first["val/nce"]
    assert 0.0 <= last["val/acc"] <= 1.0
    assert (run.path / "plots" / "reconstruction.png").stat().st_size > 10_000
    assert (run.path / "checkpoints" / "encoder" / "model.safetensors").exists()
    assert json.loads((run.path / "status.json").read_text())["state"] == "finished"
