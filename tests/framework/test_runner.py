"""`pianox run` end to end on the dummy plugins: run dir, refusals, --force, --set, bad input."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pianox.config import load_experiment
from pianox.runner import run_dir_for

from .plugin_factory import BROKEN, MEAN_TASK, make_distribution


def _run_dir(exp_path: Path, *overrides: str) -> Path:
    return run_dir_for(load_experiment(exp_path, list(overrides)))


def test_run_writes_the_run_directory(write_exp, cli):
    exp = write_exp()
    proc = cli("run", str(exp), "--quiet", "--set", "train.lr=0.002")
    assert proc.returncode == 0, proc.stderr
    run = _run_dir(exp, "train.lr=0.002")
    assert run.name.startswith("exp-") and len(run.name) == len("exp-") + 8
    assert f"run finished: {run}" in proc.stdout
    for name in ("config.toml", "metrics.jsonl", "history.json", "results.json", "status.json",
                 "plots/curves.png", "checkpoints/last/model.safetensors", "checkpoints/best/state.pt",
                 "dummy_summary.json"):
        assert (run / name).is_file(), name
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["train"]["lr"] == 0.002 and config["model"]["kind"] == "dummy"
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all("val/mae" in h and "train/loss" in h for h in history)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and "test/mae" in status["results"]
    records = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val/mae" in r for r in records) and any("test/mae" in r for r in records)
    assert not list(run.rglob("*.tmp")), "no temporary files may be left behind"


def test_finished_run_is_not_overwritten_without_force(write_exp, cli):
    exp = write_exp()
    assert cli("run", str(exp), "--quiet").returncode == 0
    run = _run_dir(exp)
    before = (run / "metrics.jsonl").read_text()
    again = cli("run", str(exp), "--quiet")
    assert again.returncode == 1
    assert again.stderr.strip() == f"pianox: error: run {run} already finished; use --force to replace it " \
                                   f"(or change the config or [run] name)"
    assert "Traceback" not in again.stderr
    assert (run / "metrics.jsonl").read_text() == before
    forced = cli("run", str(exp), "--quiet", "--force")
    assert forced.returncode == 0, forced.stderr


def test_misspelt_key_fails_naming_key_and_file(write_exp, cli):
    exp = write_exp()
    exp.write_text(exp.read_text().replace("batch_size = 4", "bacth_size = 4"))
    proc = cli("run", str(exp), "--quiet")
    assert proc.returncode == 2
    assert "'bacth_size'" in proc.stderr and str(exp) in proc.stderr and "[train]" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (exp.parent / "runs").exists(), "nothing may be written for a bad config"


def test_unwritable_output_dir(write_exp, cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = cli("run", str(write_exp()), "--quiet", "--set", f"run.output_dir={blocker}/runs")
    assert proc.returncode == 1 and "cannot create run directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_third_party_plugin_runs_beside_a_broken_one(write_exp, cli, tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "pianox-meantask", "pianox_meantask", MEAN_TASK,
                      {"pianox.tasks": {"mean-task": "pianox_meantask:MeanTask"}})
    make_distribution(site, "pianox-broken", "pianox_broken", BROKEN,
                      {"pianox.tasks": {"broken": "pianox_broken:Task"}})
    exp = write_exp()
    exp.write_text(exp.read_text().replace('[task]\nkind = "dummy"', '[task]\nkind = "mean-task"\nscale = 2.0'))
    env = {"PYTHONPATH": str(site)}
    proc = cli("run", str(exp), "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    run = next((tmp_path / "runs").glob("exp-*"))
    assert tomllib.loads((run / "config.toml").read_text())["task"] == {"kind": "mean-task", "hidden": 16, "scale": 2.0}
    broken = cli("run", str(exp), "--quiet", "--force", "--set", "task.kind=broken", env=env)
    assert broken.returncode == 2
    assert "pianox-broken" in broken.stderr and "broken on purpose" in broken.stderr


def test_non_finite_loss_names_the_step(write_exp, cli, tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "pianox-nantask", "pianox_nantask", MEAN_TASK.replace(
        "return loss * self.config.scale, logs",
        "return loss * (float('nan') if self.config.scale < 0 else 1.0), logs").replace('"mean-task"', '"nan-task"'),
        {"pianox.tasks": {"nan-task": "pianox_nantask:MeanTask"}})
    exp = write_exp()
    exp.write_text(exp.read_text().replace('[task]\nkind = "dummy"', '[task]\nkind = "nan-task"\nscale = -1.0'))
    proc = cli("run", str(exp), "--quiet", env={"PYTHONPATH": str(site)})
    assert proc.returncode == 1
    assert "non-finite loss nan at step 1 (epoch 0, batch 0)" in proc.stderr and "nan_policy" in proc.stderr
    run = next((tmp_path / "runs").glob("exp-*"))
    assert json.loads((run / "status.json").read_text())["state"] == "failed"
