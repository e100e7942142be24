"""pianox.audio: span reading, resampling, mono mixing, atomic writes and every bad-input case."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from pianox.api import Example
from pianox.audio import load_example, probe_audio, read_audio, resample, write_audio
from pianox.errors import AudioError


def _sine(freq: float, seconds: float, sr: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


@pytest.fixture
def ramp_wav(tmp_path):
    """A 2 s, 16 kHz PCM_16 file whose sample n holds (n mod 1000) / 2000: spans are checkable."""
    y = ((np.arange(32000) % 1000) / 2000).astype(np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(path, y, 16000, subtype="PCM_16")
    return path, sf.read(path, dtype="float32")[0]


def test_span_read_matches_the_slice_of_a_full_read(ramp_wav):
    path, full = ramp_wav
    y, sr = read_audio(path, start=0.5, duration=0.25)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == (4000,)
    np.testing.assert_array_equal(y, full[8000:12000])
    tail, _ = read_audio(path, start=1.9)
    np.testing.assert_array_equal(tail, full[30400:])
    clipped, _ = read_audio(path, start=1.9, duration=1.0)  # runs past the end: what exists
    assert len(clipped) == 1600


def test_stereo_is_mixed_to_mono_by_mean(tmp_path):
    left, right = _sine(440, 0.5, 16000), _sine(660, 0.5, 16000)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_24")
    y, _ = read_audio(path)
    np.testing.assert_allclose(y, (left + right) / 2, atol=2e-6)


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 8000])
def test_resampling_to_16k_keeps_pitch_and_duration(tmp_path, rate):
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, _sine(441.0, 1.0, rate), rate, subtype="PCM_16")
    y, sr = read_audio(path, sample_rate=16000)
    assert sr == 16000 and abs(len(y) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(y[2000:14000] * np.hanning(12000)))
    peak = np.fft.rfftfreq(12000, 1 / 16000)[spectrum.argmax()]
    assert abs(peak - 441.0) < 1.5


def test_resample_identity_and_length():
    y = _sine(100, 0.1, 1000 * 16)
    assert np.array_equal(resample(y, 16000, 16000), y)
    assert abs(len(resample(y, 16000, 8000)) - len(y) // 2) <= 1


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"not found: .*nope\.wav"):
        read_audio(tmp_path / "nope.wav")


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 8)
    with pytest.raises(AudioError, match=r"cannot open audio file .*corrupt\.wav"):
        read_audio(path)


def test_truncated_wav_is_detected_from_its_header(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _sine(440, 1.0, 16000), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav is truncated: its header declares 16000"):
        read_audio(path)


def test_truncated_flac_fails_to_decode(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 16000).astype(np.float32), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac"):
        read_audio(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav is empty \(0 samples\)"):
        read_audio(path)


def test_non_finite_samples(tmp_path):
    y = _sine(440, 0.5, 16000)
    y[4000] = np.nan
    y[5000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav holds 2 non-finite samples \(first at 0\.250 s\)"):
        read_audio(path)
    clean, _ = read_audio(path, start=0.0, duration=0.2)  # the span before the NaN is fine
    assert np.isfinite(clean).all()


@pytest.mark.parametrize("rate", [500, 400_000])
def test_odd_sample_rates_are_refused(tmp_path, rate):
    path = tmp_path / f"odd{rate}.wav"
    sf.write(path, np.zeros(rate // 10 + 1, np.float32), rate, subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"odd{rate}\.wav: unsupported sample rate {rate} Hz"):
        probe_audio(path)


def test_span_past_the_end_and_negative_span(ramp_wav):
    path, _ = ramp_wav
    with pytest.raises(AudioError, match=r"starts at 3\.000 s, past its end \(2\.000 s\)"):
        read_audio(path, start=3.0)
    with pytest.raises(AudioError, match="negative span"):
        read_audio(path, start=-1.0)


def test_load_example_pads_the_last_segment_and_resamples(ramp_wav):
    path, full = ramp_wav
    ex = Example(key="k", audio_path=path, start=1.5, duration=1.0)
    y = load_example(ex, 16000)
    assert y.shape == (16000,) and y.dtype == np.float32
    np.testing.assert_array_equal(y[:8000], full[24000:])
    assert not y[8000:].any()
    assert load_example(ex, 8000).shape == (8000,)
    whole = Example(key="w", audio_path=path, meta={"sample_rate": 8000})
    assert load_example(whole).shape == (16000,)  # meta sample_rate used when none is given


def test_load_example_in_memory_audio():
    audio = np.arange(1000, dtype=np.float32) / 1000
    ex = Example(key="mem", audio=audio, sample_rate=1000, start=0.25, duration=0.5)
    np.testing.assert_array_equal(load_example(ex, 1000), audio[250:750])
    assert load_example(ex, 2000).shape == (1000,)
    with pytest.raises(AudioError, match="'nosr' has in-memory audio but no sample_rate"):
        load_example(Example(key="nosr", audio=audio))
    with pytest.raises(AudioError, match="neither audio_path nor in-memory audio"):
        load_example(Example(key="none"))


def test_write_audio_is_atomic_and_exact(tmp_path):
    y = _sine(440, 0.25, 16000)
    path = write_audio(tmp_path / "sub" / "out.wav", y, 16000)
    assert os.listdir(tmp_path / "sub") == ["out.wav"]  # no temporary left behind
    assert os.stat(path).st_mode & 0o777 != 0o600
    back, sr = read_audio(path)
    assert sr == 16000 and np.max(np.abs(back - y)) < 1 / 32767 + 1e-6
    loud = write_audio(tmp_path / "loud.flac", np.full(100, 3.0, np.float32), 16000)
    assert read_audio(loud)[0].max() == pytest.approx(1.0, abs=1e-4)  # clipped, not wrapped


def test_write_audio_refuses_bad_input_and_leaves_nothing(tmp_path):
    bad = _sine(440, 0.1, 16000)
    bad[3] = np.nan
    with pytest.raises(AudioError, match="non-finite"):
        write_audio(tmp_path / "bad.wav", bad, 16000)
    with pytest.raises(AudioError, match="unsupported sample rate 10"):
        write_audio(tmp_path / "bad.wav", _sine(1, 0.1, 100), 10)
    with pytest.raises(AudioError, match="unknown audio format '.xyz'"):
        write_audio(tmp_path / "bad.xyz", _sine(1, 0.1, 16000), 16000)
    assert list(tmp_path.iterdir()) == []
