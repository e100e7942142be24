"""Per-dimension metrics over clips, bootstrap confidence intervals and paired tests.

Inputs are (N, K) arrays: N clips (the resampling unit) by K dimensions, ratings in [0, 1].

    pearson      Pearson's r per dimension (scipy.stats.pearsonr's value; NaN for a constant)
    r2_score     the coefficient of determination per dimension, as sklearn.metrics.r2_score
                 with multioutput="raw_values" computes it (what PercePiano reports)
    bootstrap_ci percentile intervals from resampling clips with replacement
    permutation_test      paired sign-flip permutation test on per-clip losses of two models
    paired_bootstrap      the same comparison as a bootstrap of the difference of a statistic

Resampling is scipy.stats' (bootstrap, permutation_test) through `pianox.stats`; all randomness
comes from `numpy.random.default_rng(seed)`, so results are reproducible.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

Stat = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(..., N, K) predictions, (..., N, K) targets -> (..., K) values."""


def pearson(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation per dimension over the clip axis: (..., N, K) x2 -> (..., K).

    NaN where either side is constant (scipy warns and returns NaN there too)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    p = p - p.mean(axis=-2, keepdims=True)
    t = t - t.mean(axis=-2, keepdims=True)
    num = (p * t).sum(axis=-2)
    den = np.sqrt((p * p).sum(axis=-2) * (t * t).sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r = np.where(den > 1e-12, r, np.nan)
    return np.clip(r, -1.0, 1.0)


def r2_score(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coefficient of determination per dimension, (..., N, K) x2 -> (..., K).

    1 - sum (y - y_hat)^2 / sum (y - mean y)^2, as sklearn's r2_score(target, pred,
    multioutput="raw_values"): a constant target scores 1.0 when predicted exactly, else 0.0.
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    ss_res = ((t - p) ** 2).sum(axis=-2)
    ss_tot = ((t - t.mean(axis=-2, keepdims=True)) ** 2).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    constant = ss_tot <= 1e-15
    return np.where(constant, np.where(ss_res <= 1e-15, 1.0, 0.0), r2)


def mse(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean squared error per dimension, (..., N, K) x2 -> (..., K)."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return (diff ** 2).mean(axis=-2)


METRICS: dict[str, Stat] = {"pearson": pearson, "r2": r2_score, "mse": mse}


def _clips_last(stat: Stat) -> Callable[..., np.ndarray]:
    """`stat` on scipy's resampled layout: (K, B, N) arrays (dimensions, resamples, clips) ->
    (B, K) values."""
    def wrapped(*arrays: np.ndarray, axis: int = -1) -> np.ndarray:
        return stat(*(np.moveaxis(a, 0, -1) for a in arrays))
    return wrapped


def bootstrap_ci(stat: Stat, pred: np.ndarray, target: np.ndarray, *, n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0, reduce: Callable[[np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of `stat` (or of `reduce(stat)`, e.g. the mean over
    dimensions) from resampling the N clips with replacement (scipy.stats.bootstrap): returns
    (low, high), each of the statistic's shape. Resamples where the statistic is undefined (NaN)
    are left out."""
    from pianox.stats import bootstrap_distribution, percentile_interval

    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    per_dim = _clips_last(stat)

    def statistic(p: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
        values = per_dim(p, t)  # (B, K)
        return np.moveaxis(values if reduce is None else reduce(values), 0, -1)  # resamples last, as scipy wants

    values = bootstrap_distribution((pred, target), statistic, n_resamples=n_boot, seed=seed)
    return percentile_interval(values, level)


def mean_over_dims(values: np.ndarray) -> np.ndarray:
    """Mean over the last (dimension) axis, ignoring undefined (NaN) dimensions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


def clip_losses(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-clip squared error averaged over dimensions: (N, K) x2 -> (N,)."""
    diff = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
    return (diff ** 2).mean(axis=1)


def permutation_test(loss_a: np.ndarray, loss_b: np.ndarray, *, n_perm: int = 10000, seed: int = 0
                     ) -> dict[str, float]:
    """Paired sign-flip permutation test of H0 "models A and B have the same expected per-clip
    loss" on (N,) losses of the same clips (scipy.stats.permutation_test): under H0 each clip's
    difference d = a - b is as likely to have either sign, so the observed mean d is ranked
    among means of randomly sign-flipped differences. Returns {"mean_diff": mean(a - b), "p":
    the two-sided p-value (never 0 for a randomised test)}."""
    from pianox.stats import sign_flip_test

    a, b = np.asarray(loss_a, np.float64), np.asarray(loss_b, np.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"permutation_test: expected two equal-length (N,) loss arrays, got {a.shape} "
                         f"and {b.shape}")
    d = a - b
    return {"mean_diff": float(d.mean()), "p": sign_flip_test(d, n_resamples=n_perm, seed=seed)}


def paired_bootstrap(stat: Stat, pred_a: np.ndarray, pred_b: np.ndarray, target: np.ndarray, *,
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Bootstrap of the difference mean_k stat(A) - mean_k stat(B) (e.g. mean Pearson), resampling
    the same clips for both models (scipy.stats.bootstrap, paired). Returns the observed
    difference, its percentile interval and `p_greater`: the share of resamples where A is not
    better than B (a one-sided p-value for "A > B")."""
    from pianox.stats import bootstrap_distribution, percentile_interval

    pred_a, pred_b, target = (np.asarray(x, np.float64) for x in (pred_a, pred_b, target))
    observed = float(mean_over_dims(stat(pred_a, target)) - mean_over_dims(stat(pred_b, target)))
    per_dim = _clips_last(stat)

    def difference(a: np.ndarray, b: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
        return mean_over_dims(per_dim(a, t)) - mean_over_dims(per_dim(b, t))

    diffs = bootstrap_distribution((pred_a, pred_b, target), difference, n_resamples=n_boot, seed=seed)
    diffs = diffs[np.isfinite(diffs)]
    low, high = percentile_interval(diffs, level)
    return {"diff": observed, "low": float(low), "high": float(high),
            "p_greater": float((1 + (diffs <= 0).sum()) / (len(diffs) + 1))}
