"""Front-end speed: pianox's fused core against the same work in other libraries, same threads.

Run: `uv run pytest bench/bench_frontend.py` (add `--benchmark-json out.json` to keep numbers).
Cases: 10 s and 60 s of 16 kHz audio, batch 1 and 16, 1 and 2 threads. Columns:
  pianox_fbank    pianox.features.kaldi_fbank (128 bins, hanning, as AST)
  torch_fbank     the same algorithm in plain torch ops (pianox.features.reference)
  torchaudio      torchaudio.compliance.kaldi.fbank, one waveform at a time (skipped when absent)
  pianox_mel      pianox.features.melspectrogram (n_fft 512, hop 160, win 400, 128 Slaney mels)
  librosa_mel     librosa.feature.melspectrogram with the same settings (numpy; BLAS threads as set)
  rfft_floor      torch.fft.rfft of the same (B * T, 512) windowed frames: the FFT alone
Ratios reference / pianox of minimum times (so a busy machine hurts less) go to the session's
ratio report (bench/conftest.py) as soon as both sides of a case have run. Targets: torch ops
and torchaudio >= 3x the fbank time, librosa >= 5x the mel time, the FFT alone >= 1/1.5 of it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time

import numpy as np
import pytest
import torch

from pianox.features import kaldi_fbank, melspectrogram, reference
from pianox.features.kaldi import _kaldi_spec

SAMPLE_RATE = 16000
DURATIONS = [10, 60]
BATCHES = [1, 16]
THREADS = [1, 2]
IMPLS = ["pianox_fbank", "torch_fbank", "torchaudio", "pianox_mel", "librosa_mel", "rfft_floor"]
HAVE_TORCHAUDIO = importlib.util.find_spec("torchaudio") is not None
FBANK = dict(num_mel_bins=128, window_type="hanning")
# kaldi_fbank's resolved settings for FBANK, as the torch reference takes them
SPEC = _kaldi_spec(0.42, 0.0, 1.0, 25.0, 10.0, 0.0, False, 20.0, 128, 0.97, True, True, True, 16000.0, True,
                   False, False, True, True, 1.0, "hanning", 0)
MEL = dict(sr=SAMPLE_RATE, n_fft=512, hop_length=160, win_length=400, n_mels=128)
# An injected slowdown of every pianox_fbank call, in ms: only for the test that shows a
# `--benchmark-compare-fail` run fails when pianox gets slower (tests/framework/test_bench_workflow.py).
DELAY_S = float(os.environ.get("PIANOX_BENCH_INJECT_DELAY_MS", "0")) / 1000

_MIN_SECONDS: dict[tuple, float] = {}
_REPORTED: set[tuple] = set()


@functools.lru_cache(maxsize=None)
def _note(semitone: int) -> np.ndarray:
    """3 s of a piano-like note: six partials with 1/h amplitudes, decaying at 3 per second."""
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    f0 = 55.0 * 2 ** (semitone / 12)
    return sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 7)) * np.exp(-3.0 * t)


@functools.lru_cache(maxsize=None)
def _audio(seconds: int, batch: int) -> np.ndarray:
    """(batch, S) float32: a new note every half second plus -50 dB noise (cached: generating
    16 minutes of audio is not what is being timed)."""
    rng = np.random.default_rng(seconds * 100 + batch)
    n = seconds * SAMPLE_RATE
    out = np.empty((batch, n), np.float32)
    for b in range(batch):
        y = np.zeros(n)
        for onset in range(0, n, SAMPLE_RATE // 2):
            note = _note(int(rng.integers(12, 60)))
            end = min(n, onset + note.size)
            y[onset:end] += note[:end - onset]
        out[b] = 0.25 * y / np.abs(y).max() + 0.003 * rng.standard_normal(n)
    return out


def _windowed_frames(wave: np.ndarray) -> torch.Tensor:
    """The (B * T, 512) zero-padded, windowed frames kaldi_fbank transforms."""
    frames = reference.frames(SPEC, torch.from_numpy(wave)) * torch.hann_window(400, periodic=False)
    return torch.nn.functional.pad(frames, (0, 112)).reshape(-1, 512).contiguous()


def _slowed(fn):
    """`fn` after a sleep of DELAY_S: the injected regression a compare run must catch."""

    def slowed():
        time.sleep(DELAY_S)
        return fn()

    return slowed


def _runner(impl: str, wave: np.ndarray, threads: int):
    tensor = torch.from_numpy(wave)
    if impl == "pianox_fbank":
        run = functools.partial(kaldi_fbank, tensor, threads=threads, **FBANK)
        return _slowed(run) if DELAY_S else run
    if impl == "torch_fbank":
        return lambda: reference.frontend(SPEC, tensor)
    if impl == "torchaudio":
        if not HAVE_TORCHAUDIO:
            pytest.skip("torchaudio is not importable here")
        import torchaudio.compliance.kaldi as ta_kaldi

        return lambda: [ta_kaldi.fbank(row[None], **FBANK) for row in tensor]
    if impl == "pianox_mel":
        return lambda: melspectrogram(wave, threads=threads, **MEL)
    if impl == "librosa_mel":
        librosa = pytest.importorskip("librosa")
        return lambda: librosa.feature.melspectrogram(y=wave, **MEL)
    frames = _windowed_frames(wave)
    return lambda: torch.fft.rfft(frames)


# (reference impl, pianox impl, what the reference is, target ratio reference / pianox)
PAIRS = [
    ("torch_fbank", "pianox_fbank", "the same fbank in torch ops (pianox.features.reference)", 3.0),
    ("torchaudio", "pianox_fbank", "torchaudio.compliance.kaldi.fbank", 3.0),
    ("librosa_mel", "pianox_mel", "librosa.feature.melspectrogram", 5.0),
    # the FFT alone is a floor, not a competitor: the whole fbank within 1.5x of it
    ("rfft_floor", "pianox_fbank", "torch.fft.rfft of the same frames (the FFT alone)", 1 / 1.5),
]


def _report_ratios(report_ratio, seconds: int, batch: int, threads: int) -> None:
    """Record each pair of this case whose two sides have both been timed (once, by whichever
    side finished second)."""
    for ref, ours, what, target in PAIRS:
        t_ref, t_ours = (_MIN_SECONDS.get((impl, seconds, batch, threads)) for impl in (ref, ours))
        if t_ref and t_ours and (ref, ours, seconds, batch, threads) not in _REPORTED:
            _REPORTED.add((ref, ours, seconds, batch, threads))
            report_ratio(f"{ours.replace('pianox_', '')} {seconds} s B={batch} threads={threads} vs {ref}",
                         t_ref / t_ours, reference=what, target=target,
                         note=f"pianox {t_ours * 1e3:.1f} ms, reference {t_ref * 1e3:.1f} ms (minimum times)")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("seconds", DURATIONS)
@pytest.mark.parametrize("impl", IMPLS)
def test_frontend_speed(benchmark, report_ratio, impl, seconds, batch, threads):
    wave = _audio(seconds, batch)
    run = _runner(impl, wave, threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        frames = batch * (1 + (wave.shape[1] - 400) // 160)
        slow = impl in ("torch_fbank", "torchaudio", "librosa_mel") and seconds * batch > 10
        # warm-up round: FFT plans, filterbanks, librosa's caches, torch's thread pool
        benchmark.pedantic(run, rounds=3 if slow else 10, iterations=1, warmup_rounds=0 if slow else 1)
    finally:
        torch.set_num_threads(previous)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: one untimed call
        return
    best = stats.stats.min
    _MIN_SECONDS[(impl, seconds, batch, threads)] = best
    benchmark.extra_info.update(frames=frames, ns_per_frame=best / frames * 1e9)
    _report_ratios(report_ratio, seconds, batch, threads)
