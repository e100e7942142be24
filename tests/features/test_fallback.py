"""Without the compiled core the torch reference runs instead: same results, one warning."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

import pianox
from pianox.features import frontend, kaldi_fbank, melspectrogram, patchify
from pianox.features.plugins import KaldiFeatures

from .signals import chord


@pytest.fixture
def no_core(monkeypatch):
    frontend.core.cache_clear()
    monkeypatch.delattr(pianox, "_core", raising=False)
    monkeypatch.setitem(sys.modules, "pianox._core", None)  # import now raises ImportError
    yield
    frontend.core.cache_clear()


def test_missing_core_falls_back_with_one_warning():
    y = chord(0.8, batch=2, seed=1)
    native = (kaldi_fbank(y), melspectrogram(y, sr=16000, n_fft=512), KaldiFeatures()(torch.from_numpy(y)))
    spec = np.random.default_rng(0).standard_normal((2, 40, 32)).astype(np.float32)
    native_patches = patchify(spec)
    with pytest.MonkeyPatch.context() as mp:
        frontend.core.cache_clear()
        mp.delattr(pianox, "_core", raising=False)
        mp.setitem(sys.modules, "pianox._core", None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fallback = (kaldi_fbank(y), melspectrogram(y, sr=16000, n_fft=512),
                        KaldiFeatures()(torch.from_numpy(y)))
            fallback_patches = patchify(spec)
        frontend.core.cache_clear()
    messages = [str(w.message) for w in caught if "pianox._core is not available" in str(w.message)]
    assert len(messages) == 1
    assert isinstance(fallback[0], np.ndarray) and isinstance(fallback[2], torch.Tensor)
    np.testing.assert_allclose(fallback[0], native[0], atol=1e-3)
    np.testing.assert_allclose(fallback[1], native[1], rtol=0, atol=1e-4 * np.abs(native[1]).max())
    np.testing.assert_allclose(fallback[2].numpy(), native[2].numpy(), atol=2e-4)
    np.testing.assert_array_equal(fallback_patches, native_patches)


def test_reference_path_still_rejects_bad_input(no_core):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bad = chord(0.3, batch=1)
        bad[0, 100] = np.nan
        with pytest.raises(ValueError, match=r"NaN at \[0, 100\]"):
            kaldi_fbank(bad)
        with pytest.raises(ValueError, match="float32"):
            kaldi_fbank(bad.astype(np.float64))
