"""The perception task's collate, loss, mixup, state cache and clip-level evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.api import Example
from pianox.errors import DataError
from pianox.models.ast import ASTEncoder
from pianox_perception.predict import aggregate_clips, clip_of
from pianox_perception.task import PerceptionTask


def _model() -> ASTEncoder:
    torch.manual_seed(0)
    cfg = ASTEncoder.Config(preset="tiny", depth=1, fstride=16, tstride=16, max_frames=64)
    return ASTEncoder(cfg, num_bins=32)


def _batch(task, n=4, frames=48, seed=0):
    rng = np.random.default_rng(seed)
    examples = [Example(key=f"clip{i // 2}@{(i % 2) * 2.56:.3f}", targets={"ratings": rng.uniform(0, 1, 19)})
                for i in range(n)]
    batch = {"features": torch.randn(n, frames, 32), "padding_mask": torch.ones(n, frames, dtype=torch.bool),
             "keys": [e.key for e in examples]}
    return task.collate(examples, batch), examples


def test_collate_adds_ratings_and_clips_and_rejects_partial_batches():
    task = PerceptionTask()
    batch, examples = _batch(task)
    assert batch["ratings"].shape == (4, 19) and batch["ratings"].dtype == torch.float32
    assert batch["clips"] == ["clip0", "clip0", "clip1", "clip1"]
    np.testing.assert_allclose(batch["ratings"][2].numpy(), examples[2].targets["ratings"], rtol=1e-6)
    unrated = task.collate([Example(key="a.wav@0.000")], {"keys": ["a.wav@0.000"]})
    assert "ratings" not in unrated and unrated["clips"] == ["a.wav"]
    with pytest.raises(DataError, match="'b' has no ratings"):
        task.collate([examples[0], Example(key="b")], {"keys": [examples[0].key, "b"]})
    with pytest.raises(DataError, match="shape"):
        task.collate([Example(key="c", targets={"ratings": [0.5] * 3})], {"keys": ["c"]})
    assert clip_of("x@y.wav@1.280") == "x@y.wav" and clip_of("plain") == "plain"


def test_loss_trains_the_head_and_logs_group_weights():
    task = PerceptionTask(PerceptionTask.Config(hidden=16, dropout=0.0))
    model = _model()
    head = task.build_head(model, None)
    batch, _ = _batch(task, n=8)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=3e-3)
    first = None
    for _ in range(30):
        loss, logs = task.loss(model, head, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.detach())
    assert float(loss.detach()) < first - 0.5
    assert set(logs) == {"loss/timing", "loss/dynamics", "loss/musicality",
                         "weight/timing", "weight/dynamics", "weight/musicality"}
    assert float(head.seen) == 8 * 30


def test_mixup_blends_ratings_within_their_range():
    task = PerceptionTask(PerceptionTask.Config(mixup_prob=1.0, mixup_alpha=0.4))
    batch, _ = _batch(task, n=6)
    torch.manual_seed(3)
    feats, mask, ratings = task._mixup(batch["features"], batch["padding_mask"], batch["ratings"])
    assert feats.shape == batch["features"].shape and mask.dtype == torch.bool and mask.all()
    lo, hi = batch["ratings"].min(0).values, batch["ratings"].max(0).values
    assert (ratings >= lo - 1e-6).all() and (ratings <= hi + 1e-6).all()
    assert not torch.allclose(ratings, batch["ratings"])


def test_state_cache_gives_the_states_of_a_fresh_pass_once_frozen():
    model = _model()
    for p in model.parameters():
        p.requires_grad_(False)
    cached = PerceptionTask(PerceptionTask.Config(cache_states=True))
    plain = PerceptionTask()
    batch, _ = _batch(cached, n=4)
    s1, r1 = cached.encode(model, batch)
    assert len(cached._states) == 4 and not s1.requires_grad
    s2, r2 = plain.encode(model, batch)
    torch.testing.assert_close(s1, s2)
    batch["features"] = batch["features"] * 0  # cached: the stored states come back
    s3, _ = cached.encode(model, batch)
    torch.testing.assert_close(s3, s1)
    import pickle

    assert pickle.loads(pickle.dumps(cached))._states == {}


def test_evaluate_scores_clips_after_averaging_their_segments():
    task = PerceptionTask(PerceptionTask.Config(hidden=8))
    model = _model().eval()
    head = task.build_head(model, None).eval()
    batches = [_batch(task, n=4, seed=s)[0] for s in range(3)]
    for i, b in enumerate(batches):  # distinct clips per batch, two segments each
        b["clips"] = [f"b{i}-{c}" for c in b["clips"]]
    with torch.no_grad():
        metrics = task.evaluate(model, head, iter(batches))
        preds = torch.cat([task.predict(model, head, b) for b in batches]).numpy()
    clips = [c for b in batches for c in b["clips"]]
    targets = torch.cat([b["ratings"] for b in batches]).numpy()
    names, pred, target = aggregate_clips(clips, preds, targets)
    assert len(names) == 6 and pred.shape == (6, 19)
    np.testing.assert_allclose(pred[0], preds[:2].mean(0), rtol=1e-6)
    assert np.isclose(metrics["loss"], ((pred - target) ** 2).mean(), rtol=1e-5)
    assert {"pearson", "r2", "pearson_audible", "pearson/timing", "r2/musicality"} <= set(metrics)
