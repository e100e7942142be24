"""Unusable input is one clear ValueError (FeatureInputError), never a silent copy or a crash."""

from __future__ import annotations

import numpy as np
import pytest

import torch

from pianox.errors import AudioError
from pianox.features import FeatureInputError, kaldi_fbank, melspectrogram, patchify

from native import require_core

_core = require_core()

GOOD = np.zeros((2, 4000), np.float32)


def with_value(value: float, index: tuple[int, int]) -> np.ndarray:
    wave = (0.01 * np.random.default_rng(0).standard_normal(GOOD.shape)).astype(np.float32)
    wave[index] = value
    return wave


@pytest.mark.parametrize("value,word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
@pytest.mark.parametrize("index", [(0, 0), (1, 2345), (1, 3999)])
@pytest.mark.parametrize("fn", [kaldi_fbank, lambda w: melspectrogram(w, sr=16000, n_fft=512)])
def test_non_finite_samples_are_named(value, word, index, fn):
    wave = with_value(value, index)
    with pytest.raises(FeatureInputError, match=rf"{word} at \[{index[0]}, {index[1]}\]"):
        fn(wave)
    with pytest.raises(FeatureInputError, match=word):
        fn(torch.from_numpy(wave))


def test_non_finite_tail_not_covered_by_any_frame_is_caught():
    # 4000 samples, 400/160 framing: the last 80 samples are in no frame but are still checked.
    with pytest.raises(FeatureInputError, match=r"NaN at \[0, 3990\]"):
        kaldi_fbank(with_value(np.nan, (0, 3990)))
    with pytest.raises(FeatureInputError, match="NaN"):  # shorter than one frame: zero frames, still checked
        kaldi_fbank(np.array([0.0, np.nan], np.float32))


@pytest.mark.parametrize("wave,message", [
    (GOOD.astype(np.float64), "float32"),
    (torch.zeros(2, 4000, dtype=torch.float64), "float32"),
    (GOOD.astype(np.int16), "float32"),
    (np.zeros((2, 8000), np.float32)[:, ::2], "C-contiguous"),
    (torch.zeros(4000, 2).T, "C-contiguous"),
    (np.zeros((2, 0), np.float32), "empty"),
    (np.zeros(0, np.float32), "empty"),
    (np.zeros((0, 4000), np.float32), "empty"),
    (np.zeros((1, 2, 4000), np.float32), "shape"),
    (np.zeros((4000, 2), np.float32), "time must be the last axis"),
    ([0.0] * 4000, "numpy array or a torch tensor"),
])
def test_unusable_arrays_raise(wave, message):
    with pytest.raises(FeatureInputError, match=message) as info:
        kaldi_fbank(wave)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AudioError)


def test_core_rejects_directly_without_copying():
    cfg = _core.FrontendConfig()
    for bad, message in [(GOOD.astype(np.float64), "float32"), (np.zeros((2, 8000), np.float32)[:, ::2], "contiguous"),
                         (np.zeros(4000, np.float32), "2 dimensions"), (np.zeros((1, 0), np.float32), "empty"),
                         (with_value(np.nan, (1, 7)), r"NaN at \[1, 7\]")]:
        with pytest.raises(ValueError, match=message):
            _core.frontend(bad, cfg, 1)
    with pytest.raises(ValueError, match="complex64"):
        _core.fft(np.zeros((1, 8), np.float32))
    with pytest.raises(ValueError, match="float32"):
        _core.rfft(np.zeros((1, 8), np.float64))


def test_core_rejects_bad_configs():
    for key, value, message in [("framing", "stretch", "framing"), ("window", "kaiser", "window"),
                                ("n_fft", 100, "n_fft"), ("log", "log2", "log"), ("std", 0.0, "std"),
                                ("fmax", 9000.0, "Nyquist"), ("floor", 0.0, "floor"), ("power", -1.0, "power")]:
        cfg = _core.FrontendConfig()
        setattr(cfg, key, value)
        with pytest.raises(ValueError, match=message):
            _core.frontend(GOOD, cfg, 1)


def test_spectrogram_checks_in_patchify():
    with pytest.raises(FeatureInputError, match="float32"):
        patchify(np.zeros((1, 32, 32)))
    with pytest.raises(FeatureInputError, match="shape"):
        patchify(np.zeros((1, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="stride"):
        patchify(np.zeros((1, 32, 32), np.float32), fstride=0)


def test_inputs_are_not_modified_and_outputs_do_not_alias_them():
    wave = (0.1 * np.random.default_rng(1).standard_normal((2, 4000))).astype(np.float32)
    before = wave.copy()
    out = kaldi_fbank(wave)
    np.testing.assert_array_equal(wave, before)
    assert not np.shares_memory(out, wave)
