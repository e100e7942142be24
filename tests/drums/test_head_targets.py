"""Drum head geometry, frame targets and positive weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.errors import ConfigError, DataError
from pianox.models.ast import ASTEncoder
from pianox.testing.dummies import DummyModel
from pianox_drums.classes import drum_classes
from pianox_drums.head import DrumHead, DrumNet, token_geometry
from pianox_drums.targets import frame_targets, positive_weights
from pianox_drums.task import DrumsTask


def _close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=1e-5, atol=1e-6)


class _Features:
    frame_rate = 100.0
    num_bins = 32
    sample_rate = 16000


def _ast(**kw) -> ASTEncoder:
    cfg = ASTEncoder.Config(preset="tiny", depth=1, dim=48, heads=2, max_frames=256, **kw)
    return ASTEncoder(cfg, num_bins=32).eval()


@pytest.mark.parametrize("model_kw, frames", [
    ({"patch": "frame"}, 100), ({"patch": "frame"}, 101), ({"patch": "frame", "frame_width": 4}, 57),
    ({"patch_size": 16, "fstride": 16, "tstride": 10}, 100), ({"patch_size": 16, "fstride": 8, "tstride": 16}, 70),
])
def test_head_gives_one_prediction_per_feature_frame(model_kw, frames):
    model = _ast(**model_kw)
    task = DrumsTask()
    head = task.build_head(model, _Features()).eval()
    x = torch.randn(2, frames, 32)
    with torch.no_grad():
        logits, velocity = head(model(x), frames)
    assert logits.shape == velocity.shape == (2, frames, 8)
    assert float(velocity.min()) >= 0.0 and float(velocity.max()) <= 1.0
    g = token_geometry(model)
    assert (g.patch_width, g.stride) == (model.patch_shape[1], model.stride[1])
    assert g.freq_patches == model.grid(frames)[0]


def test_frame_tokens_give_each_frame_its_own_sub_frame_output():
    """With frame tokens (width 2) token t predicts exactly frames 2t and 2t + 1."""
    model = _ast(patch="frame")
    head = DrumHead(model.dim, 3, token_geometry(model), context_kernel=0).eval()
    states = torch.randn(1, model.num_prefix_tokens + 5, model.dim)
    logits, _ = head(states, 10)
    proj = head.proj(states[:, model.num_prefix_tokens:]).reshape(1, 10, 6)
    _close(logits, proj[..., :3])


def test_patch_tokens_pool_frequency_and_fill_edges():
    """Overlapping patches (width 16, stride 10): frames before the first centred span repeat it."""
    model = _ast(patch_size=16, fstride=16, tstride=10)
    head = DrumHead(model.dim, 2, token_geometry(model), context_kernel=0).eval()
    fp, tp = model.grid(60)
    states = torch.randn(1, model.num_prefix_tokens + fp * tp, model.dim)
    logits, _ = head(states, 60)
    pooled = states[:, model.num_prefix_tokens:].reshape(1, fp, tp, -1).mean(1)
    sub = head.proj(pooled).reshape(1, tp * 10, 4)[..., :2]
    _close(logits[:, 3:3 + tp * 10], sub)  # offset (16 - 10) // 2 = 3
    _close(logits[:, :3], sub[:, :1].expand(1, 3, 2))
    _close(logits[:, 3 + tp * 10:], sub[:, -1:].expand(1, 60 - 3 - tp * 10, 2))


def test_per_frame_encoders_are_used_directly():
    model = DummyModel(DummyModel.Config(dim=16), num_bins=32)
    head = DrumsTask().build_head(model, _Features())
    logits, velocity = DrumNet(model, head).eval()(torch.randn(3, 41, 32))
    assert logits.shape == (3, 41, 8) and token_geometry(model).stride == 1


def test_frame_targets_widened_soft_and_velocity():
    hits = [np.array([[0.10, 0, 127.0], [0.105, 3, 64.0], [0.50, 1, 32.0], [0.999, 2, 10.0]]), np.zeros((0, 3))]
    onsets, velocity, exact = frame_targets(hits, 60, 100.0, 4, width=2, soft=0.4)
    assert onsets.shape == (2, 60, 4) and float(onsets[1].abs().sum()) == 0.0
    np.testing.assert_allclose(onsets[0, 8:13, 0].numpy(), [0.4, 0.4, 1.0, 0.4, 0.4])
    assert float(onsets[0, 10, 3]) == 1.0 and float(onsets[0, 11, 3]) == pytest.approx(0.4)  # rint(10.5) = 10
    assert float(onsets[0, 50, 1]) == 1.0 and float(velocity[0, 50, 1]) == pytest.approx(32 / 127)
    assert int(exact.sum()) == 3  # the hit at 0.999 s lands on frame 100, outside 60 frames
    assert float(velocity[0, 10, 0]) == pytest.approx(1.0) and float(velocity[0, 11, 0]) == 0.0


def test_frame_targets_reject_classes_outside_the_map():
    with pytest.raises(DataError, match="clip-7.*class 8 is outside the task's 8 classes"):
        frame_targets([np.array([[0.1, 8, 90.0]])], 50, 100.0, 8, keys=["clip-7"])


def test_positive_weights_from_class_frequencies():
    positive = torch.tensor([10.0, 100.0, 0.0, 1.0])
    seen = torch.tensor(1000.0)
    w = positive_weights(positive, seen, power=1.0, max_weight=50.0)
    _close(w, torch.tensor([50.0, 9.0, 50.0, 50.0]))  # 990/10 = 99 -> capped
    w = positive_weights(positive, seen, power=0.5, max_weight=100.0)
    _close(w, torch.tensor([99 ** 0.5, 3.0, 100.0, 999 ** 0.5]))


def test_training_loss_accumulates_class_counts_and_uses_them():
    model = DummyModel(DummyModel.Config(dim=16), num_bins=32)
    task = DrumsTask(DrumsTask.Config(class_map="3-hit", velocity_weight=0.0, dropout=0.0))
    head = task.build_head(model, _Features()).train()
    hits = [np.array([[0.1, 0, 100.0], [0.2, 0, 100.0], [0.3, 2, 80.0]])]
    batch = {"features": torch.randn(1, 40, 32), "padding_mask": torch.ones(1, 40, dtype=torch.bool)}
    batch = task.collate([_example(hits[0], "3-hit")], batch)
    loss, logs = task.loss(model, head, batch)
    assert head.positive_frames.tolist() == [2.0, 0.0, 1.0] and float(head.seen_frames) == 40.0
    logits, _ = task.predict(model, head, batch)
    weight = positive_weights(head.positive_frames, head.seen_frames, 0.5, 100.0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["onset_targets"], pos_weight=weight)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    head.eval()
    task.loss(model, head, batch)
    assert float(head.seen_frames) == 40.0  # evaluation does not count


def _example(hits, class_map):
    from pianox.api import Example

    return Example(key="k", targets={"hits": hits}, meta={"class_map": class_map})


def test_collate_rejects_a_class_map_mismatch_and_missing_hits():
    task = DrumsTask()
    task.build_head(DummyModel(num_bins=32), _Features())
    batch = {"features": torch.zeros(1, 20, 32), "padding_mask": torch.ones(1, 20, dtype=torch.bool)}
    with pytest.raises(ConfigError, match="class_map '3-hit'.*'8-hit'"):
        task.collate([_example(np.zeros((0, 3)), "3-hit")], dict(batch))
    from pianox.api import Example

    with pytest.raises(DataError, match="no 'hits' target"):
        task.collate([Example(key="a", targets={"notes": 1})], dict(batch))


def test_config_errors():
    with pytest.raises(ConfigError, match="pos_weight has 2 values.*8 classes"):
        DrumsTask(DrumsTask.Config(pos_weight=[1.0, 2.0]))
    with pytest.raises(ValueError, match="context_kernel"):
        DrumsTask.Config(context_kernel=2).validate()
    with pytest.raises(ConfigError, match="unknown drum class map"):
        drum_classes("9-hit")
    assert drum_classes("3-hit").names == ("kick", "hihat", "snare")
