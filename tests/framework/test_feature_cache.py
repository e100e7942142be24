"""The feature cache: keyed by config, memory-mapped, reused, rebuilt when the config changes."""

from __future__ import annotations

import json

import numpy as np
import torch

from pianox.config import load_experiment
from pianox.runner import run_experiment
from pianox.testing import DummyFeatures, DummySource
from pianox.train.cache import CachedFeatures, cache_key


def test_cache_holds_each_examples_features(tmp_path, monkeypatch):
    monkeypatch.setenv("PIANOX_CACHE", str(tmp_path))
    source, features = DummySource(DummySource.Config(num_train=5, seconds=0.2)), DummyFeatures()
    examples = source.examples("train")
    data = CachedFeatures(examples, features, source, "train")
    assert data.path.parent == tmp_path / "features"
    for i, example in enumerate(examples):
        got_example, feats, frames = data[i]
        wave = torch.from_numpy(example.audio)[None]
        want = features(wave)[0].numpy()
        assert got_example.key == example.key and frames == features.num_frames(wave.shape[1])
        np.testing.assert_array_equal(feats, want)
    stamp = (data.path / "index.json").stat().st_mtime_ns
    again = CachedFeatures(examples, features, source, "train")
    assert (again.path / "index.json").stat().st_mtime_ns == stamp, "an up-to-date cache is reused"
    other = DummyFeatures(DummyFeatures.Config(num_bins=16))
    assert cache_key(other, source, "train") != cache_key(features, source, "train")
    assert cache_key(features, source, "validation") != cache_key(features, source, "train")
    assert not list(tmp_path.rglob("*.tmp")), "no temporary build folders left"


def test_cached_run_trains_like_an_uncached_one(write_exp, tmp_path, monkeypatch):
    monkeypatch.setenv("PIANOX_CACHE", str(tmp_path / "cache"))
    exp = write_exp()
    plain = run_experiment(load_experiment(exp, ["run.output_dir=" + str(tmp_path / "a")]), quiet=True)
    cached = run_experiment(load_experiment(exp, ["run.output_dir=" + str(tmp_path / "b"),
                                                  "train.cache_features=true"]), quiet=True)
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 3  # train, validation, test
    a = json.loads((plain.path / "results.json").read_text())
    b = json.loads((cached.path / "results.json").read_text())
    # per-clip features differ from batch-padded ones only in the last frames of short clips
    assert abs(a["test/mae"] - b["test/mae"]) < 0.1
