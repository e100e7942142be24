"""DDP on CPU: 2 gloo processes x batch 4 end where 1 process x batch 8 does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file


def _weights(out):
    [run] = list(out.glob("exp-*"))
    return run, load_file(str(run / "checkpoints" / "last" / "model.safetensors"))


def test_two_process_ddp_matches_one_process(write_exp, tmp_path):
    exp = write_exp()
    common = ["run", str(exp), "--quiet", "--set", "run.tensorboard=false"]
    single = subprocess.run([sys.executable, "-m", "pianox.cli", *common, "--set", "train.batch_size=8",
                             "--set", f"run.output_dir={tmp_path / 'one'}"], capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "pianox.cli", *common, "--set", "train.batch_size=4",
                          "--set", f"run.output_dir={tmp_path / 'two'}"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    run_one, one = _weights(tmp_path / "one")
    run_two, two = _weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=2e-5, rtol=1e-4, msg=k)
    history_one = json.loads((run_one / "history.json").read_text())
    history_two = json.loads((run_two / "history.json").read_text())
    assert [h["step"] for h in history_two] == [h["step"] for h in history_one] == [3, 6]
    # rank 0 alone logs: one evaluation line per epoch, no duplicates
    evals = [json.loads(l) for l in (run_two / "metrics.jsonl").read_text().splitlines() if "val/mae" in l]
    assert [e["step"] for e in evals] == [3, 6]
