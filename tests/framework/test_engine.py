"""Engine pieces: AdamW groups, freezing, schedule, accumulation, early stopping, AMP."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from pianox.config import load_experiment
from pianox.runner import run_experiment
from pianox.testing import DummyModel
from pianox.train.optim import apply_freeze, lr_factor, param_groups
from pianox.train.settings import TrainConfig


def _groups_by_name(model, head, cfg):
    out = {}
    for g in param_groups(model, head, cfg):
        for p in g["params"]:
            out[id(p)] = g
    return {name: out[id(p)] for name, p in [*model.named_parameters(), *(("head." + n, p) for n, p in head.named_parameters())]
            if id(p) in out}


def test_no_weight_decay_on_norms_biases_embeddings_and_head_lr():
    model = DummyModel(DummyModel.Config(dim=8, depth=3), num_bins=4)
    model.pos_embed = torch.nn.Parameter(torch.zeros(1, 5, 8))
    head = torch.nn.Linear(8, 2)
    cfg = TrainConfig(lr=1e-3, head_lr=1e-2, weight_decay=0.05)
    g = _groups_by_name(model, head, cfg)
    assert g["embed.weight"]["weight_decay"] == 0.05
    assert g["embed.bias"]["weight_decay"] == 0.0 and g["norm.weight"]["weight_decay"] == 0.0
    assert g["pos_embed"]["weight_decay"] == 0.0
    assert g["blocks.0.1.weight"]["lr"] == 1e-3 and g["head.weight"]["lr"] == 1e-2


def test_layer_decay_scales_by_depth():
    model = DummyModel(DummyModel.Config(dim=8, depth=3), num_bins=4)
    g = _groups_by_name(model, torch.nn.Linear(8, 1), TrainConfig(lr=1.0, layer_decay=0.5))
    assert g["blocks.2.1.weight"]["lr"] == pytest.approx(0.5)
    assert g["blocks.0.1.weight"]["lr"] == pytest.approx(0.125)
    assert g["embed.weight"]["lr"] == pytest.approx(0.0625)  # embeddings: one below block 0
    assert g["norm.weight"]["lr"] == pytest.approx(1.0)


@pytest.mark.parametrize("freeze,last_k,trainable", [
    ("full", 0, {"embed", "blocks.0", "blocks.1", "blocks.2", "norm"}),
    ("frozen", 0, set()),
    ("last_k", 1, {"blocks.2", "norm"}),
])
def test_freezing(freeze, last_k, trainable):
    model = DummyModel(DummyModel.Config(dim=8, depth=3), num_bins=4)
    apply_freeze(model, TrainConfig(freeze=freeze, last_k=last_k))
    got = {n.rsplit(".", 2)[0] if n.startswith("blocks") else n.split(".")[0]
           for n, p in model.named_parameters() if p.requires_grad}
    assert got == trainable


def test_warmup_then_cosine():
    cfg = TrainConfig(warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_factor(0, 110, cfg) == pytest.approx(0.1)
    assert lr_factor(9, 110, cfg) == pytest.approx(1.0)
    assert lr_factor(60, 110, cfg) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(110, 110, cfg) == pytest.approx(0.1)
    assert lr_factor(50, 110, TrainConfig(schedule="linear")) == pytest.approx(1 - 50 / 110)


def _final(run):
    return load_file(str(run.path / "checkpoints" / "last" / "model.safetensors"))


def test_accumulation_matches_a_larger_batch(write_exp, tmp_path):
    exp = write_exp()
    big = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}/a", "train.batch_size=8",
                                               "run.tensorboard=false"]), quiet=True)
    acc = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}/b", "train.batch_size=4",
                                               "train.accumulate=2", "run.tensorboard=false"]), quiet=True)
    a, b = _final(big), _final(acc)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=2e-5, rtol=1e-4, msg=k)


def test_early_stopping(write_exp, tmp_path):
    exp = write_exp()
    run = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}", "train.epochs=30", "train.lr=0.0",
                                               "train.patience=2", "train.metric=val/loss"]), quiet=True)
    history = json.loads((run.path / "history.json").read_text())
    assert len(history) == 3  # epoch 1 sets best; 2 and 3 do not improve with lr = 0


def test_skip_policy_and_bf16_autocast(write_exp, tmp_path):
    exp = write_exp()
    run = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}", "backend.precision=bf16",
                                               "train.nan_policy=skip"]), quiet=True)
    results = json.loads((run.path / "results.json").read_text())
    assert math.isfinite(results["test/mae"])


def test_augmentation_is_deterministic_and_changes_training(write_exp, tmp_path):
    exp = write_exp()
    aug = ["train.augment.gain_prob=1.0", "train.augment.noise_prob=0.5", "train.augment.time_mask_prob=1.0",
           "train.augment.freq_mask_prob=1.0", "train.augment.freq_mask_width=4", "run.tensorboard=false"]
    one = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}/a", *aug]), quiet=True)
    two = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}/b", *aug]), quiet=True)
    plain = run_experiment(load_experiment(exp, [f"run.output_dir={tmp_path}/c", "run.tensorboard=false"]), quiet=True)
    a, b, c = _final(one), _final(two), _final(plain)
    assert all(a[k].equal(b[k]) for k in a), "same seed, same augmentation, same weights"
    assert any(not a[k].equal(c[k]) for k in a), "augmentation must change what is trained on"
    import tomllib

    saved = tomllib.loads((one.path / "config.toml").read_text())
    assert saved["train"]["augment"]["gain_prob"] == 1.0
