"""Property tests: the compiled core equals the torch reference for random lengths (shorter than a
frame included), amplitudes, batch sizes, framings and pad modes; threads, batching and
instruction sets do not change results; framing equals numpy.pad + striding."""

from __future__ import annotations

import numpy as np
import pytest

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pianox.features import FrontSpec, reference
from pianox.features.frontend import compute

from native import require_core

_core = require_core()

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def specs(draw, log=None):
    """A random but valid front-end configuration (Kaldi-like or librosa-like)."""
    kaldi = draw(st.booleans())
    win = draw(st.integers(2, 300))
    n_fft = draw(st.sampled_from([win, win + draw(st.integers(0, 40)), 1 << (win - 1).bit_length()]))
    if kaldi and n_fft % 2:
        n_fft += 1
    rate = float(draw(st.sampled_from([8000, 16000, 22050])))
    common = dict(win_length=win, hop_length=draw(st.integers(1, 2 * win)), n_fft=n_fft, sample_rate=rate,
                  n_mels=draw(st.integers(3, 40)), log=log or draw(st.sampled_from(["none", "log", "db"])),
                  power=draw(st.sampled_from([1.0, 2.0])))
    if kaldi:
        return FrontSpec(framing=draw(st.sampled_from(["kaldi_snip", "kaldi_reflect"])), fmin=20.0,
                         fmax=rate / 2 - draw(st.sampled_from([0.0, 500.0])),
                         window=draw(st.sampled_from(["povey", "hann", "hamming", "blackman", "rectangular"])),
                         remove_dc=draw(st.booleans()), preemphasis=draw(st.sampled_from([0.0, 0.97])),
                         mel_scale="kaldi", **common)
    return FrontSpec(framing=draw(st.sampled_from(["center", "valid"])),
                     pad_mode=draw(st.sampled_from(["constant", "reflect", "edge", "symmetric"])),
                     fmin=0.0, fmax=rate / 2, window=draw(st.sampled_from(["hann", "hamming", "blackman"])),
                     periodic=True, mel_scale=draw(st.sampled_from(["slaney", "htk"])),
                     mel_norm=draw(st.sampled_from(["slaney", "none"])), floor=1e-10,
                     top_db=draw(st.sampled_from([None, 60.0])), **common)


def waveforms(draw, spec: FrontSpec, max_batch: int = 3) -> np.ndarray:
    batch = draw(st.integers(1, max_batch))
    length = draw(st.integers(1, 3 * spec.n_fft + 200))
    if batch > length:
        batch = 1
    amplitude = 10.0 ** draw(st.floats(-3, 4))
    seed = draw(st.integers(0, 2**16))
    return (amplitude * np.random.default_rng(seed).standard_normal((batch, length))).astype(np.float32)


def assert_close_to_reference(ours: np.ndarray, ref: np.ndarray, spec: FrontSpec) -> None:
    assert ours.shape == ref.shape
    if ours.size == 0:
        return
    if spec.log == "none":  # float32 FFT noise, relative to each example's peak
        scale = np.abs(ref).reshape(ref.shape[0], -1).max(axis=1).reshape(-1, 1, 1) + 1e-30
        assert (np.abs(ours - ref) / scale).max() < 1e-4
    else:  # log / dB: compare where the energy is not buried in rounding noise
        unit = 1.0 if spec.log == "log" else 10.0 / np.log(10.0)
        assert np.abs(ours - ref).max() < 5e-3 * unit


@SETTINGS
@given(data=st.data())
def test_core_matches_reference(data):
    spec = data.draw(specs(log=data.draw(st.sampled_from(["none", "log"]))))
    wave = waveforms(data.draw, spec)
    if spec.framing == "valid" and wave.shape[1] < spec.n_fft:
        wave = np.pad(wave, ((0, 0), (0, spec.n_fft - wave.shape[1])))
    # log features of noise: floor the reference's tiny bins the same way before comparing
    ours = compute(spec, wave)
    ref = reference.frontend(spec, torch.from_numpy(wave)).numpy()
    assert ours.shape == (wave.shape[0], spec.num_frames(wave.shape[1]), spec.n_mels)
    if spec.log == "log":
        keep = ref > np.log(spec.floor) + 8  # bins within e^8 of the floor lose digits to FFT rounding
        ours, ref = np.where(keep, ours, 0), np.where(keep, ref, 0)
    assert_close_to_reference(ours, ref, spec)


@SETTINGS
@given(data=st.data(), threads=st.integers(2, 5))
def test_threads_and_batching_do_not_change_results(data, threads):
    spec = data.draw(specs())
    wave = waveforms(data.draw, spec, max_batch=4)
    if spec.framing == "valid" and wave.shape[1] < spec.n_fft:
        return
    one = compute(spec, wave, threads=1)
    np.testing.assert_array_equal(one, compute(spec, wave, threads=threads))
    for b in range(wave.shape[0]):
        np.testing.assert_array_equal(one[b], compute(spec, np.ascontiguousarray(wave[b:b + 1]), threads=threads)[0])


@settings(max_examples=20, deadline=None)
@given(patch=st.integers(1, 16), fstride=st.integers(1, 20), tstride=st.integers(1, 20),
       frames=st.integers(0, 60), features=st.integers(1, 40), batch=st.integers(1, 3),
       threads=st.integers(1, 3))
def test_patchify_matches_unfold(patch, fstride, tstride, frames, features, batch, threads):
    spec = torch.randn(batch, frames, features)
    if frames == 0:
        return
    expected = reference.patchify(spec, patch, fstride, tstride)
    ours = _core.patchify(spec, patch, fstride, tstride, threads)
    np.testing.assert_array_equal(ours, expected.numpy())


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 50), n_fft=st.integers(1, 64), hop=st.integers(1, 20),
       mode=st.sampled_from(["constant", "reflect", "edge", "symmetric"]))
def test_centred_framing_equals_numpy_pad(length, n_fft, hop, mode):
    spec = FrontSpec(win_length=n_fft, hop_length=hop, n_fft=n_fft, framing="center", pad_mode=mode,
                     sample_rate=16000.0, n_mels=4, fmin=0.0, fmax=8000.0, mel_scale="slaney")
    wave = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    padded = np.pad(wave, n_fft // 2, mode=mode)
    expected = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    np.testing.assert_array_equal(reference.frames(spec, torch.from_numpy(wave)[None])[0].numpy(), expected)


def test_every_instruction_set_agrees():
    spec = FrontSpec(win_length=400, hop_length=160, n_fft=512, framing="kaldi_snip", sample_rate=16000.0,
                     n_mels=128, fmin=20.0, fmax=8000.0, window="hann", remove_dc=True, preemphasis=0.97)
    wave = (0.1 * np.random.default_rng(0).standard_normal((3, 8000))).astype(np.float32)
    results = {}
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            results[isa] = compute(spec, wave)
    finally:
        _core.set_isa("")
    base = results["generic"]
    for isa, out in results.items():
        assert np.abs(out - base).max() < 1e-4, isa
