"""Frame-head decoding thresholds tuned on validation and stored with the model: the grid search
on posteriors with known best thresholds, the fast F1 against mir_eval, the end-of-run tuning
and test re-scoring, `pianox transcribe-tune` and its refusals, and every reader (Transcriber,
packed model folder; missing and malformed files)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from pianox.cli import main
from pianox.config import load_experiment
from pianox.errors import CheckpointError, ConfigError
from pianox.inference.models import load_model
from pianox.runner import run_experiment
from pianox_transcription.inference import Transcriber
from pianox_transcription.metrics import OFFSET_RATIO, note_f1, note_metrics
from pianox_transcription.pieces import Pieces
from pianox_transcription.thresholds import THRESHOLDS_FILE, Thresholds, read_thresholds, search
from pianox_transcription.tokens import MIN_PITCH

RATE = 100.0
NOTES = np.array([[0.2, 0.7, 60, 80], [1.0, 1.5, 64, 70], [1.8, 2.3, 67, 90], [2.6, 3.1, 60, 60]])


def posteriors_of(notes: np.ndarray, frames: int) -> np.ndarray:
    """(4, T, 88) posteriors whose best thresholds are known: onsets at 0.3 (two frames), frames
    at 0.8 while a note sounds and 0.65 for 0.3 s after it (a decaying string), and a spurious
    onset at 0.2 on a silent key. Onset F1 is 1 for onset thresholds in (0.2, 0.3]; offsets are
    right only for frame thresholds in (0.65, 0.8]."""
    post = np.zeros((4, frames, 88), np.float32)
    for on, off, pitch, vel in notes:
        k, a, b = int(pitch) - MIN_PITCH, int(round(on * RATE)), int(round(off * RATE))
        post[0, a:a + 2, k] = 0.3
        post[1, a:b, k] = 0.8
        post[1, b:b + 30, k] = 0.65
        post[3, a:a + 2, k] = vel / 127
    post[0, 150, 40 - MIN_PITCH] = 0.2
    return post


def constructed_pieces() -> Pieces:
    """Two recordings of NOTES, each evaluated as two 2 s segments (laid end to end again)."""
    pieces = Pieces(RATE)
    post = posteriors_of(NOTES, 400)
    for name in ("a", "b"):
        for start in (0.0, 2.0):
            rel = NOTES.copy()
            rel[:, :2] -= start
            a = int(start * RATE)
            pieces.add(f"{name}@{start}", 2.0, rel, posteriors=post[:, a:a + 200])
    return pieces


def tune(pieces: Pieces, defaults: Thresholds):
    posteriors = pieces.take_posteriors()
    return search(posteriors, {p: pieces.reference(p) for p in posteriors}, pieces.frame_rate, defaults)


def test_search_finds_the_known_best_thresholds():
    tuned = tune(constructed_pieces(), Thresholds(0.5, 0.5, 0.5))
    # onset 0.25 and 0.3 both give F1 1, frame 0.7 and 0.8 both right offsets: the nearest to
    # the defaults (0.5, 0.5) wins
    assert (tuned.thresholds.onset, tuned.thresholds.frame, tuned.thresholds.offset) == (0.3, 0.7, 0.5)
    assert tuned.onset_f1 == pytest.approx(1.0) and tuned.onset_offset_f1 == pytest.approx(1.0)
    assert tuned.default_onset_f1 == 0.0 and tuned.pieces == 2
    # the defaults are candidates too, and a closer default breaks the tie the other way
    near = tune(constructed_pieces(), Thresholds(0.26, 0.85, 0.5))
    assert (near.thresholds.onset, near.thresholds.frame) == (0.26, 0.8)
    record = tuned.record({"split": "validation"})
    assert record["onset_f1"] == {"tuned": pytest.approx(1.0), "default": 0.0}
    assert record["tuned_on"] == {"split": "validation", "pieces": 2}
    with pytest.raises(ConfigError, match="no pieces"):
        tune(Pieces(RATE), Thresholds(0.5, 0.5, 0.5))


def test_note_f1_is_mir_evals_onset_and_onset_offset_f1():
    rng = np.random.default_rng(0)
    ref = np.column_stack([rng.uniform(0, 20, 300), np.zeros(300), rng.integers(58, 64, 300), np.full(300, 80)])
    ref[:, 1] = ref[:, 0] + rng.uniform(0.05, 1.0, 300)
    est = ref[rng.permutation(300)[:250]].copy()
    est[:, :2] = np.abs(est[:, :2] + rng.normal(0, 0.04, (250, 2)))
    est[:, 1] = np.maximum(est[:, 1], est[:, 0] + 0.01)
    est = np.vstack([est, ref[:20] + [0.02, 0.0, 1, 0]])  # near misses on the next key
    m = note_metrics(ref, est)
    assert note_f1(ref, est) == pytest.approx(m["onset_f1"], abs=1e-12)
    assert note_f1(ref, est, OFFSET_RATIO) == pytest.approx(m["onset_offset_f1"], abs=1e-12)
    assert note_f1(ref, np.zeros((0, 4))) == 0.0


# ------------------------------------------------------------------------- a trained run

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
head = "frames"
segment_seconds = 1.0
frame_hidden = 16
frame_channels = 8

[backend]
kind = "cpu"

[train]
epochs = 1
batch_size = 8
metric = "val/onset_f1"
mode = "max"
"""


