"""Transcription speed: 10 s of piano audio -> notes on 2 CPU threads, frames head and greedy
seq2seq, against Spotify's basic-pitch on the same file when it is available.

The model is a trained run when `PIANOX_BENCH_TRANSCRIPTION_RUN` names one (e.g. the run of
experiments/maestro_twin_transcription.toml); otherwise the same architecture with random
weights, whose seq2seq decoding is capped at the token count of the clip's densest segment
(the grammar then ends every segment exactly there: an upper bound on a trained model's work).
basic-pitch is timed in-process when importable, else through `BASIC_PITCH_PYTHON` (a Python
that has it, e.g. a venv with `basic-pitch --no-deps` + onnxruntime), else skipped. Each
side's time is its fastest of `ROUNDS` calls, model loading excluded.

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


@pytest.mark.parametrize("head", ["frames", "seq2seq"])
def test_transcribe_10s(benchmark, clip, tmp_path, head, report_ratio, basic_pitch_time):
    from pianox_transcription.inference import Transcriber, load_trained

    _, y, notes = clip
    torch.set_num_threads(THREADS)
    run = os.environ.get("PIANOX_BENCH_TRANSCRIPTION_RUN") or _random_run(tmp_path, notes)
    transcriber = Transcriber(load_trained(run), head, batch_size=8)
    found = benchmark.pedantic(transcriber.transcribe, args=(y,), rounds=ROUNDS, warmup_rounds=1)
    ours = benchmark.stats.stats.min
    assert found.ndim == 2 and found.shape[1] == 4
    budget = 1.0 if head == "frames" else 3.0
    note = f"{ours:.2f} s for {SECONDS:.0f} s audio on {THREADS} threads (target <= {budget:.0f} s)"
    report_ratio(f"transcribe 10 s, {head}: target / pianox", budget / ours, note)
    bp = basic_pitch_time
    if bp is not None:
        report_ratio(f"transcribe 10 s, {head}: basic-pitch / pianox", bp / ours, f"basic-pitch {bp:.2f} s")
