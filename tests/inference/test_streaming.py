"""Streaming: a file read window by window gives exactly what the whole waveform gives, the
frame decoder that works block by block gives the notes of decoding everything at once, and a
2-minute file transcribes to the same notes streamed and whole."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from pianox.audio import read_audio
from pianox.inference.stream import Windowing, array_windows, read_blocks, stream_windows


def _tones(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A few seconds of piano-like tones: a new pitch every 0.25 s with a decaying envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110.0 * 2 ** (rng.integers(0, 36, int(seconds * 4) + 1) / 12)
    phase = np.cumsum(2 * np.pi * f0[(t * 4).astype(int)] / rate)
    env = np.exp(-6.0 * (t % 0.25))
    return (0.3 * env * np.sin(phase) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 44100, 22050])
def test_blocks_equal_reading_the_whole_file(tmp_path, rate):
    y = _tones(7.3, rate)
    sf.write(tmp_path / "a.wav", np.stack([y, 0.5 * y], 1), rate, subtype="FLOAT")  # stereo: mixed down
    whole, _ = read_audio(tmp_path / "a.wav", 16000)
    blocks = list(read_blocks(tmp_path / "a.wav", 16000, block_seconds=0.7))
    assert len(blocks) > 5
    np.testing.assert_array_equal(np.concatenate(blocks), whole)


@pytest.mark.parametrize("windowing", [Windowing(16000, 16000), Windowing(41280, 20480), Windowing(16000, 9000, False)],
                         ids=["back-to-back", "overlap-padded", "overlap-end-aligned"])
def test_streamed_windows_equal_the_windows_of_the_whole_waveform(tmp_path, windowing):
    y = _tones(9.1, 44100, seed=1)
    sf.write(tmp_path / "a.flac", y, 44100)
    whole, _ = read_audio(tmp_path / "a.flac", 16000)
    streamed = stream_windows(tmp_path / "a.flac", 16000, windowing)
    in_memory = array_windows(whole, windowing)
    assert streamed.total == len(whole) and streamed.count == in_memory.count == len(windowing.starts(len(whole)))
    for a, b in zip(streamed, in_memory, strict=True):
        assert (a.start, a.valid) == (b.start, b.valid)
        np.testing.assert_array_equal(a.samples, b.samples)
        np.testing.assert_array_equal(a.samples[: a.valid], whole[a.start:a.start + a.valid])


def test_block_decoding_gives_the_notes_of_decoding_everything_at_once():
    from pianox_transcription.frames import posteriors_to_notes
    from pianox_transcription.inference import FrameNotes

    rng = np.random.default_rng(3)
    T = 5000
    post = np.zeros((4, T, 88), np.float32)
    for _ in range(400):  # notes of every length, some held across many blocks
        p, a = rng.integers(0, 88), rng.integers(0, T - 2)
        b = min(T, a + int(rng.choice([1, 3, 40, 700])))
        post[0, a:a + 2, p] = rng.uniform(0.6, 1.0)
        post[1, a:b, p] = rng.uniform(0.55, 1.0)
        post[3, a, p] = rng.uniform(0, 1)
    post += rng.uniform(0, 0.3, post.shape).astype(np.float32)  # sub-threshold noise
    post[2] = np.where(rng.uniform(size=post[2].shape) < 0.001, 0.9, post[2])  # a few offsets

    def decode(x):
        return posteriors_to_notes(x, 100.0, 0.5, 0.5, 0.5)

    whole = decode(post)
    for block, chunk in [(200, 37), (500, 500), (1000, 1)]:
        notes = FrameNotes(decode, 100.0, block=block)
        for a in range(0, T, chunk):
            notes.add(post[:, a:a + chunk].transpose(1, 0, 2))
        got = notes.finish()
        assert len(whole) > 100
        np.testing.assert_allclose(got, whole, atol=1e-9)


def test_a_two_minute_file_transcribes_to_the_same_notes_streamed_and_whole(runs, tmp_path):
    """The issue's check: streamed (read, resampled, windowed as needed) == whole (the file read
    at once, the same windows cut from memory), posteriors and notes, for both heads' paths."""
    from pianox.inference.models import load_model
    from pianox_transcription.inference import MIN_NOTE_SECONDS, Transcriber

    y = _tones(120.0, 44100, seed=2)
    path = tmp_path / "two-minutes.wav"
    sf.write(path, y, 44100, subtype="PCM_16")
    trained = load_model(runs["transcription"], task="transcription", device="cpu")
    tr = Transcriber(trained, "frames", batch_size=16)
    whole, _ = read_audio(path, tr.sample_rate)
    post = tr.posteriors(path)
    assert post.shape == (4, 12000, 88)
    np.testing.assert_array_equal(post, tr.posteriors(whole))
    config = trained.task.config  # an untrained model: thresholds inside its posteriors' range give notes
    config.onset_threshold, config.frame_threshold = np.quantile(post[0], 0.97), np.quantile(post[1], 0.5)
    calls = []
    streamed = tr.transcribe(path, lambda done, total: calls.append((done, total)))
    in_memory = tr.transcribe(whole)
    assert calls[-1] == (120, 120)  # 1-second windows
    assert len(streamed) > 50
    np.testing.assert_array_equal(streamed, in_memory)
    once = trained.task.frames_to_notes(post)  # decoding all 12000 frames at once, by hand
    once = once[once[:, 1] - once[:, 0] >= MIN_NOTE_SECONDS]  # as transcribe() does (no note ends past 120 s)
    np.testing.assert_allclose(streamed, once, atol=1e-9)
