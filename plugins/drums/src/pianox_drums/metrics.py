"""Onset scores per drum class: mir_eval matching, micro/macro F1, bootstrap CIs, confusions.

A hit is correct when it matches a reference hit of its class within `window` seconds (50 ms,
mir_eval.onset's default), one-to-one (mir_eval's maximum matching). Per clip and class we keep
counts (true positives, reference hits, estimated hits); summing counts over clips gives the
per-class F1 of a collection (equal to `mir_eval.onset.f_measure` on one clip), the micro F1
(counts summed over classes too) and the macro F1 (mean of the per-class F1 of the classes
that have reference hits: a class absent from the reference has no recall to measure).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from mir_eval.util import match_events

WINDOW = 0.05
"""Onset tolerance in seconds."""


def _time_class(hits: np.ndarray) -> np.ndarray:
    """(N, 2) [time s, class] columns of a hit array (N, >= 2), also for empty input."""
    return np.asarray(hits, dtype=np.float64).reshape(len(hits), -1)[:, :2] if len(hits) else np.zeros((0, 2))


def _times(hits: np.ndarray, cls: int) -> np.ndarray:
    h = _time_class(hits)
    return np.sort(h[h[:, 1] == cls, 0])


def clip_counts(reference: np.ndarray, estimate: np.ndarray, num_classes: int,
                window: float = WINDOW) -> np.ndarray:
    """(C, 3) int64 [true positives, reference hits, estimated hits] of one clip.

    `reference` and `estimate` are hit arrays (N, >= 2): time s, class index, ...
    """
    out = np.zeros((num_classes, 3), np.int64)
    for c in range(num_classes):
        ref, est = _times(reference, c), _times(estimate, c)
        tp = len(match_events(ref, est, window)) if len(ref) and len(est) else 0
        out[c] = (tp, len(ref), len(est))
    return out


def _f1(tp: np.ndarray, n_ref: np.ndarray, n_est: np.ndarray) -> np.ndarray:
    denom = n_ref + n_est
    return np.where(denom > 0, 2.0 * tp / np.maximum(denom, 1), 0.0)


def scores(counts: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Scores from (K clips, C, 3) or (C, 3) counts: f1/precision/recall per class (NaN for a
    class without reference hits), `f1_micro`, `f1_macro`, `precision_micro`, `recall_micro`."""
    total = np.asarray(counts).reshape(-1, len(names), 3).sum(axis=0).astype(np.float64)
    tp, n_ref, n_est = total.T
    out: dict[str, float] = {}
    present = n_ref > 0
    f1 = _f1(tp, n_ref, n_est)
    for c, name in enumerate(names):
        out[f"f1_{name}"] = float(f1[c]) if present[c] else float("nan")
        out[f"precision_{name}"] = float(tp[c] / n_est[c]) if n_est[c] else float("nan")
        out[f"recall_{name}"] = float(tp[c] / n_ref[c]) if present[c] else float("nan")
    out["f1_micro"] = float(_f1(tp.sum(), n_ref.sum(), n_est.sum()))
    out["precision_micro"] = float(tp.sum() / n_est.sum()) if n_est.sum() else 0.0
    out["recall_micro"] = float(tp.sum() / n_ref.sum()) if n_ref.sum() else 0.0
    out["f1_macro"] = float(f1[present].mean()) if present.any() else float("nan")
    return out


def macro_f1(counts: np.ndarray, classes: Sequence[int] | None = None) -> float:
    """Macro F1 of summed (K, C, 3) counts over `classes` (default: those with reference hits)."""
    tp, n_ref, n_est = np.asarray(counts).sum(axis=0).astype(np.float64).T
    keep = np.flatnonzero(n_ref > 0) if classes is None else np.asarray(classes)
    return float(_f1(tp[keep], n_ref[keep], n_est[keep]).mean()) if len(keep) else float("nan")


def bootstrap_ci(counts: np.ndarray, statistic: str = "f1_macro", resamples: int = 1000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of a statistic over clips (`pianox.stats`, scipy.stats.bootstrap):
    clips are drawn with replacement from (K, C, 3) counts. `statistic` is "f1_macro" (mean over
    the classes with reference hits in the full set that also have some in the resample),
    "f1_micro" or "f1_<class index>" (over the resamples holding reference hits of that class)."""
    from pianox.stats import bootstrap_distribution, percentile_interval

    counts = np.asarray(counts, dtype=np.float64)
    K = counts.shape[0]
    if K == 0 or resamples < 1:
        return float("nan"), float("nan")
    if statistic not in ("f1_macro", "f1_micro") and not (statistic.startswith("f1_") and statistic[3:].isdigit()):
        raise ValueError(f"unknown bootstrap statistic {statistic!r}")
    present = np.flatnonzero(counts[:, :, 1].sum(axis=0) > 0)

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        summed = counts[idx.astype(np.int64)].sum(axis=-3)  # (..., C, 3) counts of each resample
        tp, n_ref, n_est = summed[..., 0], summed[..., 1], summed[..., 2]
        # A resample without reference hits of a class has no F1 for it (NaN, left out), not 0.
        per_class = np.where(n_ref > 0, _f1(tp, n_ref, n_est), np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of a rare class
            if statistic == "f1_macro":
                return np.nanmean(per_class[..., present], axis=-1)
            if statistic == "f1_micro":
                return _f1(tp.sum(-1), n_ref.sum(-1), n_est.sum(-1))
            return per_class[..., int(statistic[3:])]

    values = bootstrap_distribution((np.arange(K),), stat, n_resamples=resamples, seed=seed)
    lo, hi = percentile_interval(values, level)
    return float(lo), float(hi)


def confusion(reference: np.ndarray, estimate: np.ndarray, num_classes: int,
              window: float = WINDOW) -> np.ndarray:
    """(C + 1, C + 1) int64 confusion counts of one clip: rows = reference class, columns =
    estimated class, index C = none. Diagonal: correct hits. [a, b]: a reference hit of class a
    and an estimated hit of class b != a within `window` (matched in time, wrong class), each
    left unmatched by its own class. [a, C]: missed; [C, b]: spurious."""
    C = num_classes
    out = np.zeros((C + 1, C + 1), np.int64)
    ref, est = _time_class(reference), _time_class(estimate)
    ref_left = np.ones(len(ref), bool)
    est_left = np.ones(len(est), bool)
    for c in range(C):
        ri, ei = np.flatnonzero(ref[:, 1] == c), np.flatnonzero(est[:, 1] == c)
        if len(ri) and len(ei):
            for a, b in match_events(ref[ri, 0], est[ei, 0], window):
                ref_left[ri[a]] = est_left[ei[b]] = False
                out[c, c] += 1
    ri, ei = np.flatnonzero(ref_left), np.flatnonzero(est_left)
    if len(ri) and len(ei):
        # Cross-class matching: same-class leftovers cannot be within the window of each other
        # (they would have matched above), so every pair found here is a class confusion.
        for a, b in match_events(ref[ri, 0], est[ei, 0], window):
            rc, ec = int(ref[ri[a], 1]), int(est[ei[b], 1])
            ref_left[ri[a]] = est_left[ei[b]] = False
            out[rc, ec] += 1
    for r in np.flatnonzero(ref_left):
        out[int(ref[r, 1]), C] += 1
    for e in np.flatnonzero(est_left):
        out[C, int(est[e, 1])] += 1
    return out
