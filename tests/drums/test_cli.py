"""End to end on a tiny trained run: the run's drums outputs, `pianox drums`, `pianox drums-eval`."""

from __future__ import annotations

import csv
import json

import mido
import numpy as np
import pytest

from pianox.cli import main
from pianox.errors import CheckpointError
from pianox_drums.chart import read_chart
from pianox_drums.inference import Transcriber, load_trained, torch_predictor


def _audio(tiny_run):
    from pianox.config import load_experiment

    source = load_experiment(tiny_run.path / "config.toml").stages["source"].build()
    return source.recordings("test")[0].audio


def test_run_tunes_thresholds_and_reports_the_test_split(tiny_run):
    best = tiny_run.path / "checkpoints" / "best"
    tuned = json.loads((best / "drums_thresholds.json").read_text())
    assert tuned["class_map"] == "8-hit" and len(tuned["thresholds"]) == 8
    assert all(0.0 < t < 1.0 for t in tuned["thresholds"]) and tuned["tuned_on_clips"] > 0
    report = json.loads((tiny_run.path / "drums_results.json").read_text())
    assert report["split"] == "test" and report["clips"] > 0
    model = report["model"]
    assert 0.0 <= model["f1_micro"] <= 1.0 and set(model["ci95"]) >= {"f1_macro", "f1_micro"}
    lo, hi = model["ci95"]["f1_macro"]
    assert lo <= model["f1_macro"] <= hi
    assert sum(report["reference_hits"].values()) > 0
    assert (tiny_run.path / "plots" / "drums_confusion.png").stat().st_size > 1000
    trained = load_trained(tiny_run.path)
    assert trained.tuned and np.allclose(trained.decoding.thresholds, tuned["thresholds"])
    assert trained.decoding.window == 256 and trained.decoding.hop == 128


def test_pianox_drums_writes_midi_chart_and_csv(tiny_run, tmp_path, capsys):
    audio = _audio(tiny_run)
    out = tmp_path / "out"
    assert main(["drums", str(audio), "--model", str(tiny_run.path), "-o", str(out)]) == 0
    stem = audio.stem
    rows = list(csv.DictReader((out / f"{stem}.csv").open()))
    from pianox.audio import read_audio

    trained = load_trained(tiny_run.path)
    wave, _ = read_audio(audio, trained.features.sample_rate)
    hits = Transcriber(trained.features, torch_predictor(trained.network()), trained.decoding).transcribe(wave)
    assert len(rows) == len(hits) > 0
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], hits[:, 0], atol=1e-4)
    midi = mido.MidiFile(str(out / f"{stem}.mid"))
    ons = [m for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == len(hits) and {m.channel for m in ons} == {9}
    chart = read_chart((out / f"{stem}.chart").read_text())
    assert chart["resolution"] == 192 and len(chart["notes"]) > 0
    lane_times = chart["tempo"].to_seconds(np.array([t for t, n in chart["notes"] if n < 5]))
    assert np.min(np.abs(lane_times[:, None] - hits[None, :, 0]), axis=1).max() < 0.01
    assert f"{audio}:" in capsys.readouterr().out
    pytest.importorskip("librosa")
    assert main(["drums", str(audio), "--model", str(tiny_run.path), "-o", str(tmp_path / "lb"),
                 "--format", "chart", "--tempo", "librosa"]) == 0
    beats_chart = read_chart((tmp_path / "lb" / f"{stem}.chart").read_text())
    assert [n for _, n in beats_chart["notes"]] == [n for _, n in chart["notes"]]  # same notes, other grid
    lane_times = beats_chart["tempo"].to_seconds(np.array([t for t, n in beats_chart["notes"] if n < 5]))
    assert np.min(np.abs(lane_times[:, None] - hits[None, :, 0]), axis=1).max() < 0.01


def test_pianox_drums_refuses_to_overwrite_and_checks_its_arguments(tiny_run, tmp_path, capsys):
    audio = str(_audio(tiny_run))
    stem = _audio(tiny_run).stem
    out = str(tmp_path)
    assert main(["drums", audio, "--model", str(tiny_run.path), "-o", out, "--format", "csv"]) == 0
    # refusing to overwrite: one error type (OutputError) and exit code 1 for every command
    assert main(["drums", audio, "--model", str(tiny_run.path), "-o", out, "--format", "csv"]) == 1
    err = capsys.readouterr().err
    assert "already exist" in err and "pass --overwrite" in err and f"{stem}.csv" in err
    assert main(["drums", audio, "--model", str(tiny_run.path), "-o", out, "--format", "csv", "--overwrite"]) == 0
    assert main(["drums", audio, "--model", str(tiny_run.path), "-o", out, "--format", "wav"]) == 2
    assert "unknown output format(s) wav" in capsys.readouterr().err
    # no --model: the shipped default, and a clear error when none is installed
    assert main(["drums", audio, "-o", out, "--format", "midi"]) == 1
    assert "no shipped drums model is installed" in capsys.readouterr().err
    assert main(["drums", str(tmp_path / "missing.wav"), "--model", str(tiny_run.path), "-o", out]) == 1
    assert "audio file not found" in capsys.readouterr().err
    assert main(["drums", audio, "--model", str(tmp_path), "-o", out, "--format", "midi"]) == 1
    assert "neither a run directory" in capsys.readouterr().err


def test_load_trained_rejects_other_tasks(tmp_path):
    from pianox.config import experiment_from_dict
    from pianox.runner import run_experiment

    raw = {"run": {"name": "dummy", "output_dir": str(tmp_path), "tensorboard": False},
           "source": {"kind": "dummy", "num_train": 4, "num_validation": 2, "num_test": 2, "seconds": 0.2},
           "features": {"kind": "dummy"}, "model": {"kind": "dummy"}, "task": {"kind": "dummy"},
           "backend": {"kind": "cpu"}, "train": {"epochs": 1, "batch_size": 2, "metric": "val/mae"}}
    run = run_experiment(experiment_from_dict(raw), quiet=True)
    with pytest.raises(CheckpointError, match="'dummy' run, not a 'drums' run"):
        load_trained(run.path)
    with pytest.raises(CheckpointError, match="nowhere: no such run directory"):
        load_trained(tmp_path / "nowhere")


def test_drums_eval_scores_a_split_with_overrides(tiny_run, tmp_path, capsys):
    report_path = tmp_path / "eval.json"
    code = main(["drums-eval", str(tiny_run.path), "--split", "validation", "--set", "source.max_files=1",
                 "--set", "source.segment_seconds=0", "--bootstrap", "20", "-o", str(report_path)])
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["clips"] == 1 and report["overrides"] == ["source.max_files=1", "source.segment_seconds=0"]
    assert report["model"]["f1_micro"] is not None
    assert (tmp_path / "eval_confusion.png").is_file()
    assert main(["drums-eval", str(tiny_run.path), "--set", "model.depth=2"]) == 2
    assert "only overrides [source] values" in capsys.readouterr().err
