"""ONNX export of encoder + head: parity with torch, dynamic shapes, int8 quantisation, CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from pianox.cli import main  # noqa: E402
from pianox.config import load_experiment  # noqa: E402
from pianox_drums.evaluation import collect_clips, score  # noqa: E402
from pianox_drums.inference import load_trained  # noqa: E402
from pianox_drums.onnx_export import load_onnx, parity  # noqa: E402

F1_DROP = 0.05
"""Largest micro-F1 drop allowed for the int8 model on the tiny evaluation below."""


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "drums.onnx"
    assert main(["drums-export", str(tiny_run.path), "-o", str(path), "--quantize"]) == 0
    return path, path.with_name("drums.int8.onnx")


def _test_examples(tiny_run):
    return list(load_experiment(tiny_run.path / "config.toml").stages["source"].build().examples("test"))


def test_float_model_matches_torch_on_several_lengths(tiny_run, exported):
    trained = load_trained(tiny_run.path)
    session, decoding = load_onnx(exported[0])
    assert decoding.to_json() == trained.decoding.to_json()  # thresholds, window, features travel along
    assert decoding.features["kind"] == "kaldi" and decoding.features["target_frames"] == 0
    assert parity(trained, session, frames=(2, 37, 256)) < 1e-3


def test_int8_model_is_smaller_and_scores_within_the_stated_drop(tiny_run, exported):
    from pianox_drums.cli import _transcriber

    float_path, int8_path = exported
    assert int8_path.stat().st_size < 0.6 * float_path.stat().st_size
    examples = _test_examples(tiny_run)
    results = {}
    for name, path in (("float32", float_path), ("int8", int8_path)):
        tr = _transcriber(None, path)
        clips, _ = collect_clips(tr, examples)
        results[name] = (score(clips, tr, resamples=0)[0]["model"]["f1_micro"], clips)
    (f_float, c_float), (f_int8, c_int8) = results["float32"], results["int8"]
    assert f_int8 >= f_float - F1_DROP
    diff = max(float(np.abs(a.probs - b.probs).max()) for a, b in zip(c_float, c_int8))
    assert 0.0 < diff < 0.2  # quantised, so not identical, but close


def test_pianox_drums_with_onnx_matches_the_torch_model(tiny_run, exported, tmp_path):
    source = load_experiment(tiny_run.path / "config.toml").stages["source"].build()
    audio = str(source.recordings("test")[0].audio)
    assert main(["drums", audio, "--model", str(tiny_run.path), "-o", str(tmp_path / "t"), "--format", "csv"]) == 0
    assert main(["drums", audio, "--onnx", str(exported[0]), "-o", str(tmp_path / "o"), "--format", "csv"]) == 0
    rows = {k: list(csv.DictReader(next((tmp_path / k).glob("*.csv")).open())) for k in ("t", "o")}
    assert [(r["time_s"], r["class"]) for r in rows["t"]] == [(r["time_s"], r["class"]) for r in rows["o"]]
    assert len(rows["t"]) > 0


def test_export_refuses_to_overwrite(tiny_run, exported, capsys):
    # one error type (OutputError) and exit code 1 for every refusal to overwrite
    before = exported[0].read_bytes()
    assert main(["drums-export", str(tiny_run.path), "-o", str(exported[0])]) == 1
    assert f"{exported[0]} exists; pass --overwrite" in capsys.readouterr().err
    assert exported[0].read_bytes() == before
