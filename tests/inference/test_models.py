"""One loader for every task: run directories, checkpoint folders, model folders and shipped
models (the `pianox.pretrained` entry-point group), with one set of errors."""

from __future__ import annotations

import shutil
import sys

import pytest

from pianox.errors import CheckpointError
from pianox.inference.models import PRETRAINED_GROUP, default_model, load_model, locate, pretrained_models

from framework.plugin_factory import make_distribution
from robustness.corpus import files_under, write_good


@pytest.fixture
def shipped(runs, tmp_path, monkeypatch):
    """A distribution `pianox-shipped` registering a drums model folder as the shipped models
    `drums` (the task's default) and `drums-small`, plus a broken one."""
    folder = tmp_path / "models" / "drums-small"
    folder.mkdir(parents=True)
    shutil.copy(runs["drums"] / "config.toml", folder / "config.toml")
    shutil.copy(runs["drums"] / "checkpoints" / "best" / "model.safetensors", folder / "model.safetensors")
    (folder / "README.md").write_text("# drums-small\nAn untrained test model.\n")
    source = f'''
from pathlib import Path
FOLDER = Path({str(folder)!r})
def folder():
    return FOLDER
def broken():
    raise RuntimeError("weights not downloaded")
'''
    make_distribution(tmp_path / "site", "pianox-shipped", "pianox_shipped", source,
                      {PRETRAINED_GROUP: {"drums": "pianox_shipped:folder", "drums-small": "pianox_shipped:FOLDER",
                                          "broken": "pianox_shipped:broken"}}, version="1.2")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "pianox_shipped", raising=False)
    return folder


def test_a_run_a_checkpoint_folder_and_a_model_folder_are_located(runs, shipped):
    run = runs["drums"]
    assert locate(run) == (run, run / "checkpoints" / "best")
    assert locate(run / "checkpoints" / "best") == (run, run / "checkpoints" / "best")
    assert locate(shipped) == (shipped, shipped)
    assert locate("drums-small") == (shipped, shipped)


def test_shipped_models_load_by_name_and_a_task_uses_its_default(runs, shipped, pianox, tmp_path, monkeypatch):
    assert {"drums", "drums-small", "broken"} <= set(pretrained_models())
    assert default_model("drums") == str(shipped)  # the folder: a local path named "drums" is not it
    (tmp_path / "drums").mkdir()  # ... as this one, which the name must not resolve to
    monkeypatch.chdir(tmp_path)
    loaded = load_model("drums-small", task="drums", device="cpu")
    assert loaded.path == shipped and not loaded.model.training
    audio = write_good(tmp_path / "take.wav")
    code, stdout, err = pianox("drums", audio, "-o", tmp_path / "out", "--quiet")  # no --model: the default
    assert code == 0, err
    assert {p.name for p in files_under(tmp_path / "out")} == {"take.mid", "take.chart", "take.csv"}


def test_unknown_and_broken_shipped_models_are_clear_errors(shipped):
    with pytest.raises(CheckpointError, match=r"drums-large: no such run directory or checkpoint, and no shipped "
                                              r"model of that name \(installed: .*drums-small"):
        load_model("drums-large", task="drums")
    with pytest.raises(CheckpointError, match=r"shipped model 'broken' .* from pianox-shipped 1.2 failed to load: "
                                              r"RuntimeError: weights not downloaded"):
        locate("broken")
    with pytest.raises(CheckpointError, match="no --model given and no shipped transcription model is installed"):
        default_model("transcription")
    with pytest.raises(CheckpointError, match="is a 'drums' run, not a 'perception' run"):
        load_model("drums-small", task="perception")


def test_errors_are_the_same_for_every_command(runs, pianox, tmp_path):
    audio = write_good(tmp_path / "take.wav")
    for command, extra in [("transcribe", ["-o", tmp_path / "o1"]), ("drums", ["-o", tmp_path / "o2"]),
                           ("rate", []), ("eval", [])]:
        args = [command, tmp_path / "missing-run"] if command == "eval" else [command, audio, "--model",
                                                                               tmp_path / "missing-run", *extra]
        code, _, err = pianox(*args)
        assert code == CheckpointError.exit_code and f"{tmp_path / 'missing-run'}: no such run directory" in err
        code, _, err = pianox(*(args[:1] + [runs["drums"]] if command == "eval" else
                               args[:3] + [runs["drums"] if command != "drums" else runs["perception"], *extra]))
        if command != "eval":  # eval scores any task
            assert code == 1 and "run, not a" in err, err


def test_a_device_this_machine_lacks_is_refused_before_loading(runs, pianox, tmp_path):
    audio = write_good(tmp_path / "take.wav")
    code, _, err = pianox("drums", audio, "--model", runs["drums"], "-o", tmp_path / "o", "--device", "cuda:7")
    assert code == 1 and "--device 'cuda:7'" in err and "devices here: cpu" in err
