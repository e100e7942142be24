"""A fine-tuning experiment starts from an SSAST-pretrained encoder by path, with a stride change."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from pianox.config import experiment_from_dict
from pianox.errors import DataError
from pianox.runner import build_stages, run_experiment

MODEL = {"kind": "ast", "preset": "tiny", "depth": 1, "max_frames": 128}


def _exp(tmp_path, task: dict, model: dict, name: str) -> dict:
    return {
        "run": {"name": name, "seed": 0, "output_dir": str(tmp_path)},
        "source": {"kind": "dummy", "num_train": 12, "num_validation": 4, "num_test": 4, "seconds": 1.3},
        "features": {"kind": "dummy", "num_bins": 32},
        "model": {**MODEL, **model},
        "task": task,
        "backend": {"kind": "cpu"},
        "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3},
        "eval": {"test": False},
    }


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrain")
    raw = _exp(tmp, {"kind": "ssast"}, {"fstride": 16, "tstride": 16}, "pre")
    return run_experiment(experiment_from_dict(raw), quiet=True)


def test_best_checkpoint_is_loadable_by_path_with_new_strides(pretrained, tmp_path):
    best = pretrained.path / "checkpoints" / "best"
    assert json.loads((best / "config.json").read_text())["pianox"]["kind"] == "ast"
    saved = {k[len("model."):]: v for k, v in load_file(str(best / "model.safetensors")).items()
             if k.startswith("model.")}
    raw = _exp(tmp_path, {"kind": "dummy"}, {"fstride": 10, "tstride": 10, "init": str(best)}, "fine")
    loaded = build_stages(experiment_from_dict(raw)).model
    fresh = build_stages(experiment_from_dict(_exp(tmp_path, {"kind": "dummy"}, {"fstride": 10, "tstride": 10},
                                                   "fresh"))).model
    assert loaded.stride == (10, 10) and loaded.grid(128) == (2, 12)
    state, fresh_state = loaded.state_dict(), fresh.state_dict()
    compared = 0
    for key, value in saved.items():
        if key == "pos_embed":
            continue
        assert torch.equal(state[key], value), f"{key} was not loaded"
        compared += 1
        if value.numel() > 1 and key.endswith("weight") and "norm" not in key:
            assert not torch.equal(fresh_state[key], value), f"{key}: a fresh model should differ"
    assert compared >= 10
    # positional embeddings: prefix tokens kept, the patch grid resized from 2x8 to 2x12
    assert saved["pos_embed"].shape[1] == 2 + 2 * 8 and state["pos_embed"].shape[1] == 2 + 2 * 12
    torch.testing.assert_close(state["pos_embed"][:, :2], saved["pos_embed"][:, :2])


def test_finetuning_run_from_pretrained_encoder(pretrained, tmp_path):
    best = pretrained.path / "checkpoints" / "best"
    raw = _exp(tmp_path, {"kind": "dummy"}, {"fstride": 10, "tstride": 10, "init": str(best)}, "fine")
    run = run_experiment(experiment_from_dict(raw), quiet=True)
    assert json.loads((run.path / "status.json").read_text())["state"] == "finished"


def test_missing_maestro_names_the_path_and_writes_nothing(tmp_path, monkeypatch):
    from pianox.config import load_experiment
    from pathlib import Path

    monkeypatch.setenv("PIANOX_DATA", str(tmp_path / "nowhere"))
    exp = load_experiment(Path(__file__).resolve().parents[2] / "experiments" / "ssast_maestro.toml",
                          [f"run.output_dir={tmp_path / 'runs'}", "backend.kind=cpu", "model.preset=tiny"])
    with pytest.raises(DataError, match=r"nowhere/maestro-v3.0.0.*pianox data synth maestro"):
        run_experiment(exp, quiet=True)
    assert not (tmp_path / "runs").exists()
