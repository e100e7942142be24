"""Every experiment file validates; every smoke experiment runs end to end on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pianox.config import load_experiment
from pianox.runner import run_experiment

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
ALL = sorted(EXPERIMENTS.rglob("*.toml"))
SMOKE = sorted((EXPERIMENTS / "smoke").glob("*.toml"))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(EXPERIMENTS)) for p in ALL])
def test_experiment_validates(path):
    exp = load_experiment(path)
    assert exp.stages["task"].kind and len(exp.hash()) == 8


@pytest.mark.slow
@pytest.mark.parametrize("path", SMOKE, ids=[p.stem for p in SMOKE])
def test_smoke_experiment_runs(path, tmp_path):
    exp = load_experiment(path, [f"run.output_dir={tmp_path}", "backend.kind=cpu"])
    run = run_experiment(exp, quiet=True)
    assert json.loads((run.path / "status.json").read_text())["state"] == "finished"
    results = json.loads((run.path / "results.json").read_text())
    assert results["steps"] > 0
    metrics = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert any(k.startswith("val/") for m in metrics for k in m), "smoke runs must evaluate"
    assert (run.path / "checkpoints" / "best" / "model.safetensors").exists()
