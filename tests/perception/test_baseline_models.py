"""The baseline plugins: `cnn` and `ffn` models, `handcrafted` features; deriving baseline runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox import registry
from pianox_perception.baselines import derive
from pianox_perception.cnn import CNNEncoder
from pianox_perception.ffn import FeedForwardEncoder, clip_statistics
from pianox_perception.handcrafted import DESCRIPTORS, HandcraftedFeatures


def test_plugins_are_registered():
    assert registry.load("model", "cnn") is CNNEncoder
    assert registry.load("model", "ffn") is FeedForwardEncoder
    assert registry.load("features", "handcrafted") is HandcraftedFeatures
    assert registry.load("task", "perception").name == "perception"


def test_cnn_shapes_token_mask_and_padding_invariance():
    torch.manual_seed(0)
    model = CNNEncoder(CNNEncoder.Config(channels=[4, 8, 8], dim=12), num_bins=32).eval()
    x = torch.randn(2, 50, 32)
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, 30:] = False
    out = model(x, padding_mask=mask)
    assert out.shape == (2, 50 // 8, 12)
    real = model.token_mask(mask)
    assert real.tolist() == [[True] * 6, [True] * 3 + [False] * 3]
    changed = x.clone()
    changed[1, 30:] = 50.0  # padded frames: whatever they hold, real tokens do not change
    torch.testing.assert_close(model(changed, padding_mask=mask)[1, :3], out[1, :3])
    longer = torch.cat([x, torch.randn(2, 16, 32)], dim=1)
    mask_longer = torch.cat([mask, torch.zeros(2, 16, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model(longer, padding_mask=mask_longer)[1, :3], out[1, :3])
    assert model(torch.randn(1, 5, 32)).shape == (1, 1, 12)  # shorter than one token: padded


def test_clip_statistics_match_numpy_over_real_frames():
    x = torch.randn(2, 9, 3)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[0, 6:] = False
    stats = clip_statistics(x, mask)
    real = x[0, :6].numpy()
    expected = np.concatenate([real.mean(0), real.std(0), real.min(0), real.max(0), np.abs(np.diff(real, axis=0)).mean(0)])
    np.testing.assert_allclose(stats[0].numpy(), expected, rtol=1e-5, atol=1e-6)


def test_ffn_outputs_one_token_and_trains_with_batches_of_one():
    model = FeedForwardEncoder(FeedForwardEncoder.Config(dim=8, hidden=16), num_bins=4)
    out = model(torch.randn(3, 20, 4))
    assert out.shape == (3, 1, 8) and model.token_mask(torch.ones(3, 20, dtype=torch.bool)).shape == (3, 1)
    assert model(torch.randn(1, 20, 4)).shape == (1, 1, 8)


def test_handcrafted_descriptors_shape_and_loudness():
    feats = HandcraftedFeatures()
    sr = feats.sample_rate
    t = np.arange(sr) / sr
    tone = (np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)).astype(np.float32)
    out = feats(torch.from_numpy(np.stack([0.05 * tone, 0.5 * tone])))
    assert out.shape == (2, feats.num_frames(sr), len(DESCRIPTORS)) == (2, 101, 16)
    assert feats.frame_rate == 100.0 and torch.isfinite(out).all()
    loud = DESCRIPTORS.index("loudness")
    # 10x the amplitude is +20 dB, i.e. +1 in loudness units, on every sounding frame
    diff = (out[1, :80, loud] - out[0, :80, loud]).numpy()
    np.testing.assert_allclose(diff, 1.0, atol=0.02)
    short = feats(torch.zeros(1, 300))
    assert short.shape == (1, feats.num_frames(300), 16)


def test_baseline_variants_replace_and_update_tables():
    raw = {"features": {"kind": "kaldi", "target_frames": 256}, "model": {"kind": "ast", "init": "x", "preset": "tiny"},
           "task": {"kind": "perception", "pool": "prefix"}, "train": {"epochs": 3, "augment": {"time_mask_prob": 0.5}}}
    assert derive(raw, "scratch")["model"] == {"kind": "ast", "init": "", "preset": "tiny"}
    cnn = derive(raw, "cnn")
    assert cnn["model"]["kind"] == "cnn" and "init" not in cnn["model"] and "preset" not in cnn["model"]
    assert cnn["task"]["pool"] == "mean" and cnn["train"]["freeze"] == "full" and cnn["train"]["epochs"] == 12
    hand = derive(raw, "handcrafted")
    assert hand["features"] == {"kind": "handcrafted"} and hand["model"] == {"kind": "ffn"}
    assert hand["train"]["augment"] == {} and raw["train"]["augment"] == {"time_mask_prob": 0.5}
    with pytest.raises(Exception, match="unknown baseline"):
        derive(raw, "svm")
