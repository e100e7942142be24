"""Guards that guard (finding 7 of the evaluation issue): the feature cache refuses every
waveform augmentation (EQ included), and the maestro twin runs the maestro reader's checks."""

from __future__ import annotations

import dataclasses

import pytest

from pianox.augment import OTHER_AUGMENTS, WAVEFORM_AUGMENTS, AugmentConfig
from pianox.errors import ConfigError
from pianox.schema import Where, build
from pianox.train.settings import TrainConfig
from pianox_synth.sources import MaestroTwin


def test_every_augmentation_is_classified_once():
    probs = [f.name[: -len("_prob")] for f in dataclasses.fields(AugmentConfig) if f.name.endswith("_prob")]
    assert sorted(probs) == sorted(WAVEFORM_AUGMENTS + OTHER_AUGMENTS)
    assert not set(WAVEFORM_AUGMENTS) & set(OTHER_AUGMENTS)


@pytest.mark.parametrize("name", WAVEFORM_AUGMENTS)
def test_feature_cache_refuses_each_waveform_augmentation(name):
    with pytest.raises(ConfigError, match=f"cache_features cannot be combined.*{name}"):
        build(TrainConfig, {"cache_features": True, "augment": {f"{name}_prob": 0.5}}, Where(table="train"))
    assert AugmentConfig(**{f"{name}_prob": 0.5}).active()


def test_feature_cache_allows_spec_augment():
    cfg = build(TrainConfig, {"cache_features": True, "augment": {"time_mask_prob": 0.5}}, Where(table="train"))
    assert cfg.augment.active() and not cfg.augment.waveform_active()


@pytest.mark.parametrize("table,match", [
    ({"segment_seconds": -1.0}, "segment"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"program": 300}, "program"),
])
def test_maestro_twin_config_runs_the_readers_checks(table, match):
    with pytest.raises(ConfigError, match=match):
        build(MaestroTwin.Config, table, Where(table="source"))
