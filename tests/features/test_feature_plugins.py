"""The `kaldi` and `mel` features plugins: contract, AST/librosa equivalence, DataLoader workers."""

from __future__ import annotations

import dataclasses
import multiprocessing

import librosa
import numpy as np
import pytest
import torch
from transformers import ASTFeatureExtractor

from pianox import api, registry
from pianox.errors import ConfigError
from pianox.features.plugins import KaldiFeatures, MelFeatures

from .signals import chord


@pytest.mark.parametrize("name,cls", [("kaldi", KaldiFeatures), ("mel", MelFeatures)])
def test_registered_and_honour_the_contract(name, cls):
    assert registry.load("features", name) is cls
    plugin = cls()
    assert isinstance(plugin, api.Features)
    assert plugin.name == name and dataclasses.is_dataclass(plugin.Config)
    assert plugin.sample_rate == 16000 and plugin.num_bins == 128 and plugin.frame_rate == 100.0
    wave = torch.from_numpy(chord(1.234, batch=3))
    out = plugin(wave)
    assert out.dtype == torch.float32 and out.shape == (3, plugin.num_frames(wave.shape[1]), plugin.num_bins)
    assert torch.isfinite(out).all()
    rebuilt = cls(cls.Config(**dataclasses.asdict(plugin.config)))
    torch.testing.assert_close(rebuilt(wave), out, atol=0, rtol=0)


@pytest.mark.filterwarnings("ignore:At least one mel filter")
def test_kaldi_plugin_equals_ast_feature_extractor():
    extractor = ASTFeatureExtractor()  # numpy Kaldi port (torchaudio is not installed), max_length 1024
    waves = [chord(4.0, seed=1), chord(12.0, seed=2)]  # padded and cropped to 1024 frames
    expected = extractor(waves, sampling_rate=16000, return_tensors="np")["input_values"]
    plugin = KaldiFeatures(KaldiFeatures.Config(target_frames=1024))
    for wave, ref in zip(waves, expected):
        ours = plugin(torch.from_numpy(wave)[None])[0].numpy()
        assert ours.shape == ref.shape == (1024, 128)
        assert np.abs(ours - ref).max() < 2e-4  # 1e-3 in log units, divided by AST's 2 * std


def test_kaldi_plugin_padding_value_and_frame_count():
    plugin = KaldiFeatures(KaldiFeatures.Config(target_frames=120))
    out = plugin(torch.from_numpy(chord(0.5, batch=2)))
    natural = KaldiFeatures().spec.num_frames(8000)
    assert out.shape == (2, 120, 128) and plugin.num_frames(8000) == natural < 120  # real frames, not padding
    expected_pad = (0.0 - -4.2677393) / (2 * 4.5689974)
    torch.testing.assert_close(out[:, natural:], torch.full((2, 120 - natural, 128), expected_pad))


def test_mel_plugin_equals_librosa_log_mel():
    config = MelFeatures.Config(n_fft=512, hop_length=160, win_length=400, n_mels=64, mean=-30.0, std=20.0)
    plugin = MelFeatures(config)
    waves = chord(1.0, batch=2, seed=3)
    waves[1] *= 1e-2
    out = plugin(torch.from_numpy(waves)).numpy()
    for i in range(2):
        mel = librosa.feature.melspectrogram(y=waves[i], sr=16000, n_fft=512, hop_length=160, win_length=400,
                                             n_mels=64)
        expected = (librosa.power_to_db(mel, top_db=80.0).T + 30.0) / 20.0
        assert np.abs(out[i] - expected).max() < 2e-3 / 20.0 + 1e-5


def test_mel_plugin_pads_with_each_examples_minimum():
    plugin = MelFeatures(MelFeatures.Config(target_frames=80, log="log"))
    out = plugin(torch.from_numpy(chord(0.3, batch=2, seed=4)))
    natural = MelFeatures().spec.num_frames(4800)
    for i in range(2):
        assert torch.all(out[i, natural:] == out[i, :natural].min())


@pytest.mark.parametrize("cls,bad", [(KaldiFeatures, {"num_mel_bins": 2}), (KaldiFeatures, {"window_type": "kaiser"}),
                                     (KaldiFeatures, {"high_freq": 20000.0}), (KaldiFeatures, {"target_frames": -1}),
                                     (MelFeatures, {"log": "log10"}), (MelFeatures, {"win_length": 4096}),
                                     (MelFeatures, {"norm": "l1"}), (MelFeatures, {"fmax": 9000.0, "fmin": 9500.0})])
def test_bad_configs_raise_config_error_naming_the_plugin(cls, bad):
    with pytest.raises(ConfigError, match=cls.name):
        cls(cls.Config(**bad))


class _Waves(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(chord(0.5, seed=10 + i))


def test_features_in_dataloader_workers():
    plugin = KaldiFeatures()

    def collate(items):
        return plugin(torch.stack(items))

    loader = torch.utils.data.DataLoader(_Waves(), batch_size=2, num_workers=1, collate_fn=collate,
                                         multiprocessing_context=multiprocessing.get_context("fork"))
    batches = list(loader)
    expected = plugin(torch.stack([_Waves()[i] for i in range(4)]))
    torch.testing.assert_close(torch.cat(batches), expected, atol=0, rtol=0)
