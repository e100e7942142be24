"""A tiny trained drums run (session-scoped: trained once, a few seconds on CPU)."""

from __future__ import annotations

import pytest

from pianox.config import experiment_from_dict
from pianox.runner import run_experiment


def tiny_experiment(output_dir: str, **task: object) -> dict:
    """A 1-layer frame-token AST on 2 recordings of the smoke-sized E-GMD twin."""
    return {
        "run": {"name": "drums-tiny", "seed": 0, "output_dir": output_dir, "tensorboard": False},
        "source": {"kind": "egmd_twin", "minutes": 0.5, "segment_seconds": 2.56, "max_files": 2},
        "features": {"kind": "kaldi", "target_frames": 256},
        "model": {"kind": "ast", "preset": "tiny", "depth": 1, "patch": "frame", "max_frames": 256},
        "task": {"kind": "drums", "baseline": False, "bootstrap": 50, **task},
        "backend": {"kind": "cpu"},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "metric": "val/f1_micro", "mode": "max"},
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("drums-runs")
    return run_experiment(experiment_from_dict(tiny_experiment(str(out))), quiet=True)
