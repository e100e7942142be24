"""Ground truth for notation: performed excerpts of catalogue works that know their score.

`performed_excerpt` plays the first bars of a work of pianox-synth's score catalogue (about
`seconds` long) with the synthetic pianist of `pianox_synth.perform` and returns the played
notes with, for each, the written onset and duration in quarter notes from the excerpt's
first barline, its hand, and the excerpt's written time signature and key signature
(music21's parse of the work). A performance keeps each pitch's notes in score order, so the
played notes are matched back to the written ones pitch by pitch, in order.

Hands: a keyboard work's first part is the right hand; a work of n > 2 parts (chorales,
quartets played as reductions) gives its upper ceil(n / 2) parts (soprano and alto, the two
violins) to the right hand and the rest to the left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Excerpt:
    """A performed excerpt and its score (times from the excerpt's first barline)."""

    slug: str
    notes: np.ndarray        # (N, 4) played: onset s, key-release offset s, pitch, velocity
    pedal: np.ndarray        # (K, 2) sustain pedal down, up (s)
    onset_ql: np.ndarray     # (N,) written onset, quarter notes
    duration_ql: np.ndarray  # (N,) written duration, quarter notes
    hand: np.ndarray         # (N,) 0 right hand (upper staff), 1 left hand
    bar_starts: np.ndarray   # (M + 1,) barlines, quarter notes
    qpm: float               # played quarter notes per minute (least squares over the notes)
    time_signature: str      # e.g. "3/4"
    fifths: int              # written key signature, sharps > 0 > flats


def _signatures(corpus_path: str, offset: float) -> tuple[str, int]:
    """Time signature and key signature (fifths) in force at `offset` ql of a corpus work."""
    from music21 import corpus

    part = corpus.parse(corpus_path).parts[0].flatten()

    def last(cls: str):
        found = [e for e in part.getElementsByClass(cls) if float(e.offset) <= offset + 1e-9]
        return found[-1] if found else None

    ts, ks = last("TimeSignature"), last("KeySignature")
    return (ts.ratioString if ts is not None else "4/4"), (int(ks.sharps) if ks is not None else 0)


def performed_excerpt(work, seed: int, seconds: float = 30.0, first_bar: int = 0) -> Excerpt:
    """Perform about `seconds` of `work` (a `pianox_synth.scores.Work`) from `first_bar` with
    the default synthetic pianist at a tempo drawn from 0.9-1.1 x the work's (seeded)."""
    from pianox_synth.scores import load_score

    score = load_score(work)
    lo = float(score.measure_starts[min(first_bar, score.num_bars - 1)])
    time_signature, fifths = _signatures(work.corpus_path, lo)
    return perform_score(score, seed, time_signature, fifths, seconds, first_bar)


def perform_score(score, seed: int, time_signature: str, fifths: int, seconds: float = 30.0,
                  first_bar: int = 0) -> Excerpt:
    """`performed_excerpt` of a `pianox_synth.scores.Score` whose time signature and key
    signature (fifths) are given."""
    from pianox_synth.perform import PerformanceParams, bars_for_seconds, perform

    rng = np.random.default_rng(seed)
    params = PerformanceParams(tempo=float(rng.uniform(0.9, 1.1)))
    bars = bars_for_seconds(score, first_bar, seconds, params.tempo)
    perf = perform(score, params, rng, first_bar, bars)
    ms = score.measure_starts
    lo, hi = ms[perf.bars[0]], ms[perf.bars[0] + perf.bars[1]]
    keep = (score.onset >= lo) & (score.onset < hi)
    onset, pitch = score.onset[keep] - lo, score.pitch[keep]
    duration = np.minimum(score.duration[keep], hi - score.onset[keep])
    parts = int(score.part.max()) + 1
    hand = (score.part[keep] >= (parts + 1) // 2).astype(np.int64)
    notes = perf.notes
    n = len(notes)
    onset_ql, dur_ql, hands = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    for p in np.unique(notes[:, 2]):
        played = np.flatnonzero(notes[:, 2] == p)
        written = np.flatnonzero(pitch == p)
        written = written[np.lexsort((hand[written], onset[written]))]
        if len(played) != len(written):
            raise ValueError(f"{score.work.slug}: pitch {int(p)} played {len(played)} times, written {len(written)}")
        onset_ql[played], dur_ql[played], hands[played] = onset[written], duration[written], hand[written]
    slope, _ = np.polyfit(onset_ql, notes[:, 0], 1)
    return Excerpt(slug=score.work.slug, notes=notes, pedal=perf.pedal, onset_ql=onset_ql, duration_ql=dur_ql,
                   hand=hands, bar_starts=ms[perf.bars[0]:perf.bars[0] + perf.bars[1] + 1] - lo,
                   qpm=float(60.0 / slope), time_signature=time_signature, fifths=fifths)
