"""pianox.augment: targets stay aligned with the audio (checked with librosa's onset detector
and the spectrum), noise SNR, mixup, SpecAugment masks, determinism, defaults off."""

from __future__ import annotations

import dataclasses

import librosa
import mir_eval
import numpy as np
import pytest
import torch

from pianox.augment import (AugmentConfig, add_noise, apply_features, apply_mixup,
                            apply_waveform, eq_curve, pitch_shift, random_eq, time_stretch)
from pianox.errors import ConfigError
from pianox.schema import Where, build

SR = 16000
ONSETS = np.array([0.3, 0.9, 1.4, 2.2, 2.9, 3.5])


def _bursts() -> np.ndarray:
    """4 s of decaying noise bursts at ONSETS: sharp, unambiguous onsets."""
    rng = np.random.default_rng(0)
    y = np.zeros(4 * SR, np.float32)
    n = int(0.08 * SR)
    for t in ONSETS:
        s = int(t * SR)
        y[s:s + n] += 0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / SR * 60)
    return y


def _detected(y: np.ndarray) -> np.ndarray:
    return librosa.onset.onset_detect(y=y, sr=SR, units="time", hop_length=128, delta=0.1)


def _tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(4 * np.pi * freq * t)).astype(np.float32)


def _peak(y: np.ndarray) -> float:
    seg = y[len(y) // 4: 3 * len(y) // 4]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=8 * len(seg)))
    return float(np.fft.rfftfreq(8 * len(seg), 1 / SR)[spec.argmax()])


def test_defaults_are_identity():
    y = _bursts()
    notes = np.array([[0.3, 0.5, 60, 80]])
    out, targets = apply_waveform(y, SR, {"notes": notes}, np.random.default_rng(0), AugmentConfig())
    assert np.array_equal(out, y) and np.array_equal(targets["notes"], notes)
    x = np.random.default_rng(1).normal(size=(2, 30, 16)).astype(np.float32)
    assert np.array_equal(apply_features(x, np.random.default_rng(0), AugmentConfig()), x)


@pytest.mark.parametrize("factor", [0.8, 1.2])
def test_time_stretch_moves_onsets_with_the_labels(factor):
    y = _bursts()
    hits = np.stack([ONSETS, np.zeros_like(ONSETS), np.full_like(ONSETS, 100)], axis=1)
    cfg = AugmentConfig(stretch_prob=1.0, stretch_min=factor, stretch_max=factor)
    out, targets = apply_waveform(y, SR, {"hits": hits, "ratings": np.ones(19)},
                                  np.random.default_rng(0), cfg)
    assert len(out) == round(len(y) * factor)
    np.testing.assert_allclose(targets["hits"][:, 0], ONSETS * factor)
    assert np.array_equal(targets["ratings"], np.ones(19))
    found = _detected(out)
    f, _, _ = mir_eval.onset.f_measure(targets["hits"][:, 0], found, window=0.03)
    assert f == 1.0, (found, targets["hits"][:, 0])
    assert np.max(np.abs(found - targets["hits"][:, 0])) < 0.03


@pytest.mark.parametrize("semitones", [-2, 2])
def test_pitch_shift_moves_pitch_and_note_labels_not_onsets(semitones):
    tone = _tone(440.0)
    shifted = pitch_shift(tone, SR, semitones)
    assert len(shifted) == len(tone)
    assert _peak(shifted) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.004)
    notes = np.stack([ONSETS, ONSETS + 0.2, np.full_like(ONSETS, 69), np.full_like(ONSETS, 80)], 1)
    notes[0, 2] = 127  # pushed out of range by +2: dropped
    cfg = AugmentConfig(pitch_prob=1.0, pitch_max=2)
    out, targets = apply_waveform(_bursts(), SR, {"notes": notes}, np.random.default_rng(4), cfg)
    moved = targets["notes"][:, 2] - 69
    shift = int(moved[-1])
    assert shift in (-2, -1, 1, 2) and np.all(moved == shift)
    assert len(targets["notes"]) == (5 if shift > 0 else 6)
    found = _detected(out)
    assert mir_eval.onset.f_measure(targets["notes"][:, 0], found, window=0.03)[0] > 0.9


def test_noise_snr_is_as_asked():
    y = _tone(220.0, 2.0)
    rng = np.random.default_rng(0)
    noisy = add_noise(y, 20.0, rng)
    snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((noisy - y) ** 2))
    assert snr == pytest.approx(20.0, abs=0.2)
    assert np.array_equal(add_noise(np.zeros(100, np.float32), 10.0, rng), np.zeros(100))


