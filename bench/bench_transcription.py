"""Transcription speed: 10 s of piano audio -> notes on 2 CPU threads, frames head and greedy
seq2seq, against Spotify's basic-pitch on the same file when it is available.

The model is a trained run when `PIANOX_BENCH_TRANSCRIPTION_RUN` names one (e.g. the run of
experiments/maestro_twin_transcription.toml); otherwise the same architecture with random
weights, whose seq2seq decoding is capped at the token count of the clip's densest segment
(the grammar then ends every segment exactly there: an upper bound on a trained model's work).
basic-pitch is timed in-process when importable, else through `BASIC_PITCH_PYTHON` (a Python
that has it, e.g. a venv with `basic-pitch --no-deps` + onnxruntime), else its ratio is
skipped with that reason. Both sides do the same work: audio file in -> notes in memory
(pianox: decode + resample with pianox.audio.read_audio, features, model, decoding; basic-pitch:
its `predict(path)`, which also decodes and resamples). Each side's time is its fastest of
`ROUNDS` calls, model loading excluded. Targets: the frames head within 1 s and greedy seq2seq within 3 s per 10 s of audio,
and both faster than basic-pitch.

    uv run pytest bench/bench_transcription.py --benchmark-only -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from pianox.audio import write_audio
from pianox.config import load_experiment
from pianox.midi import notes_to_midi

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "maestro_twin_transcription.toml"
SECONDS, THREADS, ROUNDS = 10.0, 2, 3


def _clip_notes(seconds: float, seed: int = 0) -> np.ndarray:
    """About 8 notes a second: broken chords over two hands, 60-100 velocity."""
    rng = np.random.default_rng(seed)
    on = np.sort(rng.uniform(0, seconds - 0.5, int(8 * seconds)))
    return np.stack([on, on + rng.uniform(0.1, 0.8, len(on)), rng.integers(36, 96, len(on)),
                     rng.integers(60, 100, len(on))], axis=1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    from pianox_synth.render import render_midi

    notes = _clip_notes(SECONDS)
    y = render_midi(notes_to_midi(notes), 16000, tail_seconds=0.0)[: int(SECONDS * 16000)]
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    write_audio(path, y, 16000)
    return path, y, notes


def _random_run(tmp_path: Path, notes: np.ndarray) -> Path:
    """A run directory of the twin experiment's architecture with random weights."""
    from pianox.runner import build_stages, run_dir_for
    from pianox.sources.segments import notes_in_span
    from pianox.train.checkpoint import save
    from pianox_transcription.stitch import segment_starts
    from pianox_transcription.tokens import encode

    exp = load_experiment(EXPERIMENT, ["backend.kind=cpu", f"run.output_dir={tmp_path}"])
    task_cfg = exp.stages["task"].config
    segment = exp.stages["source"].config.segment_seconds
    vocab = build_stages(exp).task.vocab
    longest = max(len(encode(notes_in_span(notes, s, segment), segment, vocab))
                  for s in segment_starts(SECONDS, segment))
    task_cfg.max_tokens = longest + 1  # + SOS
    stages = build_stages(exp)
    head = stages.task.build_head(stages.model, stages.features)
    run = run_dir_for(exp)
    run.mkdir(parents=True)
    (run / "config.toml").write_text(exp.dumps())
    save(run / "checkpoints" / "best", {"model": stages.model, "head": head}, None, {})
    return run


BASIC_PITCH_TIMER = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict
    model = Model(ICASSP_2022_MODEL_PATH)
    predict(sys.argv[1], model)
    best = float("inf")
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter(); predict(sys.argv[1], model); best = min(best, time.perf_counter() - t)
    print(json.dumps({"seconds": best}))
""")


def _basic_pitch_seconds(wav: Path) -> float | None:
    """Fastest basic-pitch predict() on `wav` (model loading excluded), or None when unavailable."""
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    try:
        import basic_pitch  # noqa: F401

        python = sys.executable
    except ImportError:
        python = os.environ.get("BASIC_PITCH_PYTHON")
        if not python:
            return None
    out = subprocess.run([python, "-c", BASIC_PITCH_TIMER, str(wav), str(ROUNDS)], capture_output=True, text=True,
                         env=env, timeout=1800)
    if out.returncode != 0:
        pytest.fail(f"basic-pitch failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


@pytest.fixture(scope="module")
def basic_pitch_time(clip) -> float | None:
    return _basic_pitch_seconds(clip[0])


@pytest.fixture(scope="module")
def trained_run(run_from_env) -> str | None:
    """The trained run named by PIANOX_BENCH_TRANSCRIPTION_RUN, or None (random weights)."""
    return run_from_env("PIANOX_BENCH_TRANSCRIPTION_RUN")


def transcribe_file(transcriber, path: Path) -> np.ndarray:
    """Notes of the audio file at `path`: decode + resample, then transcribe — the same work
    basic-pitch's `predict(path)` is timed doing."""
    from pianox.audio import read_audio

    y, _ = read_audio(path, transcriber.t.features.sample_rate)
    return transcriber.transcribe(y, source=str(path))


_PIANOX_SECONDS: dict[str, float] = {}  # head -> fastest transcription of the clip


@pytest.mark.parametrize("head", ["frames", "seq2seq"])
def test_transcribe_10s(benchmark, clip, tmp_path, head, report_ratio, trained_run):
    from pianox_transcription.inference import Transcriber, load_trained

    wav, _, notes = clip
    torch.set_num_threads(THREADS)
    transcriber = Transcriber(load_trained(trained_run or _random_run(tmp_path, notes)), head, batch_size=8)
    found = benchmark.pedantic(transcribe_file, args=(transcriber, wav), rounds=ROUNDS, warmup_rounds=1)
    assert found.ndim == 2 and found.shape[1] == 4
    if getattr(benchmark, "stats", None) is None:  # --benchmark-disable: one untimed call
        return
    ours = _PIANOX_SECONDS[head] = benchmark.stats.stats.min
    budget = 1.0 if head == "frames" else 3.0
    weights = "trained" if trained_run else "random weights"
    report_ratio(f"10 s, {head} head vs budget", budget / ours, reference=f"the {budget:.0f} s budget per 10 s",
                 target=1.0, note=f"{ours:.2f} s on {THREADS} threads, {weights}")


@pytest.mark.parametrize("head", ["frames", "seq2seq"])
def test_vs_basic_pitch(head, report_ratio, trained_run, basic_pitch_time):
    """basic-pitch's time on the clip over pianox's (from test_transcribe_10s in this session)."""
    if basic_pitch_time is None:
        pytest.skip("basic-pitch is not importable and BASIC_PITCH_PYTHON is unset")
    if head not in _PIANOX_SECONDS:
        pytest.skip(f"test_transcribe_10s[{head}] did not time pianox in this session (deselected or disabled)")
    ours = _PIANOX_SECONDS[head]
    report_ratio(f"10 s, {head} head vs basic-pitch", basic_pitch_time / ours, reference="basic-pitch (ONNX Runtime)",
                 target=1.0, note=f"pianox {ours:.2f} s, basic-pitch {basic_pitch_time:.2f} s, "
                                  f"{'trained' if trained_run else 'random weights'}")
