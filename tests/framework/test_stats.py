"""pianox.stats: the scipy.stats resampling every task's quality figures use."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pianox.stats import bootstrap_distribution, percentile_interval, sign_flip_test


def test_bootstrap_of_a_mean_matches_the_normal_interval_and_is_seeded():
    x = np.random.default_rng(0).normal(3.0, 1.0, 400)
    values = bootstrap_distribution((x,), lambda a, axis=-1: a.mean(axis=-1), n_resamples=2000, seed=1)
    assert values.shape == (2000,)
    lo, hi = percentile_interval(values)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.3 * se) and hi == pytest.approx(x.mean() + 1.96 * se, abs=0.3 * se)
    again = bootstrap_distribution((x,), lambda a, axis=-1: a.mean(axis=-1), n_resamples=2000, seed=1)
    np.testing.assert_array_equal(values, again)


def test_paired_rows_stay_together_and_undefined_resamples_are_left_out():
    a = np.arange(30.0)
    got = bootstrap_distribution((a, 2 * a), lambda x, y, axis=-1: (y - 2 * x).max(axis=-1), n_resamples=200)
    assert np.all(got == 0)  # row i of both arrays was drawn together every time
    one = bootstrap_distribution((np.array([[1.0, 2.0]]),), lambda x, axis=-1: x.sum(axis=-1), n_resamples=5)
    np.testing.assert_array_equal(one, np.full((2, 5), [[1.0], [2.0]]))  # one row: every resample is that row
    values = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4])
    lo, hi = percentile_interval(values, 0.5)
    assert lo[0] == pytest.approx(1.5) and hi[0] == pytest.approx(2.5) and np.isnan(lo[1])


def test_sign_flip_test_is_exact_for_few_pairs():
    d = np.array([0.5, 1.0, 1.5, 2.0, -0.25])
    means = [abs(np.mean(np.array(s) * d)) for s in itertools.product([-1, 1], repeat=len(d))]
    exact = np.mean(np.array(means) >= abs(d.mean()) - 1e-12)
    assert sign_flip_test(d) == pytest.approx(exact)
    assert sign_flip_test(np.zeros(8)) == 1.0
