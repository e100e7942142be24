"""Front-end speed: pianox's fused core against the same work in other libraries, same threads.

Run: `uv run pytest bench/bench_frontend.py` (add `--benchmark-json out.json` to keep numbers).
Cases: 10 s and 60 s of 16 kHz audio, batch 1 and 16, 1 and 2 threads. Columns:
  pianox_fbank    pianox.features.kaldi_fbank (128 bins, hanning, as AST)
  torch_fbank     the same algorithm in plain torch ops (pianox.features.reference)
  torchaudio      torchaudio.compliance.kaldi.fbank, one waveform at a time (skipped when absent)
  pianox_mel      pianox.features.melspectrogram (n_fft 512, hop 160, win 400, 128 Slaney mels)
  librosa_mel     librosa.feature.melspectrogram with the same settings (numpy; BLAS threads as set)
  rfft_floor      torch.fft.rfft of the same (B * T, 512) windowed frames: the FFT alone
When the module finishes, a table of ratios (minimum times, so a busy machine hurts less) is
printed and the same numbers are stored in each benchmark's extra_info.
"""

from __future__ import annotations

import functools
import importlib.util

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
MEL = dict(sr=SAMPLE_RATE, n_fft=512, hop_length=160, win_length=400, n_mels=128)

_MIN_SECONDS: dict[tuple, float] = {}


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
    spec = _kaldi_spec(0.42, 0.0, 1.0, 25.0, 10.0, 0.0, False, 20.0, 128, 0.97, True, True, True, 16000.0, True,
                       False, False, True, True, 1.0, "hanning", 0)
    frames = reference.frames(spec, torch.from_numpy(wave)) * torch.hann_window(400, periodic=False)
    return torch.nn.functional.pad(frames, (0, 112)).reshape(-1, 512).contiguous()


def _runner(impl: str, wave: np.ndarray, threads: int):
    tensor = torch.from_numpy(wave)
    if impl == "pianox_fbank":
        return lambda: kaldi_fbank(tensor, threads=threads, **FBANK)
    if impl == "torch_fbank":
        spec = _kaldi_spec(0.42, 0.0, 1.0, 25.0, 10.0, 0.0, False, 20.0, 128, 0.97, True, True, True, 16000.0, True,
                           False, False, True, True, 1.0, "hanning", 0)
        return lambda: reference.frontend(spec, tensor)
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


def _ratio_rows() -> list[str]:
    rows = []
    for seconds in DURATIONS:
        for batch in BATCHES:
            for threads in THREADS:
                t = {impl: _MIN_SECONDS.get((impl, seconds, batch, threads)) for impl in IMPLS}
                if t["pianox_fbank"] is None:
                    continue

                def ratio(a: str, b: str) -> str:
                    return f"{t[a] / t[b]:6.2f}x" if t[a] and t[b] else "     - "

                rows.append(f"{seconds:>3d} s  B={batch:<2d} threads={threads}   torch/fbank {ratio('torch_fbank', 'pianox_fbank')}"
                            f"   torchaudio/fbank {ratio('torchaudio', 'pianox_fbank')}"
                            f"   librosa/mel {ratio('librosa_mel', 'pianox_mel')}"
                            f"   fbank/rfft {ratio('pianox_fbank', 'rfft_floor')}")
    return rows


class _RatioSummary:
    """A plugin registered at run time: prints the ratio table in pytest's terminal summary."""

    def pytest_terminal_summary(self, terminalreporter):
        rows = _ratio_rows()
        if rows:
            terminalreporter.write_sep("-", "front end ratios of minimum times (targets: torch/fbank >= 3, "
                                            "librosa/mel >= 5, fbank/rfft <= 1.5)")
            for row in rows:
                terminalreporter.write_line(row)


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request):
    manager = request.config.pluginmanager
    if manager.get_plugin("pianox-frontend-ratios") is None:
        manager.register(_RatioSummary(), "pianox-frontend-ratios")
    yield


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("seconds", DURATIONS)
@pytest.mark.parametrize("impl", IMPLS)
def test_frontend_speed(benchmark, impl, seconds, batch, threads):
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
    if stats is None:  # --benchmark-disable
        return
    best = stats.stats.min
    _MIN_SECONDS[(impl, seconds, batch, threads)] = best
    benchmark.extra_info.update(frames=frames, ns_per_frame=best / frames * 1e9)
    base = _MIN_SECONDS.get(("pianox_fbank", seconds, batch, threads))
    if base and impl != "pianox_fbank":
        benchmark.extra_info["ratio_to_pianox_fbank"] = best / base
