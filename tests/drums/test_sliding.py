"""Sliding-window inference: overlap-added posteriors equal single-window ones where windows
agree, blend without seams where they do not, and the Transcriber plumbs features through."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.testing.dummies import DummyFeatures, DummyModel
from pianox_drums.head import DrumNet
from pianox_drums.inference import Decoding, Transcriber, torch_predictor
from pianox_drums.sliding import overlap_add, taper, window_starts
from pianox_drums.task import DrumsTask


def _frame_local(batch: np.ndarray):
    w = np.linspace(-1, 1, batch.shape[-1] * 3).reshape(batch.shape[-1], 3)
    return 1 / (1 + np.exp(-batch @ w)), np.tanh(batch[..., :2])


@pytest.mark.parametrize("T, window, hop", [(1000, 128, 64), (1001, 100, 75), (250, 64, 64), (50, 128, 64),
                                            (129, 128, 1)])
def test_frame_local_predictions_are_unchanged_by_windowing(T, window, hop):
    x = np.random.default_rng(T).standard_normal((T, 5)).astype(np.float32)
    probs, extra = overlap_add(_frame_local, x, window, hop, batch_size=3)
    ref_probs, ref_extra = _frame_local(x[None])
    np.testing.assert_allclose(probs, ref_probs[0], atol=1e-6)
    np.testing.assert_allclose(extra, ref_extra[0], atol=1e-6)


def test_window_starts_cover_the_clip_with_full_windows():
    assert window_starts(50, 128, 64) == [0]
    starts = window_starts(1000, 128, 96)
    assert starts[0] == 0 and starts[-1] == 1000 - 128 and np.all(np.diff(starts) <= 96)
    with pytest.raises(ValueError, match="hop"):
        window_starts(100, 10, 11)


def test_windows_that_disagree_blend_without_seams():
    """Each window adds its own constant: single-window regions keep it exactly, overlaps blend
    with small steps (a hard cut would jump by the full difference)."""
    offsets: dict[int, float] = {}

    def shifted(batch):
        out = []
        for w in batch:
            key = float(w[0, 0])
            offsets.setdefault(key, float(len(offsets)))  # window k adds k
            out.append(np.full((len(w), 1), offsets[key]))
        return [np.stack(out)]

    T, W, H = 400, 64, 32
    x = np.zeros((T, 1), np.float32)
    x[:, 0] = np.arange(T)  # a window's first value identifies it
    (y,) = overlap_add(shifted, x, W, H, batch_size=2)
    starts = window_starts(T, W, H)
    assert y[0, 0] == 0.0 and y[-1, 0] == pytest.approx(len(starts) - 1)
    steps = np.abs(np.diff(y[:, 0]))
    assert steps.max() < 0.15  # windows differ by 1.0 each
    assert np.all(np.diff(y[: starts[-2], 0]) >= -1e-9)  # monotone blend, no overshoot


def test_taper_is_positive_and_symmetric():
    w = taper(64)
    assert w.min() > 0 and np.allclose(w, w[::-1])


def test_transcriber_posteriors_of_a_long_clip_match_one_pass_with_a_frame_local_network():
    features = DummyFeatures()
    model = DummyModel(DummyModel.Config(dim=16), num_bins=features.num_bins)
    task = DrumsTask(DrumsTask.Config(context_kernel=0))
    net = DrumNet(model, task.build_head(model, features)).eval()
    decoding = Decoding(task.classes, np.full(8, 0.5, np.float32), 2, features.frame_rate, window=100, hop=60)
    tr = Transcriber(features, torch_predictor(net), decoding)
    wave = np.random.default_rng(0).standard_normal(16000 * 4).astype(np.float32) * 0.1
    probs, velocity = tr.posteriors(wave)
    with torch.no_grad():
        ref_p, ref_v = net(features(torch.from_numpy(wave)[None]))
    assert probs.shape == (features.num_frames(len(wave)), 8)
    np.testing.assert_allclose(probs, ref_p[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(velocity, ref_v[0].numpy(), atol=1e-5)
