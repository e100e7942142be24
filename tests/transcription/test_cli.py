"""End to end: train a tiny run with the engine, then `pianox transcribe` it (both heads, every
strategy), and the task's collate / evaluation outputs in the run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianox.audio import write_audio
from pianox.cli import main
from pianox.config import load_experiment
from pianox.midi import notes_to_midi
from pianox.runner import run_experiment
from pianox_transcription.inference import Transcriber, load_trained

EXPERIMENT = """
[source]
kind = "maestro_twin"
minutes = 0.3
segment_seconds = 1.0
max_files = 1

[features]
kind = "kaldi"
snip_edges = false

[model]
kind = "ast"
preset = "tiny"
depth = 1
patch = "frame"
max_frames = 100

[task]
kind = "transcription"
head = "both"
segment_seconds = 1.0
decoder_layers = 1
decoder_dim = 32
decoder_heads = 4
decoder_mlp = 64
max_tokens = 48
frame_hidden = 32
frame_channels = 16
onset_threshold = 0.05
frame_threshold = 0.05

[backend]
kind = "cpu"

[train]
epochs = 1
batch_size = 8
lr = 1e-3
metric = "val/frames_onset_f1"
mode = "max"

[eval]
test = false
max_examples = 4
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    path = root / "tiny.toml"
    path.write_text(EXPERIMENT)
    exp = load_experiment(path, [f"run.output_dir={root / 'runs'}"])
    return run_experiment(exp, quiet=True).path


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    from pianox_synth.render import render_midi

    notes = np.array([[0.1, 0.9, 60, 90], [0.7, 1.6, 64, 70], [1.9, 2.4, 67, 80]])
    path = tmp_path_factory.mktemp("audio") / "take.wav"
    y = render_midi(notes_to_midi(notes), 16000, tail_seconds=0.3)
    write_audio(path, y, 16000)
    return path, len(y) / 16000


def test_run_directory_holds_per_piece_results(run_dir):
    pieces = json.loads((run_dir / "pieces.json").read_text())
    assert set(pieces) == {"seq2seq", "frames"}
    piece_metrics = next(iter(pieces["frames"].values()))
    assert 0.0 <= piece_metrics["onset_f1"] <= 1.0 and "frame_f1" in piece_metrics
    assert list((run_dir / "transcriptions" / "seq2seq").glob("*.mid"))
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    val = [m for m in metrics if "val/seq2seq_token_acc" in m or "val/token_acc" in m]
    assert val and all(k in val[-1] for k in ("val/loss", "val/frames_onset_f1", "val/seq2seq_onset_f1"))


@pytest.mark.parametrize("args", [["--head", "frames"], ["--head", "seq2seq"],
                                  ["--head", "seq2seq", "--strategy", "beam", "--beam-size", "2"],
                                  ["--head", "seq2seq", "--strategy", "sample", "--top-p", "0.9", "--seed", "3"]],
                         ids=["frames", "greedy", "beam", "sample"])
def test_transcribe_writes_midi_and_csv(run_dir, audio, tmp_path, args, capsys):
    wav, seconds = audio
    out = tmp_path / "out"
    assert main(["transcribe", str(wav), "--model", str(run_dir), "-o", str(out), "--quiet", *args]) == 0
    rows = np.loadtxt(out / "take.csv", delimiter=",", skiprows=1, ndmin=2).reshape(-1, 4)
    assert (out / "take.mid").is_file()
    assert np.all(rows[:, 0] < seconds) and np.all(rows[:, 1] <= seconds + 1e-3)
    assert np.all(rows[:, 1] > rows[:, 0]) and np.all((rows[:, 2] >= 21) & (rows[:, 2] <= 108))
    # a second run refuses to overwrite, with a clear message and exit code, and touches nothing
    before = (out / "take.csv").read_text()
    assert main(["transcribe", str(wav), "--model", str(run_dir), "-o", str(out), "--quiet", *args]) == 1
    assert "--overwrite" in capsys.readouterr().err and (out / "take.csv").read_text() == before
    assert main(["transcribe", str(wav), "--model", str(run_dir), "-o", str(out), "--quiet", "--overwrite", *args]) == 0


def test_transcribe_reports_user_errors(run_dir, audio, tmp_path, capsys):
    wav, _ = audio
    assert main(["transcribe", str(tmp_path / "missing.wav"), "--model", str(run_dir), "-o", str(tmp_path)]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["transcribe", str(wav), "--model", str(tmp_path), "-o", str(tmp_path / "o")]) == 1
    assert "neither a run directory" in capsys.readouterr().err


def test_checkpoint_folder_and_long_audio_segments(run_dir, audio):
    wav, seconds = audio
    trained = load_trained(run_dir / "checkpoints" / "best")
    transcriber = Transcriber(trained, "frames")
    calls = []
    notes = transcriber.transcribe_file(wav, lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)  # 2.7 s of audio in 1 s segments
    assert notes.shape[1] == 4 and (len(notes) == 0 or notes[:, 1].max() <= seconds)
