"""patchify yields exactly what AST's Conv2d patch embedding consumes; fused variants agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.features import (kaldi_fbank, kaldi_fbank_patches, log_melspectrogram, melspectrogram_patches,
                             patchify, reference)

from .signals import chord


def ast_patch_embedding(spec: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, fstride: int,
                        tstride: int) -> torch.Tensor:
    """AST's embedding: (B, T, F) -> (B, 1, F, T) -> Conv2d -> flatten(2).transpose(1, 2)."""
    x = spec.unsqueeze(1).transpose(2, 3)
    return torch.nn.functional.conv2d(x, weight, bias, stride=(fstride, tstride)).flatten(2).transpose(1, 2)


@pytest.mark.parametrize("fstride,tstride", [(16, 16), (10, 10), (16, 8), (6, 13)])
@pytest.mark.parametrize("as_numpy", [False, True])
def test_patches_times_weights_equal_conv2d(fstride, tstride, as_numpy):
    gen = torch.Generator().manual_seed(fstride * 100 + tstride)
    spec = torch.randn(2, 75, 48, generator=gen)
    weight, bias = torch.randn(24, 1, 16, 16, generator=gen), torch.randn(24, generator=gen)
    expected = ast_patch_embedding(spec, weight, bias, fstride, tstride)
    patches = patchify(spec.numpy() if as_numpy else spec, 16, fstride, tstride)
    patches = torch.from_numpy(patches) if as_numpy else patches
    nf, nt = (48 - 16) // fstride + 1, (75 - 16) // tstride + 1
    assert patches.shape == (2, nf * nt, 256)
    embedded = patches @ weight.reshape(24, -1).T + bias
    torch.testing.assert_close(embedded, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(patches, reference.patchify(spec, 16, fstride, tstride), atol=0, rtol=0)


def test_token_and_value_order():
    # value = 1000 * frame + feature: token (i_f, i_t) holds frames i_t*ts.., features i_f*fs..
    t, f = 40, 36
    spec = (1000 * np.arange(t)[:, None] + np.arange(f)[None, :]).astype(np.float32)[None]
    patches = patchify(spec, patch=4, fstride=8, tstride=10)
    nf, nt = (f - 4) // 8 + 1, (t - 4) // 10 + 1
    for i_f in range(nf):
        for i_t in range(nt):
            grid = patches[0, i_f * nt + i_t].reshape(4, 4)  # (freq, time)
            expected = 1000 * (i_t * 10 + np.arange(4))[None, :] + (i_f * 8 + np.arange(4))[:, None]
            np.testing.assert_array_equal(grid, expected)


def test_shorter_than_a_patch_gives_no_tokens():
    assert patchify(np.zeros((3, 10, 128), np.float32)).shape == (3, 0, 256)
    assert patchify(torch.zeros(1, 100, 8)).shape == (1, 0, 256)


def test_fused_kaldi_patches_equal_two_steps():
    y = chord(2.0, seed=1, batch=2)
    mean, std = -4.2677393, 2 * 4.5689974
    two_step = patchify((kaldi_fbank(y, num_mel_bins=128, window_type="hanning") - mean) / std, 16, 10, 10)
    fused = kaldi_fbank_patches(y, 16, 10, 10, mean, std, num_mel_bins=128, window_type="hanning")
    assert fused.shape == two_step.shape
    np.testing.assert_allclose(fused, two_step, atol=1e-5)
    single = kaldi_fbank_patches(y[0], num_mel_bins=128, window_type="hanning")
    np.testing.assert_allclose(single, patchify(kaldi_fbank(y[0], num_mel_bins=128, window_type="hanning")),
                               atol=1e-6)


@pytest.mark.parametrize("log,top_db", [("db", 80.0), ("db", None), ("log", None), ("none", None)])
def test_fused_mel_patches_equal_two_steps(log, top_db):
    y = chord(1.5, sample_rate=16000, seed=2, batch=2)
    kw = dict(sr=16000, n_fft=512, hop_length=160, n_mels=64)
    fused = melspectrogram_patches(y, **kw, log=log, top_db=top_db, mean=1.5, std=3.0, fstride=8, tstride=12)
    if log == "db":
        features = log_melspectrogram(y, **kw, top_db=top_db)
    else:
        from pianox.features import melspectrogram
        features = melspectrogram(y, **kw)
        features = np.log(np.maximum(features, 1e-10)) if log == "log" else features
    expected = patchify(np.ascontiguousarray((np.swapaxes(features, 1, 2) - 1.5) / 3.0), 16, 8, 12)
    assert fused.shape == expected.shape
    np.testing.assert_allclose(fused, expected, atol=2e-4 if log == "db" else 1e-4,
                               rtol=1e-4 if log == "none" else 0)
