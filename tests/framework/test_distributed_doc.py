"""docs/distributed.md's single-node command runs as written: 2 processes, gloo on CPU."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "distributed.md"


def _documented_command() -> list[str]:
    """The single-node command of docs/distributed.md, without its `uv run` prefix."""
    [line] = re.findall(r"^uv run (torchrun --standalone --nproc_per_node 2 .+)$", DOC.read_text(), flags=re.M)
    return shlex.split(line)


def test_readme_links_the_distributed_doc():
    assert "](docs/distributed.md)" in (REPO / "README.md").read_text()


@pytest.mark.slow
def test_documented_single_node_command_trains_with_two_processes(tmp_path):
    torchrun, *args = _documented_command()
    assert torchrun == "torchrun" and args[-2:] == ["run", "experiments/smoke/ssast.toml"]
    cmd = [sys.executable, "-m", "torch.distributed.run", *args, "--quiet",
           "--set", f"run.output_dir={tmp_path}", "--set", "run.tensorboard=false"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]

    from pianox.config import load_experiment

    exp = load_experiment(REPO / "experiments" / "smoke" / "ssast.toml")
    train_examples = len(exp.stages["source"].build().examples("train"))
    [run] = tmp_path.glob("ssast-*")
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    history = json.loads((run / "history.json").read_text())
    # 2 processes x batch_size: each epoch takes half the steps one process would
    steps_per_epoch = math.ceil(train_examples / (2 * exp.train.batch_size))
    assert [h["step"] for h in history] == [steps_per_epoch * (e + 1) for e in range(exp.train.epochs)]
    assert all(math.isfinite(h["train/loss"]) for h in history)
    # rank 0 alone writes: one evaluation record per epoch, none twice
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "val/loss" in line]
    assert [e["step"] for e in evals] == [h["step"] for h in history]