COLLECTED: list[tuple[str, int, int]] = []
"""(split, pieces, examples) of each collection at the end of the fixture's run."""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-epoch frames run that evaluates the test split at the end. A model this young
    scores 0 at every threshold, so its end-of-run step collects the real posteriors (checked)
    but tunes and re-scores the constructed pieces, whose best thresholds are known."""
    from pianox_transcription import tune

    real = tune.collect

    def collect(task, stages, exp, model, head, split, where=None):
        pieces, info = real(task, stages, exp, model, head, split, where)
        assert all(pieces.posteriors[p] for p in pieces.references)
        COLLECTED.append((split, len(pieces.references), info["examples"]))
        return constructed_pieces(), info

    root = tmp_path_factory.mktemp("run")
    (root / "tiny.toml").write_text(EXPERIMENT)
    exp = load_experiment(root / "tiny.toml", [f"run.output_dir={root / 'runs'}"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tune, "collect", collect)
        return run_experiment(exp, quiet=True).path


def test_finish_tunes_on_validation_and_reports_test_with_the_tuned_thresholds(run_dir):
    assert [(split, examples) for split, _, examples in COLLECTED] == [("validation", 13), ("test", 9)]
    assert all(pieces >= 1 for _, pieces, _ in COLLECTED)
    stored = json.loads((run_dir / "checkpoints" / "best" / THRESHOLDS_FILE).read_text())
    assert (stored["onset_threshold"], stored["frame_threshold"], stored["offset_threshold"]) == (0.3, 0.7, 0.5)
    assert stored["tuned_on"] == {"split": "validation", "examples": 13, "total": 13, "sampled": False, "pieces": 2}
    assert stored["onset_f1"] == {"tuned": pytest.approx(1.0), "default": 0.0}
    results = json.loads((run_dir / "results.json").read_text())
    assert results["thresholds"]["onset_threshold"] == 0.3 and results["thresholds"]["frame_threshold"] == 0.7
    assert results["thresholds"]["source"] == f"checkpoints/best/{THRESHOLDS_FILE}"
    # the engine's test evaluation (at the [task]'s 0.5) is re-scored at the tuned thresholds
    logged = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    engine = [m for m in logged if "test/loss" in m][-1]
    rescored = [m for m in logged if "transcription_thresholds" in m][-1]
    status = json.loads((run_dir / "status.json").read_text())
    assert engine["test/onset_f1"] == 0.0
    assert results["test/onset_f1"] == rescored["test/onset_f1"] == status["results"]["test/onset_f1"] == 1.0
    assert results["test/loss"] == engine["test/loss"]  # the rest of the engine's results stay
    pieces = json.loads((run_dir / "pieces.json").read_text())["frames"]
    assert sorted(pieces) == ["a", "b"] and all(m["onset_offset_f1"] == 1.0 for m in pieces.values())


def test_transcribe_tune_refuses_test_overwriting_and_packed_folders(run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    file = run / "checkpoints" / "best" / THRESHOLDS_FILE
    before = file.read_text()
    assert main(["transcribe-tune", str(run), "--split", "test"]) == 2  # a ConfigError
    assert "test split is not allowed" in capsys.readouterr().err
    assert main(["transcribe-tune", str(run), "--set", "task.onset_threshold=0.2"]) == 2
    assert "only overrides [source]" in capsys.readouterr().err
    assert main(["transcribe-tune", str(run)]) == 1
    assert "--overwrite" in capsys.readouterr().err and file.read_text() == before
    file.write_text("{}")
    assert main(["transcribe-tune", str(run), "--overwrite"]) == 0
    assert "onset F1" in capsys.readouterr().out
    stored = json.loads(file.read_text())  # tuned on the run's real validation pieces this time
    assert stored["tuned_on"] == {"split": "validation", "examples": 13, "total": 13, "sampled": False,
                                  "pieces": COLLECTED[0][1]}
    assert set(stored) == set(json.loads(before))
    packed = tmp_path / "packed"
    assert main(["models", "pack", str(run), "-o", str(packed), "--name", "tiny"]) == 0
    assert main(["transcribe-tune", str(packed), "--overwrite"]) == 2
    assert "packed model folder" in capsys.readouterr().err


def test_packed_model_carries_the_thresholds(run_dir, tmp_path):
    from pianox.inference.pack import pack

    folder = pack(run_dir, tmp_path / "packed", name="tiny")
    stored = json.loads((folder / THRESHOLDS_FILE).read_text())
    t = Transcriber(load_model(folder, task="transcription")).thresholds
    assert (t.onset, t.frame, t.offset) == (stored["onset_threshold"], stored["frame_threshold"], 0.5)
    assert t.source == str(folder / THRESHOLDS_FILE)


def _constant_posteriors(trained, onset: float, frame: float) -> None:
    """Make the frame head output `onset` / `frame` posteriors on middle C at every frame."""
    out = trained.head.frames.out
    bias = torch.full((4, 88), -12.0)
    bias[0, 60 - MIN_PITCH] = float(np.log(onset / (1 - onset)))
    bias[1, 60 - MIN_PITCH] = float(np.log(frame / (1 - frame)))
    with torch.no_grad():
        out.weight.zero_()
        out.bias.copy_(bias.view(-1))


def test_the_stored_thresholds_decide_the_notes(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    file = run / "checkpoints" / "best" / THRESHOLDS_FILE
    wave = np.zeros(24000, np.float32)
    trained = load_model(run, task="transcription")
    _constant_posteriors(trained, onset=0.3, frame=0.8)
    file.write_text(json.dumps({"onset_threshold": 0.25, "frame_threshold": 0.5, "offset_threshold": 0.5}))
    notes = Transcriber(trained).transcribe(wave)
    assert notes[:, 2].tolist() == [60] and notes[0, 0] == 0.0 and notes[0, 1] == pytest.approx(1.5)
    explicit = Transcriber(trained, thresholds=Thresholds(0.5, 0.5, 0.5))  # an explicit setting wins
    assert len(explicit.transcribe(wave)) == 0
    file.unlink()  # no file: the [task]'s 0.5, which the 0.3 onsets never reach
    plain = Transcriber(trained)
    assert plain.thresholds == Thresholds(0.5, 0.5, 0.5, "config") and len(plain.transcribe(wave)) == 0


@pytest.mark.parametrize("text, phrase", [
    ("{not json", "unusable decoding thresholds"),
    ('{"onset_threshold": 0.3, "frame_threshold": 0.5}', "offset_threshold"),
    ('{"onset_threshold": "high", "frame_threshold": 0.5, "offset_threshold": 0.5}', "not a finite number"),
    ('{"onset_threshold": 1.5, "frame_threshold": 0.5, "offset_threshold": 0.5}', "out of range"),
    ("[0.3, 0.5, 0.5]", "not a JSON object"),
])
def test_malformed_thresholds_file_is_a_checkpoint_error_naming_it(tmp_path, text, phrase):
    (tmp_path / THRESHOLDS_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=phrase) as err:
        read_thresholds(tmp_path)
    assert str(tmp_path / THRESHOLDS_FILE) in str(err.value)


def test_missing_file_keeps_the_configured_thresholds(tmp_path):
    from pianox_transcription.task import TranscriptionTask

    assert read_thresholds(tmp_path) is None and read_thresholds(None) is None
    task = TranscriptionTask(TranscriptionTask.Config(head="frames", onset_threshold=0.3, frame_threshold=0.7))
    assert task.thresholds is None  # until `finish` tunes them
    post = posteriors_of(NOTES, 400)
    np.testing.assert_array_equal(task.frames_to_notes(post), Thresholds(0.3, 0.7, 0.5).notes(post, RATE))
    assert len(task.frames_to_notes(post)) == len(NOTES)


def test_transcribe_eval_uses_and_reports_the_stored_thresholds(run_dir, capsys):
    assert main(["transcribe-eval", str(run_dir), "--split", "validation"]) == 0
    out = capsys.readouterr().out
    assert f"onset 0.3, frame 0.7, offset 0.5 ({run_dir / 'checkpoints' / 'best' / THRESHOLDS_FILE})" in out
