"""Interrupted runs continue bit-exactly: SIGKILL mid-epoch + --resume, and a clean SIGTERM stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from .plugin_factory import SLOW_TASK, make_distribution

OVERRIDES = ["--set", "task.kind=slow-task", "--set", "train.checkpoint_every=1", "--set", "model.depth=1",
             "--set", "train.epochs=2"]


@pytest.fixture(scope="module")
def slow_env(tmp_path_factory):
    site = make_distribution(tmp_path_factory.mktemp("site"), "pianox-slowtask", "pianox_slowtask", SLOW_TASK,
                             {"pianox.tasks": {"slow-task": "pianox_slowtask:SlowTask"}})
    return {**os.environ, "PYTHONPATH": str(site)}


def _start(exp: Path, out: Path, env: dict, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pianox.cli", "run", str(exp), "--quiet", *OVERRIDES,
           "--set", f"run.output_dir={out}", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(out: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for meta in out.glob("*/checkpoints/last/meta.json"):
            try:
                if json.loads(meta.read_text())["step"] >= step:
                    return
            except (ValueError, OSError):
                continue  # meta.json is being replaced right now: read it on the next pass
        assert proc.poll() is None, f"run ended before step {step}: {proc.communicate()}"
        time.sleep(0.02)
    raise TimeoutError(f"step {step} not reached")


def _final_weights(out: Path) -> dict:
    [run] = list(out.glob("exp-*"))
    return load_file(str(run / "checkpoints" / "last" / "model.safetensors"))


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].equal(b[k]), f"{k} differs"


@pytest.fixture(scope="module")
def reference_weights(slow_env, tmp_path_factory):
    """One uninterrupted run, shared by the interruption tests."""
    from dummy_experiment import DUMMY_EXPERIMENT

    tmp = tmp_path_factory.mktemp("reference")
    exp = tmp / "exp.toml"
    exp.write_text(textwrap.dedent(DUMMY_EXPERIMENT).format(out=(tmp / "runs").as_posix()))
    ref = _start(exp, tmp / "ref", slow_env)
    assert ref.wait(timeout=300) == 0, ref.communicate()
    return exp, _final_weights(tmp / "ref")


def test_sigkill_mid_epoch_then_resume_is_bit_exact(reference_weights, slow_env, tmp_path):
    exp, expected = reference_weights
    out = tmp_path / "killed"
    proc = _start(exp, out, slow_env)
    _wait_for_step(out, 4, proc)  # 6 steps per epoch: mid-epoch 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [run] = list(out.glob("exp-*"))
    assert json.loads((run / "status.json").read_text())["state"] == "running"
    again = _start(exp, out, slow_env)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 1 and "--resume" in err, err  # refuses to silently restart
    resumed = _start(exp, out, slow_env, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    _assert_identical(_final_weights(out), expected)
    steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "train/loss" in r]
    assert steps == sorted(set(steps)), "resumed metrics must not repeat steps"


def test_sigterm_saves_and_stops_cleanly(reference_weights, slow_env, tmp_path):
    exp, expected = reference_weights
    out = tmp_path / "term"
    proc = _start(exp, out, slow_env)
    _wait_for_step(out, 3, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted by signal 15" in err and "--resume" in err and "Traceback" not in err
    [run] = list(out.glob("exp-*"))
    assert json.loads((run / "status.json").read_text())["state"] == "interrupted"
    resumed = _start(exp, out, slow_env, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.communicate()
    _assert_identical(_final_weights(out), expected)
