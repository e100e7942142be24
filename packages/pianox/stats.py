"""Resampling statistics for quality figures, through scipy.stats (one implementation for every task).

    bootstrap_distribution   the statistic over resamples of the clips (scipy.stats.bootstrap)
    percentile_interval      its percentile interval, leaving out resamples where it is undefined
    sign_flip_test           paired sign-flip permutation test (scipy.stats.permutation_test)

A resample in which a statistic is undefined (no reference hit of a class, a constant column) is
NaN and left out of the interval, rather than making the interval NaN. All randomness comes
from `numpy.random.default_rng(seed)`, so every figure is reproducible.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np


def bootstrap_distribution(data: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], *,
                           n_resamples: int = 1000, seed: int = 0, batch: int | None = 100) -> np.ndarray:
    """The values of `statistic` over `n_resamples` resamples of the rows (axis 0) of the arrays in
    `data`, resampled together (paired: row i of every array stays together).

    `statistic(*arrays, axis=-1)` receives scipy's layout — each array's other axes first, then
    a batch of resamples, then the rows: (K, B, N) for (N, K) data, (B, N) for (N,) data — and
    returns its values with the resamples last, (..., B). Returns (..., n_resamples)."""
    from scipy import stats

    arrays = tuple(np.asarray(d) for d in data)
    if len(arrays[0]) < 2:  # scipy refuses one row; every resample of one row is that row
        layout = [np.moveaxis(a, 0, -1)[..., None, :] for a in arrays]
        return np.repeat(np.asarray(statistic(*layout, axis=-1)), n_resamples, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's interval of a degenerate or NaN distribution: unused
        result = stats.bootstrap(arrays, statistic, n_resamples=n_resamples, batch=batch, vectorized=True,
                                 paired=True, axis=0, method="percentile",
                                 random_state=np.random.default_rng(seed))
    return np.asarray(result.bootstrap_distribution)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile interval of `values` over its last axis, ignoring NaN (all-NaN: NaN)."""
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.nanquantile(values, alpha, axis=-1), np.nanquantile(values, 1.0 - alpha, axis=-1))


def sign_flip_test(differences: np.ndarray, *, n_resamples: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of H0 "the paired differences are symmetric about 0" (each (N,) value is
    as likely to have either sign), ranking |mean| among means of randomly sign-flipped values
    (exact when 2**N <= n_resamples)."""
    from scipy import stats

    d = np.asarray(differences, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                                        vectorized=True, n_resamples=n_resamples, alternative="two-sided",
                                        random_state=np.random.default_rng(seed))
    return float(min(1.0, result.pvalue))
