"""The transcription benchmark times pianox on the same work as basic-pitch: a file in, notes
out (finding 9 of the evaluation issue: pianox was timed on an in-memory array while
basic-pitch decoded, resampled and built MIDI from a file)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pianox.audio import write_audio

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_transcription.py"


def test_pianox_side_reads_and_resamples_the_file(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_transcription_under_test", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "clip.wav"
    write_audio(path, 0.1 * np.sin(np.linspace(0, 2000, 44100)).astype(np.float32), 44100)  # 1 s at 44.1 kHz
    seen = {}

    class Fake:
        t = SimpleNamespace(features=SimpleNamespace(sample_rate=16000))

        def transcribe(self, y, source="waveform"):
            seen.update(samples=len(y), source=source)
            return np.zeros((0, 4))

    assert bench.transcribe_file(Fake(), path).shape == (0, 4)
    assert seen == {"samples": 16000, "source": str(path)}
