"""kaldi_fbank against Kaldi fbank (through transformers' numpy port used by ASTFeatureExtractor)
and against the pure-torch reference, over torchaudio's options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from pianox.features import kaldi_fbank, reference
from pianox.features.frontend import use_reference
from pianox.features.kaldi import _kaldi_spec

from .signals import chord

KALDI_DEFAULTS = dict(blackman_coeff=0.42, dither=0.0, energy_floor=1.0, frame_length=25.0, frame_shift=10.0,
                      high_freq=0.0, htk_compat=False, low_freq=20.0, num_mel_bins=23, preemphasis_coefficient=0.97,
                      raw_energy=True, remove_dc_offset=True, round_to_power_of_two=True, sample_frequency=16000.0,
                      snip_edges=True, subtract_mean=False, use_energy=False, use_log_fbank=True, use_power=True,
                      vtln_warp=1.0, window_type="povey")

TRANSFORMERS_WINDOWS = {"hanning": "hann", "povey": "povey", "hamming": "hamming", "rectangular": "boxcar",
                        "blackman": None}  # numpy's symmetric Blackman is Kaldi's with coefficient 0.42


def kaldi_via_transformers(y: np.ndarray, window_type: str, num_mel_bins: int, low_freq: float = 20.0,
                           sample_rate: int = 16000) -> np.ndarray:
    """Kaldi fbank as ASTFeatureExtractor computes it without torchaudio (float64 numpy port)."""
    filters = mel_filter_bank(num_frequency_bins=257, num_mel_filters=num_mel_bins, min_frequency=low_freq,
                              max_frequency=sample_rate // 2, sampling_rate=sample_rate, norm=None, mel_scale="kaldi",
                              triangularize_in_mel_space=True)
    name = TRANSFORMERS_WINDOWS[window_type]
    window = np.blackman(400) if name is None else window_function(400, name, periodic=False)
    return spectrogram(y, window, frame_length=400, hop_length=160, fft_length=512, power=2.0, center=False,
                       preemphasis=0.97, mel_filters=filters, log_mel="log", mel_floor=1.192092955078125e-07,
                       remove_dc_offset=True).T


def reference_fbank(y: np.ndarray, **kw) -> np.ndarray:
    args = {**KALDI_DEFAULTS, **kw}
    spec = _kaldi_spec(**args, seed=0)
    return reference.frontend(spec, torch.from_numpy(np.ascontiguousarray(y)).reshape(1, -1))[0].numpy()


@pytest.mark.filterwarnings("ignore:At least one mel filter")
@pytest.mark.parametrize("window_type", list(TRANSFORMERS_WINDOWS))
@pytest.mark.parametrize("num_mel_bins", [23, 128])
def test_matches_kaldi_fbank_via_transformers(window_type, num_mel_bins):
    y = chord(2.0, seed=num_mel_bins)
    expected = kaldi_via_transformers(y, window_type, num_mel_bins)
    ours = kaldi_fbank(y, num_mel_bins=num_mel_bins, window_type=window_type)
    ref = reference_fbank(y, num_mel_bins=num_mel_bins, window_type=window_type)
    assert ours.shape == expected.shape == (1 + (y.size - 400) // 160, num_mel_bins)
    assert np.abs(ours - expected).max() < 1e-3
    assert np.abs(ref - expected).max() < 1e-3


@pytest.mark.parametrize("options", [
    {},
    {"snip_edges": False},
    {"use_energy": True},
    {"use_energy": True, "htk_compat": True, "raw_energy": False, "energy_floor": 0.0},
    {"use_power": False},
    {"use_log_fbank": False},
    {"subtract_mean": True, "num_mel_bins": 40},
    {"round_to_power_of_two": False},  # 400-point FFT: mixed radix
    {"frame_length": 30.0, "frame_shift": 15.0, "window_type": "hamming"},
    {"sample_frequency": 22050.0, "high_freq": -2000.0, "low_freq": 100.0},
    {"sample_frequency": 8000.0, "window_type": "blackman", "blackman_coeff": 0.4},
    {"preemphasis_coefficient": 0.0, "remove_dc_offset": False, "window_type": "rectangular"},
])
def test_native_matches_reference(options):
    rate = int(options.get("sample_frequency", 16000))
    y = chord(1.3, sample_rate=rate, seed=len(options), amplitude=0.5)
    ours = kaldi_fbank(y, **options)
    ref = reference_fbank(y, **options)
    assert ours.shape == ref.shape
    if options.get("use_log_fbank", True):
        assert np.abs(ours - ref).max() < 1e-3
    else:
        assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()


def test_energy_column_position_and_value():
    y = chord(0.5, seed=4)
    plain = kaldi_fbank(y)
    first = kaldi_fbank(y, use_energy=True)
    last = kaldi_fbank(y, use_energy=True, htk_compat=True)
    np.testing.assert_array_equal(first[:, 1:], plain)
    np.testing.assert_array_equal(last[:, :-1], plain)
    np.testing.assert_array_equal(first[:, 0], last[:, -1])
    # raw energy: log of the DC-removed frame's energy, floored at log(energy_floor)
    frames = np.lib.stride_tricks.sliding_window_view(y.astype(np.float64), 400)[::160]
    frames = frames - frames.mean(axis=1, keepdims=True)
    expected = np.maximum(np.log(np.maximum((frames ** 2).sum(axis=1), 1.1920928955078125e-07)), 0.0)
    np.testing.assert_allclose(first[:, 0], expected, atol=1e-4)


def test_shapes_and_array_types_follow_torchaudio():
    y = chord(1.0, seed=5)
    t = 1 + (y.size - 400) // 160
    assert kaldi_fbank(y).shape == (t, 23)
    assert kaldi_fbank(y[None]).shape == (t, 23)
    out = kaldi_fbank(torch.from_numpy(y))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (t, 23)
    batch = np.stack([y, y[::-1].copy(), 0.5 * y])
    batched = kaldi_fbank(batch)
    assert batched.shape == (3, t, 23)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], kaldi_fbank(batch[i]))
    np.testing.assert_array_equal(kaldi_fbank(batch, channel=1), batched[1])
    assert kaldi_fbank(y, snip_edges=False).shape == ((y.size + 80) // 160, 23)


def test_short_inputs_give_zero_frames():
    assert kaldi_fbank(np.zeros(399, np.float32)).shape == (0, 23)
    assert kaldi_fbank(chord(0.2), min_duration=0.5).shape == (0, 23)
    assert kaldi_fbank(chord(0.2, batch=2), min_duration=0.5).shape == (2, 0, 23)
    # centred frames reflect the signal (Kaldi), so even 100 samples give a frame
    short = np.linspace(-1, 1, 100, dtype=np.float32)
    np.testing.assert_allclose(kaldi_fbank(short, snip_edges=False), reference_fbank(short, snip_edges=False),
                               atol=1e-3)


def test_no_rescaling_of_amplitudes():
    # Kaldi fbank is not scale invariant: doubling the waveform adds log(4) to every bin.
    y = chord(0.8, seed=6)
    np.testing.assert_allclose(kaldi_fbank(2 * y), kaldi_fbank(y) + np.log(4.0), atol=1e-4)


def test_dither_is_seeded_and_thread_independent():
    y = chord(0.6, seed=7, batch=2)
    a = kaldi_fbank(y, dither=1.0, seed=11, threads=1)
    np.testing.assert_array_equal(a, kaldi_fbank(y, dither=1.0, seed=11, threads=2))
    assert not np.array_equal(a, kaldi_fbank(y, dither=1.0, seed=12))
    assert not np.array_equal(a, kaldi_fbank(y))
    # silence + unit-variance dither: white noise, each mel band's energy is about its filter area
    silence = np.zeros((1, 16000), np.float32)
    noise = kaldi_fbank(silence, dither=1.0, window_type="rectangular", preemphasis_coefficient=0.0,
                        remove_dc_offset=False, num_mel_bins=23)
    ref = reference_fbank(silence[0], dither=1.0, window_type="rectangular", preemphasis_coefficient=0.0,
                          remove_dc_offset=False, num_mel_bins=23)
    assert abs(noise.mean() - ref.mean()) < 0.05


def test_tensors_on_the_reference_path_match():
    y = torch.from_numpy(chord(0.7, seed=8))
    tracked = y.clone().requires_grad_(True)
    assert use_reference(tracked)
    out = kaldi_fbank(tracked)
    assert out.requires_grad
    np.testing.assert_allclose(out.detach().numpy(), kaldi_fbank(y).numpy(), atol=1e-3)
    out.sum().backward()
    assert tracked.grad is not None and torch.isfinite(tracked.grad).all()


@pytest.mark.parametrize("bad", [{"vtln_warp": 0.9}, {"window_type": "hann"}, {"num_mel_bins": 3},
                                 {"frame_length": 0.1}, {"preemphasis_coefficient": 1.5},
                                 {"high_freq": 9000.0}, {"low_freq": 8000.0}])
def test_bad_options_raise_value_error(bad):
    with pytest.raises(ValueError):
        kaldi_fbank(chord(0.5), **bad)
