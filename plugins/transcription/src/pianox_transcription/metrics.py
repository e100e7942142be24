"""Transcription metrics through mir_eval, per piece and averaged.

Notes are `(N, 4)` (onset s, offset s, MIDI pitch, velocity). For each piece:

    onset_{precision,recall,f1}   note onsets within 50 ms, pitch equal (offsets ignored)
    onset_offset_f1               and offsets within max(50 ms, 20% of the note's length)
    onset_offset_velocity_f1      and velocities within 10% after mir_eval's rescaling
    frame_{precision,recall,f1}   frame-level multi-pitch at `frame_rate` (mir_eval.multipitch)

`mean_metrics` averages the per-piece values (the MAESTRO / Onsets-and-Frames convention).
`note_f1` is the onset (or onset+offset) F1 alone, matched pitch by pitch: the same number,
fast enough to score the hundreds of decodings a threshold search makes (thresholds.py).
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np

ONSET_TOLERANCE = 0.05
OFFSET_RATIO = 0.2


def _intervals(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import mir_eval

    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    iv = notes[:, :2].copy()
    iv[:, 1] = np.maximum(iv[:, 1], iv[:, 0] + 1e-3)  # mir_eval wants positive durations
    return iv, mir_eval.util.midi_to_hz(notes[:, 2]), notes[:, 3]


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def frame_roll(notes: np.ndarray, num_frames: int, frame_rate: float) -> np.ndarray:
    """(T, 128) bool piano roll: note i sounds in frame j when round(on*fr) <= j < round(off*fr)."""
    roll = np.zeros((num_frames, 128), dtype=bool)
    for on, off, pitch, _ in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        a, b = int(round(on * frame_rate)), max(int(round(off * frame_rate)), int(round(on * frame_rate)) + 1)
        roll[max(a, 0):max(min(b, num_frames), 0), int(pitch)] = True
    return roll


def note_metrics(reference: np.ndarray, estimate: np.ndarray, frame_rate: float = 100.0) -> dict[str, float]:
    """The module's metrics for one piece (reference and estimated `(N, 4)` notes)."""
    import mir_eval

    ref_iv, ref_hz, ref_vel = _intervals(reference)
    est_iv, est_hz, est_vel = _intervals(estimate)
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns on empty note lists
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=ONSET_TOLERANCE, offset_ratio=None)
        out.update(onset_precision=p, onset_recall=r, onset_f1=f)
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=ONSET_TOLERANCE, offset_ratio=OFFSET_RATIO)
        out.update(onset_offset_precision=p, onset_offset_recall=r, onset_offset_f1=f)
        if len(ref_iv) and len(est_iv):
            p, r, f, _ = mir_eval.transcription_velocity.precision_recall_f1_overlap(
                ref_iv, ref_hz, ref_vel, est_iv, est_hz, est_vel, onset_tolerance=ONSET_TOLERANCE,
                offset_ratio=OFFSET_RATIO)
        else:
            p = r = f = 0.0
        out["onset_offset_velocity_f1"] = f
        end = max([0.0] + [float(np.max(x[:, 1])) for x in (ref_iv, est_iv) if len(x)])
        num_frames = int(round(end * frame_rate)) + 1
        times = np.arange(num_frames) / frame_rate
        ref_roll = frame_roll(reference, num_frames, frame_rate)
        est_roll = frame_roll(estimate, num_frames, frame_rate)
        ref_freqs = [mir_eval.util.midi_to_hz(np.flatnonzero(row)) for row in ref_roll]
        est_freqs = [mir_eval.util.midi_to_hz(np.flatnonzero(row)) for row in est_roll]
        scores = mir_eval.multipitch.evaluate(times, ref_freqs, times, est_freqs)
    out["frame_precision"] = float(scores["Precision"])
    out["frame_recall"] = float(scores["Recall"])
    out["frame_f1"] = _f1(out["frame_precision"], out["frame_recall"])
    return {k: float(v) for k, v in out.items()}


def note_f1(reference: np.ndarray, estimate: np.ndarray, offset_ratio: float | None = None) -> float:
    """`onset_f1` of `note_metrics` (with `offset_ratio` = OFFSET_RATIO: `onset_offset_f1`) of
    one piece's reference and estimated `(N, 4)` notes. Notes of different pitches never match,
    so mir_eval's maximum matching splits into one matching per pitch; their sizes add up to
    the same count, at a fraction of the cost of one N x M matching (~100x on a 5000-note piece)."""
    import mir_eval

    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 4)
    estimate = np.asarray(estimate, dtype=np.float64).reshape(-1, 4)
    if not len(reference) or not len(estimate):
        return 0.0  # as mir_eval scores an empty side
    ref_iv, ref_hz, _ = _intervals(reference)
    est_iv, est_hz, _ = _intervals(estimate)
    ref_p, est_p = np.rint(reference[:, 2]), np.rint(estimate[:, 2])
    matched = 0
    for pitch in np.intersect1d(ref_p, est_p):
        a, b = ref_p == pitch, est_p == pitch
        matched += len(mir_eval.transcription.match_notes(ref_iv[a], ref_hz[a], est_iv[b], est_hz[b],
                                                          onset_tolerance=ONSET_TOLERANCE,
                                                          offset_ratio=offset_ratio))
    return float(mir_eval.util.f_measure(matched / len(estimate), matched / len(reference)))


def mean_metrics(per_piece: Mapping[str, Mapping[str, float]] | Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over pieces (empty input: {})."""
    rows = list(per_piece.values()) if isinstance(per_piece, Mapping) else list(per_piece)
    if not rows:
        return {}
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
