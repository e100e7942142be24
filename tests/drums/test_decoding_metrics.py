"""Peak picking into hits, threshold tuning, onset scores, bootstrap CIs and confusions."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from pianox_drums.decoding import THRESHOLD_GRID, posteriors_to_hits, tune_thresholds
from pianox_drums.metrics import bootstrap_ci, clip_counts, confusion, macro_f1, scores

RATE = 100.0


def _bump(T: int, frames, heights, width: float = 1.5) -> np.ndarray:
    t = np.arange(T)[:, None]
    out = np.zeros(T)
    for f, h in zip(frames, heights):
        out = np.maximum(out, h * np.exp(-0.5 * ((t[:, 0] - f) / width) ** 2))
    return out


def test_posteriors_to_hits_reads_times_velocities_and_confidences():
    probs = np.zeros((100, 2), np.float32)
    probs[:, 0] = _bump(100, [10, 40], [0.9, 0.3])
    probs[:, 1] = _bump(100, [70], [0.6])
    vel = np.full((100, 2), 0.5, np.float32)
    vel[10, 0] = 1.0
    hits = posteriors_to_hits(probs, vel, RATE, np.array([0.5, 0.5]), min_distance=2)
    np.testing.assert_allclose(hits, [[0.10, 0, 127, 0.9], [0.70, 1, 64, 0.6]], atol=1e-6)
    assert len(posteriors_to_hits(probs, None, RATE, 0.2)) == 3
    assert posteriors_to_hits(probs, None, RATE, 0.95).shape == (0, 4)


def _synthetic_clips(seed: int = 0):
    """Class 0: true onsets peak at 0.55-0.75, spurious bumps at 0.45-0.52, so F1 peaks for a
    threshold in (0.5, 0.55]; class 1: true peaks at 0.2-0.3 and nothing else (best: <= 0.2)."""
    rng = np.random.default_rng(seed)
    probs, refs = [], []
    for _ in range(6):
        true0 = np.sort(rng.choice(np.arange(10, 290, 12), 12, replace=False))
        false0 = true0[:5] + 6
        true1 = np.arange(20, 280, 40)
        p = np.zeros((300, 2))
        p[:, 0] = np.maximum(_bump(300, true0, rng.uniform(0.55, 0.75, len(true0))),
                             _bump(300, false0, rng.uniform(0.45, 0.52, len(false0))))
        p[:, 1] = _bump(300, true1, rng.uniform(0.2, 0.3, len(true1)))
        probs.append(p.astype(np.float32))
        refs.append(np.concatenate([np.stack([true0 / RATE, np.zeros(len(true0)), np.full(len(true0), 90.0)], 1),
                                    np.stack([true1 / RATE, np.ones(len(true1)), np.full(len(true1), 90.0)], 1)]))
    return probs, refs


def test_threshold_tuning_picks_the_f1_optimal_threshold():
    probs, refs = _synthetic_clips()
    thresholds, best = tune_thresholds(probs, refs, RATE, min_distance=2)
    assert 0.5 < thresholds[0] <= 0.55 and best[0] == pytest.approx(1.0)
    assert thresholds[1] <= 0.2 and best[1] == pytest.approx(1.0)
    # brute force: no grid value beats the chosen one for either class
    for c in range(2):
        for value in THRESHOLD_GRID:
            total = sum(clip_counts(r, posteriors_to_hits(p, None, RATE, value, 2), 2)[c] for p, r in zip(probs, refs))
            f1 = 2 * total[0] / (total[1] + total[2])
            assert f1 <= best[c] + 1e-12


def test_threshold_tuning_keeps_the_default_for_absent_classes():
    probs = [np.zeros((50, 3), np.float32)]
    probs[0][20, 0] = 0.8
    thresholds, best = tune_thresholds(probs, [np.array([[0.2, 0, 100.0]])], RATE)
    assert thresholds[1] == thresholds[2] == 0.5 and np.isnan(best[1:]).all()
    assert best[0] == 1.0


def test_clip_counts_match_mir_eval_onset_f_measure():
    rng = np.random.default_rng(3)
    ref = np.sort(rng.uniform(0, 10, 40))
    est = np.sort(np.concatenate([ref[:30] + rng.normal(0, 0.03, 30), rng.uniform(0, 10, 8)]))
    counts = clip_counts(np.stack([ref, np.zeros(40)], 1), np.stack([est, np.zeros(len(est))], 1), 1)
    tp, n_ref, n_est = counts[0]
    f, p, r = mir_eval.onset.f_measure(ref, est, window=0.05)
    assert (n_ref, n_est) == (40, 38)
    assert 2 * tp / (n_ref + n_est) == pytest.approx(f) and tp / n_est == pytest.approx(p)
    assert tp / n_ref == pytest.approx(r) and 0 < tp < 38


def test_scores_micro_macro_and_absent_classes():
    counts = np.array([[[8, 10, 10], [1, 2, 4], [0, 0, 3]],
                       [[2, 2, 2], [1, 2, 0], [0, 0, 0]]])  # (clips, classes, [tp, ref, est])
    s = scores(counts, ["a", "b", "c"])
    assert s["f1_a"] == pytest.approx(20 / 24) and s["f1_b"] == pytest.approx(4 / 8)
    assert np.isnan(s["f1_c"]) and s["precision_c"] == 0.0
    assert s["f1_macro"] == pytest.approx((20 / 24 + 0.5) / 2) == macro_f1(counts)
    assert s["f1_micro"] == pytest.approx(2 * 12 / (16 + 19))


def test_bootstrap_ci_brackets_the_estimate_and_shrinks_with_more_clips():
    rng = np.random.default_rng(0)

    def clips(k):
        tp = rng.integers(5, 10, size=(k, 2))
        return np.stack([tp, np.full((k, 2), 10), np.full((k, 2), 10)], axis=-1)

    small, large = clips(10), clips(200)
    lo, hi = bootstrap_ci(small, "f1_macro", 500)
    assert lo <= macro_f1(small) <= hi
    lo2, hi2 = bootstrap_ci(large, "f1_macro", 500)
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci(small, "f1_macro", 500) == (lo, hi)  # seeded
    c_lo, c_hi = bootstrap_ci(small, "f1_1", 500)
    assert c_lo <= scores(small, ["a", "b"])["f1_b"] <= c_hi


def test_bootstrap_ci_leaves_out_resamples_without_a_class():
    """Class 1 has hits in one clip of ten: resamples without that clip have no F1 for it."""
    counts = np.zeros((10, 2, 3), np.int64)
    counts[:, 0] = (9, 10, 10)
    counts[0, 1] = (7, 10, 10)
    assert bootstrap_ci(counts, "f1_1", 300) == pytest.approx((0.7, 0.7))
    lo, hi = bootstrap_ci(counts, "f1_macro", 300)
    assert 0.7 <= lo <= hi <= 0.9 and hi == pytest.approx(0.9)


def test_confusion_counts_wrong_class_misses_and_spurious_hits():
    ref = np.array([[1.00, 0], [2.00, 1], [3.00, 2], [4.00, 0]])
    est = np.array([[1.01, 0], [2.02, 2], [3.30, 2], [5.00, 1]])
    m = confusion(ref, est, 3)
    assert m[0, 0] == 1  # correct kick
    assert m[1, 2] == 1  # snare heard as class 2 (20 ms off)
    assert m[2, 3] == 1 and m[0, 3] == 1  # missed (300 ms is out of the window)
    assert m[3, 2] == 1 and m[3, 1] == 1  # spurious
    assert m.sum() == 6