def test_random_eq_applies_its_curve_and_keeps_onsets():
    # A flat-spectrum click train through the EQ: the output spectrum over the input spectrum
    # is the drawn curve (same seed), the length and the onsets are unchanged.
    y = _bursts()
    out = random_eq(y, SR, 9.0, 3, np.random.default_rng(5))
    assert out.dtype == np.float32 and out.shape == y.shape
    curve = eq_curve(np.fft.rfftfreq(len(y), 1 / SR), 9.0, 3, np.random.default_rng(5))
    ratio = 20 * np.log10(np.abs(np.fft.rfft(out.astype(np.float64)))
                          / np.maximum(np.abs(np.fft.rfft(y.astype(np.float64))), 1e-12))
    band = slice(len(curve) // 50, len(curve) - len(curve) // 50)  # away from float32 floor
    assert np.allclose(ratio[band], curve[band], atol=0.05)
    assert np.abs(curve).max() <= 9.0 * 4 and np.abs(curve).max() > 1.0  # tilt + 3 bells
    found = _detected(out)
    assert mir_eval.onset.f_measure(ONSETS, found, window=0.02)[0] == 1.0
    assert np.array_equal(random_eq(y, SR, 0.0, 3, np.random.default_rng(5)), y)


def test_augmentation_is_deterministic_for_a_seed():
    cfg = AugmentConfig(stretch_prob=0.5, pitch_prob=0.5, gain_prob=0.5, eq_prob=0.5, noise_prob=0.5)
    notes = np.array([[0.3, 0.5, 60, 80]])
    runs = [apply_waveform(_bursts(), SR, {"notes": notes}, np.random.default_rng(11), cfg)
            for _ in range(2)]
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1]["notes"], runs[1][1]["notes"])


def test_mixup_blends_waveforms_and_ratings_consistently():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    r = np.arange(8, dtype=np.float32).reshape(4, 2) / 10
    cfg = AugmentConfig(mixup_prob=1.0, mixup_alpha=0.4)
    mw, mr = apply_mixup(w, r, np.random.default_rng(5), cfg)
    rng = np.random.default_rng(5)
    partner = rng.permutation(4)
    lam = rng.beta(0.4, 0.4, 4)
    np.testing.assert_allclose(mw, lam[:, None] * w + (1 - lam[:, None]) * w[partner], rtol=1e-6)
    np.testing.assert_allclose(mr, lam[:, None] * r + (1 - lam[:, None]) * r[partner], rtol=1e-6)
    tw, tr = apply_mixup(torch.from_numpy(w), torch.from_numpy(r), np.random.default_rng(5), cfg)
    np.testing.assert_allclose(tw.numpy(), mw, rtol=1e-6)
    np.testing.assert_allclose(tr.numpy(), mr, rtol=1e-6)
    same = apply_mixup(w, r, np.random.default_rng(5), AugmentConfig())
    assert same[0] is w and same[1] is r


@pytest.mark.parametrize("as_torch", [False, True])
def test_spec_augment_masks(as_torch):
    x = np.random.default_rng(2).normal(2.0, 1.0, size=(3, 50, 20)).astype(np.float32)
    cfg = AugmentConfig(freq_mask_prob=1.0, freq_masks=1, freq_mask_width=6,
                        time_mask_prob=1.0, time_masks=2, time_mask_width=10)
    lengths = np.array([50, 30, 10])
    inp = torch.from_numpy(x) if as_torch else x
    out = apply_features(inp, np.random.default_rng(9), cfg, lengths=lengths)
    out = out.numpy() if as_torch else out
    assert out.shape == x.shape and not np.array_equal(out, x)
    for b in range(3):
        changed = out[b] != x[b]
        assert not changed[lengths[b]:].any()  # padding never masked
        fill = x[b, : lengths[b]].mean()
        np.testing.assert_allclose(out[b][changed], fill, rtol=1e-5)
        freq_cols = np.flatnonzero(changed[: lengths[b]].all(axis=0))
        assert len(freq_cols) <= 6
        time_rows = np.flatnonzero(changed.all(axis=1))
        assert len(time_rows) <= 20 and (time_rows < lengths[b]).all()
    again = apply_features(inp, np.random.default_rng(9), cfg, lengths=lengths)
    assert np.array_equal(again.numpy() if as_torch else again, out)
    assert np.array_equal(inp.numpy() if as_torch else inp, x)  # the input is not modified


def test_config_round_trips_and_validates():
    cfg = build(AugmentConfig, {"stretch_prob": 0.5, "pitch_max": 1}, Where(file="exp.toml",
                                                                            table="train.augment"))
    assert cfg == dataclasses.replace(AugmentConfig(), stretch_prob=0.5, pitch_max=1)
    for bad in ({"noise_prob": 1.5}, {"stretch_min": 1.3}, {"mixup_alpha": 0}, {"eq_db": -1.0},
                {"eq_prob": 2.0}):
        with pytest.raises(ConfigError, match=r"exp.toml, \[train.augment\]"):
            build(AugmentConfig, bad, Where(file="exp.toml", table="train.augment"))


def test_time_stretch_identity_and_length():
    y = _bursts()
    assert np.array_equal(time_stretch(y, SR, 1.0), y)
    assert len(time_stretch(y[:1001], SR, 1.1)) == round(1001 * 1.1)
