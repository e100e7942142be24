"""Config floats must be finite (issue 21, finding 7) and device strings must name a device of
this machine (finding 8): both are errors naming the key or the flag, before any work."""

from __future__ import annotations

import textwrap

import pytest
import torch

from dummy_experiment import DUMMY_EXPERIMENT
from pianox.devices import parse_device, visible_devices
from pianox.errors import BackendError

from .corpus import files_under, write_good


@pytest.fixture
def experiment(tmp_path):
    def write(text: str = DUMMY_EXPERIMENT):
        path = tmp_path / "exp.toml"
        path.write_text(textwrap.dedent(text).format(out=(tmp_path / "runs").as_posix()))
        return path

    return write


@pytest.mark.parametrize("override, key", [
    ("train.lr=nan", "lr"),                 # the engine's own table
    ("train.lr=-inf", "lr"),
    ("train.betas=[0.9, nan]", "betas"),    # inside a tuple
    ("source.seconds=inf", "seconds"),      # a plugin's Config: the same check, in one place
    ("train.augment.gain_db=nan", "gain_db"),  # a nested table
])
def test_non_finite_config_values_are_refused(override, key, experiment, pianox, tmp_path):
    code, _, err = pianox("run", experiment(), "--set", override, "--quiet")
    assert code == 2, err
    assert f"key {key!r}" in err and f"from --set {override}" in err and "expected a finite number" in err
    assert files_under(tmp_path / "runs") == []


def test_non_finite_value_in_the_file_names_its_line(experiment, pianox):
    path = experiment(DUMMY_EXPERIMENT.replace("lr = 3e-3", "lr = nan"))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("lr = nan"))
    code, _, err = pianox("run", path, "--quiet")
    assert code == 2 and f"{path}, [train] key 'lr' (line {line}): expected a finite number, got nan" in err


def test_eval_overrides_are_checked_too(runs, pianox):
    code, _, err = pianox("eval", runs["perception"], "--set", "source.test_fraction=nan")
    assert code == 1 and "key 'test_fraction'" in err and "finite" in err


@pytest.mark.parametrize("device", ["cuda:7", "cuda:99", "mps:3", "cpu:2", "bogus"])
def test_transcribe_refuses_a_device_this_machine_lacks(device, runs, pianox, tmp_path):
    audio = write_good(tmp_path / "take.wav")
    out = tmp_path / "out"
    code, _, err = pianox("transcribe", audio, "--model", runs["transcription"], "-o", out, "--device", device)
    assert code == 1 and f"--device {device!r}" in err
    assert f"devices here: {', '.join(visible_devices())}" in err
    assert files_under(out) == []


def test_parse_device_against_what_the_backend_sees(monkeypatch):
    assert parse_device("cpu") == torch.device("cpu") and parse_device("cpu:0").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert visible_devices()[:3] == ["cpu", "cuda:0", "cuda:1"]
    assert parse_device("cuda") == torch.device("cuda", 0)
    assert parse_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(BackendError, match=r"--device 'cuda:2': no such device on this machine; "
                                           r"devices here: cpu, cuda:0, cuda:1"):
        parse_device("cuda:2")
    with pytest.raises(BackendError, match=r"'cuda:x' is not a device name"):
        parse_device("cuda:x")
