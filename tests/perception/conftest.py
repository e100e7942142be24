"""A tiny PercePiano-format corpus (tones whose loudness sets the ratings) and a run trained on it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianox.audio import write_audio
from pianox.sources.percepiano import DIMENSIONS, LABEL_FILE

EXCERPTS = 8
PLAYERS = ("Score", "1")
SECONDS = 1.0
RATE = 16000


def write_corpus(root, excerpts: int = EXCERPTS, seconds: float = SECONDS) -> dict[str, np.ndarray]:
    """PercePiano's layout under `root`: label json + audio/{key}.wav; returns key -> ratings."""
    rng = np.random.default_rng(0)
    labels, ratings = {}, {}
    t = np.arange(int(seconds * RATE)) / RATE
    for e in range(excerpts):
        for p, player in enumerate(PLAYERS):
            key = f"Piece{e}_4bars_{player}_1"
            amp = float(rng.uniform(0.05, 0.8))
            wave = amp * np.sin(2 * np.pi * 220.0 * 2 ** (e / 12) * t)
            write_audio(root / "audio" / f"{key}.wav", wave.astype(np.float32), RATE)
            r = np.clip(amp + rng.normal(0, 0.05, len(DIMENSIONS)), 0, 1)
            ratings[key] = r
            labels[key] = [float(x) for x in r] + [p]
    (root / LABEL_FILE).write_text(json.dumps(labels))
    return ratings


def experiment(root, out, **task) -> dict:
    """A 1-layer AST-tiny perception experiment on the corpus at `root`, runs under `out`."""
    return {
        "run": {"name": "tiny", "seed": 0, "output_dir": str(out)},
        "source": {"kind": "percepiano", "root": str(root), "split_by": "piece", "num_folds": 2},
        "features": {"kind": "kaldi"},
        "model": {"kind": "ast", "preset": "tiny", "depth": 1, "fstride": 16, "tstride": 16, "max_frames": 128},
        "task": {"kind": "perception", "hidden": 16, "bootstrap": 50, **task},
        "backend": {"kind": "cpu"},
        "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "metric": "val/pearson", "mode": "max"},
    }


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("percepiano")
    write_corpus(root)
    return root


@pytest.fixture(scope="session")
def trained_run(corpus, tmp_path_factory):
    from pianox.config import experiment_from_dict
    from pianox.runner import run_experiment

    out = tmp_path_factory.mktemp("runs")
    return run_experiment(experiment_from_dict(experiment(corpus, out)), quiet=True).path
