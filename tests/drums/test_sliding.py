"""Drum inference over long audio: the Transcriber streams overlapping windows through the core
(pianox.inference) and its posteriors equal one pass over the whole clip when the network and
the features are frame-local. (The overlap-add tests themselves moved to tests/inference/
test_combine.py with the code.) The features are Kaldi fbank without edge padding (snip_edges):
each frame depends on its own samples only, so a window's frames equal the whole clip's."""

from __future__ import annotations

import numpy as np
import torch

from pianox.features.plugins import KaldiFeatures
from pianox.testing.dummies import DummyModel
from pianox_drums.head import DrumNet
from pianox_drums.inference import Decoding, Transcriber, torch_predictor
from pianox_drums.task import DrumsTask


def test_transcriber_posteriors_of_a_long_clip_match_one_pass_with_a_frame_local_network(tmp_path):
    features = KaldiFeatures(KaldiFeatures.Config(num_mel_bins=32))
    model = DummyModel(DummyModel.Config(dim=16), num_bins=features.num_bins)
    task = DrumsTask(DrumsTask.Config(context_kernel=0))
    net = DrumNet(model, task.build_head(model, features)).eval()
    decoding = Decoding(task.classes, np.full(8, 0.5, np.float32), 2, features.frame_rate, window=100, hop=60)
    tr = Transcriber(features, torch_predictor(net), decoding, batch_size=3)
    wave = np.random.default_rng(0).standard_normal(16000 * 4 + 123).astype(np.float32) * 0.1
    probs, velocity = tr.posteriors(wave)
    with torch.no_grad():
        ref_p, ref_v = net(features(torch.from_numpy(wave)[None]))
    assert probs.shape == (features.num_frames(len(wave)), 8)
    np.testing.assert_allclose(probs, ref_p[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(velocity, ref_v[0].numpy(), atol=1e-5)
    import soundfile as sf  # the same from a file, read window by window

    sf.write(tmp_path / "clip.wav", wave, 16000, subtype="FLOAT")
    streamed, _ = tr.posteriors(tmp_path / "clip.wav")
    np.testing.assert_array_equal(streamed, probs)


def test_a_one_sample_file_gives_no_hits_and_no_error(tmp_path):
    """Issue 21, finding 5: a 1-sample file crashed `pianox drums` (overlap_add: no frames)."""
    import soundfile as sf

    features = KaldiFeatures(KaldiFeatures.Config(num_mel_bins=32))
    model = DummyModel(DummyModel.Config(dim=16), num_bins=features.num_bins)
    task = DrumsTask(DrumsTask.Config(context_kernel=0))
    net = DrumNet(model, task.build_head(model, features)).eval()
    decoding = Decoding(task.classes, np.full(8, 0.5, np.float32), 2, features.frame_rate, window=100, hop=60)
    sf.write(tmp_path / "one.wav", np.array([0.25], np.float32), 16000)
    hits = Transcriber(features, torch_predictor(net), decoding).transcribe(tmp_path / "one.wav")
    assert hits.shape == (0, 4)
