"""One live process per run directory, and a clean stop on a group-wide SIGTERM (issue 21,
findings 1 and 12). These need real processes: a lock held by another process, and a signal
sent to a process group with data-loader workers in it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from dummy_experiment import DUMMY_EXPERIMENT
from framework.plugin_factory import SLOW_TASK, make_distribution
from pianox import registry
from pianox.errors import RunError
from pianox.rundir import RunDir
from pianox.runlock import LOCK_NAME, RunLock

SLOW = ["--set", "task.kind=slow-task", "--set", "train.checkpoint_every=1", "--set", "model.depth=1"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return make_distribution(tmp_path_factory.mktemp("site"), "pianox-slowtask", "pianox_slowtask", SLOW_TASK,
                             {"pianox.tasks": {"slow-task": "pianox_slowtask:SlowTask"}})


@pytest.fixture
def env(site, monkeypatch) -> dict:
    """The slow task, for a subprocess (the returned environment) and in-process."""
    monkeypatch.syspath_prepend(str(site))
    registry.clear_cache()
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def exp(tmp_path) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(DUMMY_EXPERIMENT).format(out=(tmp_path / "runs").as_posix()))
    return path


def _start(exp: Path, env: dict, *extra: str, group: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pianox.cli", "run", str(exp), "--quiet", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=group)


def _wait_for_step(runs: Path, step: int, proc: subprocess.Popen, timeout: float = 180) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for meta in runs.glob("*/checkpoints/last/meta.json"):
            try:
                if json.loads(meta.read_text())["step"] >= step:
                    return meta.parent.parent.parent
            except (ValueError, OSError):
                continue  # being replaced right now
        assert proc.poll() is None, f"run ended before step {step}: {proc.communicate()}"
        time.sleep(0.02)
    raise TimeoutError(f"step {step} not reached")


def test_a_live_run_refuses_force_and_resume_and_a_killed_one_leaves_no_lock(exp, env, pianox, tmp_path):
    long = [*SLOW, "--set", "task.pause=0.5", "--set", "train.epochs=50"]
    live = _start(exp, env, *long)
    try:
        run = _wait_for_step(tmp_path / "runs", 1, live)
        for flag in ("--force", "--resume", None):  # in this process: another one than the live run's
            code, _, err = pianox("run", exp, "--quiet", *long, *([flag] if flag else []))
            assert code == 1, (flag, err)
            assert f"in use by a live process {live.pid} on host {socket.gethostname()}" in err, err
            assert "--force" not in err and "--resume" not in err  # it recommends neither
        assert live.poll() is None  # the live run is untouched...
        assert (run / "config.toml").is_file() and (run / "checkpoints" / "last").is_dir()
    finally:
        live.kill()  # ...until it is killed outright: the kernel drops its lock
        live.wait()
    assert json.loads((run / "status.json").read_text())["state"] == "running"
    code, _, err = pianox("run", exp, "--quiet", *long)
    assert code == 1 and "process that ran it is gone" in err and "--resume" in err, err
    assert "in use" not in err


def _weights(run: Path) -> dict:
    return load_file(str(run / "checkpoints" / "last" / "model.safetensors"))


def test_sigterm_to_the_process_group_with_workers_stops_like_ctrl_c(exp, env, pianox, tmp_path):
    args = [*SLOW, "--set", "train.num_workers=2"]
    proc = _start(exp, env, *args, group=True)  # its own process group, as under a scheduler
    run = _wait_for_step(tmp_path / "runs", 3, proc)  # 6 steps per epoch: mid-epoch 0
    os.killpg(proc.pid, signal.SIGTERM)  # main process and data-loader workers alike
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "killed by signal" not in err, err
    assert json.loads((run / "status.json").read_text())["state"] == "interrupted"
    step = int(err.split("interrupted by signal 15 at step ")[1].split(";")[0])
    assert json.loads((run / "checkpoints" / "last" / "meta.json").read_text())["step"] == step >= 3
    code, _, err = pianox("run", exp, "--quiet", *args, "--resume")
    assert code == 0, err
    reference = tmp_path / "reference"
    code, _, err = pianox("run", exp, "--quiet", *args, "--set", f"run.output_dir={reference}")
    assert code == 0, err
    [ref_run] = list(reference.glob("exp-*"))
    expected, got = _weights(ref_run), _weights(run)
    assert expected.keys() == got.keys() and all(expected[k].equal(got[k]) for k in expected)
    steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if "train/loss" in r]
    assert steps == sorted(set(steps))


# ----------------------------------------------------------------------------- in-process


def test_the_lock_is_exclusive_even_within_one_process(tmp_path):
    lock = RunLock.acquire(tmp_path)
    owner = json.loads((tmp_path / LOCK_NAME).read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    with pytest.raises(RunError, match=f"in use by a live process {os.getpid()} on host"):
        RunLock.acquire(tmp_path)
    assert lock.held  # the refusal did not drop it
    lock.release()
    again = RunLock.acquire(tmp_path)
    again.release()


@pytest.mark.parametrize("status, phrase", [
    ({"state": "running"}, "the process that ran it is gone"),
    ({"state": "interrupted"}, "was interrupted (stopped by a signal"),
    ({"state": "failed", "error": "AudioError: x.wav is bad"}, "failed (AudioError: x.wav is bad)"),
])
def test_a_dead_run_is_refused_with_what_happened_to_it(status, phrase, tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    (root / "status.json").write_text(json.dumps(status))
    with pytest.raises(RunError) as refused:
        RunDir.open(root, "x = 1\n")
    assert phrase in str(refused.value) and "--resume" in str(refused.value) and "in use" not in str(refused.value)
    run = RunDir.open(root, "x = 1\n", resume=True)  # nobody holds it: resuming is allowed
    try:
        assert run.resumed and json.loads((root / "status.json").read_text())["pid"] == os.getpid()
        with pytest.raises(RunError, match="in use by a live process"):
            RunDir.open(root, "x = 1\n", force=True)  # not even --force while it is open
    finally:
        run.close()


def test_force_keeps_the_lock_file_and_empties_the_rest(tmp_path):
    root = tmp_path / "run"
    (root / "checkpoints" / "last").mkdir(parents=True)
    (root / "status.json").write_text(json.dumps({"state": "finished"}))
    run = RunDir.open(root, "x = 1\n", force=True)
    try:
        assert sorted(p.name for p in root.iterdir()) == sorted([LOCK_NAME, "checkpoints", "plots", "config.toml",
                                                                 "status.json"])
        assert not (root / "checkpoints" / "last").exists()
    finally:
        run.close()
