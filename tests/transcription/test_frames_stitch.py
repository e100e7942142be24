"""Frame head geometry and decoding of synthetic posteriors; long-audio segmentation and
stitching without duplicated or dropped notes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pianox.models.ast import ASTEncoder
from pianox.sources.segments import notes_in_span
from pianox_transcription.frames import FrameHead, note_rolls, posteriors_to_notes
from pianox_transcription.pieces import lay_out
from pianox_transcription.predict import frame_logits, grid_geometry
from pianox_transcription.sequence import decode
from pianox_transcription.stitch import segment_starts, stitch
from pianox_transcription.tokens import Vocabulary, encode, quantize_notes


@pytest.mark.parametrize("patch", ["patch", "frame"])
def test_frame_head_covers_every_frame(patch):
    model = ASTEncoder(ASTEncoder.Config(preset="tiny", depth=1, patch=patch, max_frames=100, fstride=16,
                                         tstride=16), num_bins=128).eval()
    fp, r = grid_geometry(model, 100)
    head = torch.nn.Module()
    head.frames = FrameHead(model.dim, fp, r, hidden=32, frame_hidden=16)
    feats = torch.randn(2, 98, 128)
    with torch.no_grad():
        logits = frame_logits(model, head, model(feats), 98)
    assert (fp, r) == ((8, 16) if patch == "patch" else (1, 2))
    assert set(logits) == {"onset", "frame", "offset", "velocity"}
    assert all(v.shape == (2, 98, 88) for v in logits.values())


def test_synthetic_posteriors_decode_to_their_notes():
    fr = 100.0
    notes = np.array([[0.10, 0.50, 60, 80], [0.30, 0.90, 64, 40], [0.50, 0.70, 60, 100], [-0.2, 0.25, 40, 64]])
    rolls = note_rolls(notes, 120, fr)
    assert rolls.shape == (4, 120, 88)
    assert rolls[0, 10, 60 - 21] == 1 and rolls[0, :, 40 - 21].sum() == 0  # no onset for a tied note
    assert rolls[1, 0:25, 40 - 21].all() and rolls[2, 25, 40 - 21] == 1
    posteriors = 0.05 + 0.9 * rolls  # confident but not saturated
    posteriors[3] = rolls[3]
    decoded = posteriors_to_notes(posteriors, fr)
    expected = np.array([[0.10, 0.50, 60, 80], [0.30, 0.90, 64, 40], [0.50, 0.70, 60, 100]])
    assert decoded.shape == expected.shape
    assert np.allclose(decoded[:, :3], expected[:, :3])
    assert np.allclose(decoded[:, 3], expected[:, 3], atol=1.0)


def test_lay_out_fills_gaps_between_segments():
    a = np.zeros((4, 98, 88), dtype=np.float32)
    a[1, 90:, 5] = 0.9
    b = np.zeros((4, 98, 88), dtype=np.float32)
    b[1, :10, 5] = 0.9
    out = lay_out([(1.0, b), (0.0, a)], 100.0)
    assert out.shape == (4, 198, 88)
    assert np.allclose(out[1, 90:110, 5], 0.9) and out[0, 98:100].sum() == 0


def _long_notes(seed: int, seconds: float = 30.0, count: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    on = rng.uniform(0, seconds, count)
    off = on + rng.exponential(0.8, count) + 0.01
    return np.stack([on, off, rng.integers(21, 109, count), rng.integers(1, 128, count)], axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_stitching_restores_a_long_note_list(seed):
    vocab = Vocabulary.for_segment(2.0, pedal=True)
    notes = quantize_notes(_long_notes(seed), vocab)  # exact up to quantisation: compare on the grid
    pedal = np.array([[1.0, 3.5], [7.99, 12.0], [20.0, 20.5]])
    starts = segment_starts(notes[:, 1].max(), 2.0)
    segments = []
    for s in starts:
        seg_pedal = np.clip(pedal - s, 0, 2.0)[(pedal[:, 1] > s) & (pedal[:, 0] < s + 2.0)]
        tokens = encode(notes_in_span(notes, s, 2.0), 2.0, vocab, seg_pedal)
        segments.append(decode(tokens, vocab, 2.0))
    got, got_pedal = stitch(segments[::-1], starts[::-1])  # order of arrival does not matter
    tied = sum(int(seg.tied.sum()) for seg in segments)
    assert tied > 10  # the test crosses many boundaries
    assert got.shape == notes.shape
    assert np.allclose(got, notes, atol=1e-9)
    assert np.allclose(got_pedal, pedal)


def test_stitching_after_a_gap_does_not_join():
    vocab = Vocabulary.for_segment(1.0)
    first = decode(encode(np.array([[0.5, 3.0, 60, 64]]), 1.0, vocab), vocab, 1.0)
    second = decode(encode(np.array([[-2.0, 0.5, 60, 64]]), 1.0, vocab), vocab, 1.0)
    joined, _ = stitch([first, second], [0.0, 1.0])
    apart, _ = stitch([first, second], [0.0, 1.5])
    assert np.allclose(joined[:, :3], [[0.5, 1.5, 60]])
    assert np.allclose(apart[:, :3], [[0.5, 1.0, 60]])  # the tie has nothing to continue: dropped


def test_segment_starts():
    assert segment_starts(4.0, 2.0) == [0.0, 2.0]
    assert segment_starts(4.01, 2.0) == [0.0, 2.0, 4.0]
    assert segment_starts(0.0, 2.0) == [0.0]
