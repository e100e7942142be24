"""`pianox eval` / pianox.trained: reopen a finished run, evaluate it on a split, with overrides."""

from __future__ import annotations

import json

import pytest

from pianox.cli import main
from pianox.config import load_experiment
from pianox.errors import CheckpointError, ConfigError
from pianox.runner import run_file, run_dir_for
from pianox.trained import evaluate_run, load_run, locate


@pytest.fixture
def finished(write_exp):
    exp = write_exp()
    run = run_file(exp, quiet=True)
    return exp, run.path


def test_eval_reproduces_the_runs_own_test_metrics(finished, capsys, tmp_path):
    _, run = finished
    recorded = json.loads((run / "results.json").read_text())
    out = tmp_path / "report.json"
    assert main(["eval", str(run), "--split", "test", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["split"] == "test" and report["examples"] == 8
    assert report["checkpoint"] == str(run / "checkpoints" / "best")
    for key, value in report["metrics"].items():
        assert value == pytest.approx(recorded[f"test/{key}"], rel=1e-6)
    printed = capsys.readouterr().out
    assert "test/mae = " in printed and str(run) in printed


def test_eval_applies_overrides_to_the_source(finished):
    _, run = finished
    report = evaluate_run(run, "test", ["source.num_test=3", "source.seed=7"])
    assert report["examples"] == 3 and report["overrides"] == ["source.num_test=3", "source.seed=7"]
    assert set(report["metrics"]) == set(evaluate_run(run, "validation")["metrics"])


def test_load_run_restores_the_trained_weights(finished):
    _, run = finished
    loaded = load_run(run / "checkpoints" / "last", task="dummy")
    assert loaded.path == run and loaded.checkpoint == run / "checkpoints" / "last"
    assert not loaded.model.training and not loaded.head.training
    fresh = load_experiment(run / "config.toml")
    assert run_dir_for(fresh) == run


def test_bad_paths_and_wrong_tasks_name_the_run(finished, tmp_path, capsys):
    _, run = finished
    with pytest.raises(CheckpointError, match="no such run directory"):
        locate(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="neither a run directory"):
        locate(tmp_path)
    with pytest.raises(CheckpointError, match="'dummy' run, not a 'drums' run"):
        load_run(run, task="drums")
    with pytest.raises(CheckpointError, match="cannot rebuild its experiment.*source.bogus"):
        load_run(run, ["source.bogus=1"])
    with pytest.raises(ConfigError, match="--split 'holdout': expected one of train, validation, test"):
        evaluate_run(run, "holdout")
    with pytest.raises(CheckpointError, match="no 'test' examples with source.num_test=0"):
        evaluate_run(run, "test", ["source.num_test=0"])
    (run / "checkpoints" / "best" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no trained weights"):
        load_run(run)
    capsys.readouterr()
    assert main(["eval", str(run)]) == CheckpointError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("pianox: error: ") and str(run) in err and "Traceback" not in err


def test_final_test_scores_the_whole_split_even_with_max_examples(write_exp):
    """[eval] max_examples limits validation during training only: the final test scores every
    test example and results.json says what was scored (finding 1 of the evaluation issue)."""
    exp = write_exp()
    run = run_file(exp, overrides=["eval.max_examples=3"], quiet=True)
    results = json.loads((run.path / "results.json").read_text())
    assert results["scored"]["test"] == {"split": "test", "examples": 8, "total": 8, "sampled": False}
    # the same run evaluated again over the whole split reproduces the recorded test metrics
    report = evaluate_run(run.path, "test")
    assert report["examples"] == report["total"] == 8
    for key, value in report["metrics"].items():
        assert value == pytest.approx(results[f"test/{key}"], rel=1e-6)


def test_test_sample_is_seeded_and_reported(finished, capsys):
    _, run = finished
    first = evaluate_run(run, "test", ["eval.test_sample=5"])
    again = evaluate_run(run, "test", ["eval.test_sample=5"])
    assert first["examples"] == 5 and first["total"] == 8 and first["sampled"]
    assert first["sample_seed"] == again["sample_seed"] and first["metrics"] == again["metrics"]
    assert main(["eval", str(run), "--set", "eval.test_sample=5"]) == 0
    assert "a seeded sample of 5 of 8 examples" in capsys.readouterr().out
