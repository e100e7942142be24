"""Tokenizer: vocabulary layout, notes -> tokens -> notes round trips (hypothesis), ties, pedal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pianox_transcription.sequence import decode, validate
from pianox_transcription.tokens import EOS, TIE, Vocabulary, encode, quantize_notes

VOCAB = Vocabulary.for_segment(2.0)
PEDAL_VOCAB = Vocabulary.for_segment(2.0, pedal=True)


def test_vocabulary_layout():
    v = VOCAB
    assert (v.time0, v.velocity0, v.on0, v.off0, v.size) == (4, 205, 237, 325, 413)
    assert v.kind(v.time(200)) == "time" and v.value(v.time(200)) == 200
    assert v.kind(v.note_on(108)) == "on" and v.value(v.note_off(21)) == 21
    assert PEDAL_VOCAB.size == 415 and PEDAL_VOCAB.kind(PEDAL_VOCAB.pedal_off) == "pedal_off"
    assert v.bin_velocity(v.velocity_bin(np.arange(128))).min() >= 1
    assert np.array_equal(v.velocity_bin(v.bin_velocity(np.arange(32))), np.arange(32))  # centres stay put


def test_encode_known_sequence():
    notes = np.array([[0.10, 0.50, 60, 100], [0.10, 0.30, 64, 100], [-0.5, 0.20, 48, 70], [1.5, 2.5, 72, 40]])
    v = VOCAB
    tokens = encode(notes, 2.0, v)
    expected = [v.note_on(48), TIE,
                v.time(10), v.velocity(25), v.note_on(60), v.note_on(64),
                v.time(20), v.note_off(48),
                v.time(30), v.note_off(64),
                v.time(50), v.note_off(60),
                v.time(150), v.velocity(10), v.note_on(72), EOS]
    assert tokens == expected
    assert validate(tokens, v, 2.0) is None
    seg = decode(tokens, v, 2.0)
    assert seg.tied.tolist() == [True, False, False, False] and seg.open.tolist() == [False, False, False, True]
    assert np.allclose(seg.notes[:, :3], [[0, 0.2, 48], [0.1, 0.5, 60], [0.1, 0.3, 64], [1.5, 2.0, 72]])


def test_segment_longer_than_vocabulary_is_an_error():
    with pytest.raises(ValueError, match="time bins"):
        encode(np.zeros((0, 4)), 2.5, VOCAB)


note_rows = st.tuples(st.floats(0.0, 1.989), st.floats(0.001, 1.5), st.integers(21, 108), st.integers(1, 127))


@settings(max_examples=200, deadline=None)
@given(st.lists(note_rows, max_size=40))
def test_round_trip_exact_up_to_quantisation(rows):
    notes = np.array([(on, min(on + d, 2.0), p, v) for on, d, p, v in rows], dtype=np.float64).reshape(-1, 4)
    tokens = encode(notes, 2.0, VOCAB)
    assert validate(tokens, VOCAB, 2.0) is None
    seg = decode(tokens, VOCAB, 2.0)
    q = quantize_notes(notes, VOCAB)
    q = q[q[:, 0] < 2.0 - 1e-9]  # an onset rounding to the segment's end belongs to the next one
    q[:, 1] = np.minimum(q[:, 1], 2.0)
    assert seg.notes.shape == q.shape
    assert np.allclose(seg.notes, q, atol=1e-9)
    assert not seg.tied.any()


@settings(max_examples=100, deadline=None)
@given(st.lists(note_rows, max_size=20), st.lists(st.tuples(st.floats(-0.5, 2.0), st.floats(0.02, 1.0)), max_size=3))
def test_round_trip_with_ties_and_pedal_is_valid(rows, pedal_rows):
    notes = np.array([(on - 0.5, on - 0.5 + d, p, v) for on, d, p, v in rows]).reshape(-1, 4)
    from pianox.midi import merge_intervals

    pedal = np.clip(merge_intervals(np.array([(a, a + d) for a, d in pedal_rows]).reshape(-1, 2)), 0, 2.0)
    tokens = encode(notes, 2.0, PEDAL_VOCAB, pedal)
    assert validate(tokens, PEDAL_VOCAB, 2.0) is None
    seg = decode(tokens, PEDAL_VOCAB, 2.0)
    q = quantize_notes(notes, PEDAL_VOCAB)
    sounding_at_start = q[(q[:, 0] < 0) & (q[:, 1] > 1e-9)]
    assert sorted(seg.notes[seg.tied, 2].tolist()) == sorted(sounding_at_start[:, 2].tolist())
    starts = q[(q[:, 0] > -1e-9) & (q[:, 0] < 2.0 - 1e-9)]
    assert np.allclose(np.sort(seg.notes[~seg.tied, 0]), np.sort(starts[:, 0]))


def test_validate_rejects_bad_sequences():
    v = VOCAB
    good = [TIE, v.time(5), v.velocity(3), v.note_on(60), v.time(9), v.note_off(60), EOS]
    assert validate(good, v) is None
    bad = {
        "time backwards": [TIE, v.time(5), v.time(4), EOS],
        "off of silent pitch": [TIE, v.time(5), v.note_off(60), EOS],
        "on without velocity": [TIE, v.time(5), v.note_on(60), EOS],
        "zero-length note": [TIE, v.time(5), v.velocity(3), v.note_on(60), v.note_off(60), EOS],
        "velocity then eos": [TIE, v.time(5), v.velocity(3), EOS],
        "no eos": [TIE, v.time(5)],
        "tie not ascending": [v.note_on(62), v.note_on(60), TIE, EOS],
        "event after eos": [TIE, EOS, v.time(3)],
    }
    for name, seq in bad.items():
        assert validate(seq, v) is not None, name
