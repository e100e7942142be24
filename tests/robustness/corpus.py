"""The bad-input corpus (generated here, never committed) and untrained runs of every task.

The inference commands need a run to load, not a good one: `untrained_run` writes a run
directory (config.toml + checkpoints/best) with freshly initialised weights in about a second,
so the suite never trains a model. `nan_weights=True` gives every weight NaN, which is how
non-finite model output is provoked without touching the code under test.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from pianox.config import experiment_from_dict
from pianox.sources.percepiano import DIMENSIONS, LABEL_FILE

RATE = 16000
TONE_SECONDS = 1.0


def tone(seconds: float = TONE_SECONDS, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def _huge(path: Path) -> None:  # finding 3: finite, but 1e30
    y = tone()
    y[RATE // 4:] *= 1e30 / 0.3
    sf.write(path, y, RATE, subtype="FLOAT")


def _nan(path: Path) -> None:
    y = tone()
    y[RATE // 2] = np.nan
    sf.write(path, y, RATE, subtype="FLOAT")


def _text(path: Path) -> None:  # finding 9: a text file named like audio
    path.write_text("this is a text file, not audio\n" * 40)


def _empty(path: Path) -> None:
    sf.write(path, np.zeros(0, np.float32), RATE)


def _truncated(path: Path) -> None:
    sf.write(path, tone(), RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_AUDIO: dict[str, tuple[str, Callable[[Path], None], str]] = {
    # case: (file name, writer, what the error must say)
    "huge": ("huge.wav", _huge, "magnitude up to 1e+30"),
    "nan": ("nan.wav", _nan, "non-finite samples"),
    "text-mp3": ("notes.mp3", _text, "not readable audio"),
    "text-wav": ("notes.wav", _text, "not readable audio"),
    "empty": ("empty.wav", _empty, "is empty"),
    "truncated": ("cut.wav", _truncated, "truncated"),
}


def write_bad(case: str, folder: Path) -> tuple[Path, str]:
    """Write the bad file of `case` into `folder`; (its path, the phrase its error must hold)."""
    name, writer, phrase = BAD_AUDIO[case]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    writer(path)
    return path, phrase


def write_good(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(), RATE, subtype="PCM_16")
    return path


# ------------------------------------------------------------------------------- a corpus

EXCERPTS = 4
PLAYERS = ("Score", "1")


def write_percepiano(root: Path) -> Path:
    """A PercePiano-format corpus of 1-second tones (label json + audio/<key>.wav)."""
    labels = {}
    for e in range(EXCERPTS):
        for p, player in enumerate(PLAYERS):
            key = f"Piece{e}_4bars_{player}_1"
            write_good(root / "audio" / f"{key}.wav")
            labels[key] = [(e + p + 1) / 8] * len(DIMENSIONS) + [p]
    (root / LABEL_FILE).write_text(json.dumps(labels))
    return root


def spoil_corpus(root: Path, case: str) -> str:
    """Replace every audio file of the corpus at `root` by the bad file of `case`; returns the
    phrase the error must hold."""
    phrase = ""
    for wav in sorted((root / "audio").glob("*.wav")):
        bad, phrase = write_bad(case, root / "scratch")
        shutil.move(bad, wav)
    shutil.rmtree(root / "scratch", ignore_errors=True)
    return phrase


# ------------------------------------------------------------------------------- untrained runs

TINY_AST = {"kind": "ast", "preset": "tiny", "depth": 1, "patch": "frame", "max_frames": 128}
DUMMY_SOURCE = {"kind": "dummy", "num_train": 2, "num_validation": 1, "num_test": 1, "seconds": 0.3}


def task_tables(corpus: Path) -> dict[str, dict]:
    """Per task: the experiment tables of its untrained run."""
    return {
        "transcription": {
            "source": DUMMY_SOURCE,
            "features": {"kind": "kaldi", "snip_edges": False},
            "model": TINY_AST,
            "task": {"kind": "transcription", "head": "both", "segment_seconds": 1.0, "decoder_layers": 1,
                     "decoder_dim": 32, "decoder_heads": 4, "decoder_mlp": 64, "max_tokens": 16,
                     "frame_hidden": 16, "frame_channels": 8},
        },
        "drums": {
            "source": DUMMY_SOURCE,
            "features": {"kind": "kaldi", "target_frames": 128},
            "model": TINY_AST,
            "task": {"kind": "drums", "baseline": False},
        },
        "perception": {
            "source": {"kind": "percepiano", "root": str(corpus), "split_by": "piece", "num_folds": 2},
            "model": {"kind": "ast", "preset": "tiny", "depth": 1, "fstride": 16, "tstride": 16,
                      "max_frames": 128},
            "task": {"kind": "perception", "hidden": 8},
        },
    }


def untrained_run(root: Path, tables: dict, *, nan_weights: bool = False) -> Path:
    """A finished-looking run directory of `tables` with untrained (or all-NaN) weights."""
    from pianox.runner import build_stages
    from pianox.train import checkpoint as ckpt

    raw = {"run": {"name": "untrained", "seed": 0, "output_dir": str(root)},
           "features": {"kind": "kaldi"}, "backend": {"kind": "cpu"},
           "train": {"metric": "val/loss"}, **tables}
    exp = experiment_from_dict(raw)
    stages = build_stages(exp)
    head = stages.task.build_head(stages.model, stages.features)
    if nan_weights:
        for p in [*stages.model.parameters(), *head.parameters()]:
            p.data.fill_(math.nan)
    run = root / ("nan-weights" if nan_weights else "untrained")
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text(exp.dumps())
    ckpt.save(run / "checkpoints" / "best", {"model": stages.model, "head": head}, None, {"step": 0})
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    return run


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder` (none when it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def pianox(capsys):
    """Call `pianox.cli.main(args)` in-process; returns (exit code, stdout, stderr). Any
    exception escaping main (a traceback for a user) fails the test, and so does the word
    "Traceback" in the output."""
    from pianox.cli import main

    def call(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, err
        return code, out, err

    return call
