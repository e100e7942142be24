"""Metrics against mir_eval on known notes, per-piece scoring, and the MIDI/CSV outputs."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from pianox.errors import OutputError
from pianox_transcription.metrics import frame_roll, mean_metrics, note_metrics
from pianox_transcription.outputs import check_free, write_transcription
from pianox_transcription.pieces import Pieces, piece_of
from pianox_transcription.sequence import decode
from pianox_transcription.tokens import Vocabulary, encode, quantize_notes

REF = np.array([[0.00, 1.00, 60, 80], [0.50, 1.00, 64, 80], [1.00, 2.00, 67, 60], [2.00, 2.50, 72, 100]])


def test_known_notes():
    est = np.array([
        [0.03, 1.05, 60, 80],   # onset +30 ms, offset +50 ms: full match
        [0.56, 1.00, 64, 80],   # onset +60 ms: no onset match
        [1.00, 1.40, 67, 60],   # onset ok, offset 0.6 s early (> 20% of 1 s): onset-only match
        [2.00, 2.50, 71, 100],  # wrong pitch
        [3.00, 3.50, 50, 64],   # extra note
    ])
    m = note_metrics(REF, est)
    assert m["onset_precision"] == pytest.approx(2 / 5) and m["onset_recall"] == pytest.approx(2 / 4)
    assert m["onset_f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert m["onset_offset_precision"] == pytest.approx(1 / 5) and m["onset_offset_recall"] == pytest.approx(1 / 4)
    perfect = note_metrics(REF, REF)
    assert all(perfect[k] == pytest.approx(1.0) for k in perfect)
    empty = note_metrics(REF, np.zeros((0, 4)))
    assert empty["onset_f1"] == 0.0 and empty["frame_f1"] == 0.0


def test_frame_metrics_match_a_piano_roll_count():
    est = np.array([[0.00, 0.80, 60, 80], [0.50, 1.00, 63, 80], [1.00, 2.00, 67, 60]])
    m = note_metrics(REF, est)
    T = 251
    ref, hyp = frame_roll(REF, T, 100.0), frame_roll(est, T, 100.0)
    tp = (ref & hyp).sum()
    assert m["frame_precision"] == pytest.approx(tp / hyp.sum(), abs=1e-6)
    assert m["frame_recall"] == pytest.approx(tp / ref.sum(), abs=1e-6)


def test_velocity_metric_needs_matching_loudness():
    quiet = REF.copy()
    quiet[:, 3] = [80, 80, 60, 10]  # mir_eval rescales velocities; one note far off
    assert note_metrics(REF, REF)["onset_offset_velocity_f1"] == pytest.approx(1.0)
    assert note_metrics(REF, quiet)["onset_offset_velocity_f1"] < 1.0


def test_pieces_stitch_and_score_whole_recordings():
    vocab = Vocabulary.for_segment(1.0)
    notes = np.array([[0.2, 1.6, 60, 80], [0.9, 1.2, 62, 70], [1.5, 2.4, 64, 90], [2.1, 2.2, 65, 50]])
    pieces = Pieces(frame_rate=100.0)
    for start in (2.0, 0.0, 1.0):  # arrival order does not matter
        rel = notes.copy()
        rel[:, :2] -= start
        rel = rel[(rel[:, 1] > 0) & (rel[:, 0] < 1.0)]
        pieces.add(f"2004/piece@{start:.3f}", 1.0, rel, segment=decode(encode(rel, 1.0, vocab), vocab, 1.0))
    assert np.allclose(pieces.reference("2004/piece"), notes)
    assert np.allclose(pieces.seq2seq_notes("2004/piece"), quantize_notes(notes, vocab))
    per_piece, mean = pieces.score(pieces.seq2seq_notes)
    assert list(per_piece) == ["2004/piece"] and mean["onset_offset_f1"] == pytest.approx(1.0)
    assert piece_of("a/b@1.500") == ("a/b", 1.5) and piece_of("plain") == ("plain", 0.0)
    assert mean_metrics([{"x": 1.0}, {"x": 0.0}]) == {"x": 0.5}


def test_outputs_round_trip_and_refuse_to_overwrite(tmp_path):
    midi, csv = write_transcription(REF, tmp_path / "out", "take")
    pm = pretty_midi.PrettyMIDI(str(midi))
    got = np.array([(n.start, n.end, n.pitch, n.velocity) for n in pm.instruments[0].notes])
    assert np.allclose(got, REF, atol=2e-3)
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert csv.read_text().splitlines()[0] == "start_s,end_s,pitch,velocity" and np.allclose(rows, REF)
    before = csv.read_text()
    with pytest.raises(OutputError, match="--overwrite"):
        write_transcription(REF[:1], tmp_path / "out", "take")
    assert csv.read_text() == before  # nothing was touched
    write_transcription(REF[:1], tmp_path / "out", "take", overwrite=True)
    assert len(csv.read_text().splitlines()) == 2
    with pytest.raises(OutputError, match="same outputs"):
        check_free(tmp_path / "other", ["a", "b", "a"])
