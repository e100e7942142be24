"""Segments tile the piece's frame grid (finding 5 of the evaluation issue): with Kaldi's
snip_edges framing a 2 s segment had 198 frames laid 200 frames apart, so an onset in the last
20 ms of any segment could never be detected, in evaluation or in `pianox transcribe`."""

from __future__ import annotations

import numpy as np
import pytest

from pianox.errors import ConfigError
from pianox.features.plugins import KaldiFeatures, MelFeatures
from pianox_transcription.frames import note_rolls
from pianox_transcription.pieces import Pieces
from pianox_transcription.task import TranscriptionTask, check_tiling

SEGMENT = 2.0


def _score_ideal(features) -> dict[str, float]:
    """Lay two segments' perfect posteriors (the targets) end to end as evaluation does, with
    each segment as many frames as the features give, and score the whole piece."""
    task = TranscriptionTask(TranscriptionTask.Config(head="frames", segment_seconds=SEGMENT))
    task.frame_rate = features.frame_rate
    # (onset, offset, pitch, velocity) in piece seconds; two onsets in the last 20 ms of segment 0
    piece = np.array([[0.50, 0.90, 60, 80], [1.985, 2.40, 64, 70], [1.992, 2.30, 67, 90],
                      [3.20, 3.60, 72, 60]])
    frames = features.num_frames(int(SEGMENT * features.sample_rate))
    pieces = Pieces(features.frame_rate)
    for k in range(2):
        local = piece.copy()
        local[:, :2] -= k * SEGMENT
        rolls = note_rolls(local, int(round(SEGMENT * features.frame_rate)), features.frame_rate)
        pieces.add(f"piece@{k * SEGMENT}", SEGMENT, local, posteriors=rolls[:, :frames])
    return pieces.score(lambda p: pieces.frame_notes(p, task.frames_to_notes))[1]


def test_an_onset_in_the_last_20_ms_of_a_segment_is_detected():
    centred = KaldiFeatures(KaldiFeatures.Config(snip_edges=False))
    check_tiling(centred, SEGMENT)
    assert centred.num_frames(32000) == 200
    assert _score_ideal(centred)["onset_f1"] == pytest.approx(1.0)


def test_snip_edges_framing_misses_them_and_is_refused():
    snipped = KaldiFeatures()  # AST's default framing: 198 frames per 2 s
    assert _score_ideal(snipped)["onset_f1"] < 1.0
    with pytest.raises(ConfigError, match="snip_edges = false"):
        check_tiling(snipped, SEGMENT)
    check_tiling(MelFeatures(MelFeatures.Config(hop_length=160)), SEGMENT)  # centred by default
