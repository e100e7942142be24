"""An example's features and padding mask do not depend on what it is batched with, also
with target_frames (finding 4 of the evaluation issue: target_frames used to mark every frame
of a short clip real, so its zero-padded tail was attended as audio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.api import Example
from pianox.features.plugins import KaldiFeatures, MelFeatures
from pianox.models.ast import ASTEncoder
from pianox.train.data import Collate

SR = 16000


class _NoTargets:
    def collate(self, examples, batch):
        return batch


def _clip(seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _batch(features, waves):
    items = [(Example(key=f"c{i}"), w) for i, w in enumerate(waves)]
    return Collate(features, _NoTargets())(items)


@pytest.mark.parametrize("make", [
    lambda: KaldiFeatures(KaldiFeatures.Config(target_frames=160)),
    lambda: MelFeatures(MelFeatures.Config(target_frames=160, hop_length=160)),
], ids=["kaldi", "mel"])
def test_short_clip_alone_equals_the_same_clip_batched_with_a_longer_one(make):
    features = make()
    short, long = _clip(0.55, 0), _clip(2.0, 1)
    alone = _batch(features, [short])
    both = _batch(features, [short, long])
    n = features.num_frames(len(short))
    assert 50 <= n < 160  # the natural count, clamped to target_frames, not target_frames itself
    assert int(alone["frames"][0]) == int(both["frames"][0]) == n
    assert alone["padding_mask"][0].sum() == n and both["padding_mask"][0, :n].all()
    assert not both["padding_mask"][0, n:].any() and both["padding_mask"][1].all()
    assert alone["features"].shape[1] == both["features"].shape[1] == 160
    torch.testing.assert_close(alone["features"][0], both["features"][0], rtol=0, atol=1e-5)


def test_encoder_states_of_real_tokens_do_not_see_the_batch():
    features = KaldiFeatures(KaldiFeatures.Config(target_frames=160))
    torch.manual_seed(0)
    enc = ASTEncoder(ASTEncoder.Config(preset="tiny", depth=2, patch="frame", max_frames=160),
                     num_bins=features.num_bins).eval()
    short, long = _clip(0.55, 0), _clip(2.0, 1)
    alone, both = _batch(features, [short]), _batch(features, [short, long])
    with torch.no_grad():
        a = enc(alone["features"], alone["padding_mask"])[0]
        b = enc(both["features"], both["padding_mask"])[0]
        real = enc.token_mask(alone["padding_mask"])[0]
    assert 0 < int(real.sum()) < real.numel()  # the short clip's tail tokens are padding
    torch.testing.assert_close(a[real], b[real], rtol=0, atol=1e-4)
