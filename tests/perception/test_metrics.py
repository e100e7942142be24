"""Metrics against scipy/sklearn; bootstrap intervals; the paired tests' power and size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import r2_score as sk_r2

from pianox_perception.metrics import (bootstrap_ci, mean_over_dims, paired_bootstrap, pearson,
                                       permutation_test, r2_score)


def _data(n: int, k: int = 19, noise: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, (n, k))
    return target + rng.normal(0, noise, (n, k)), target


def test_pearson_matches_scipy_per_dimension():
    pred, target = _data(40, noise=0.3)
    ours = pearson(pred, target)
    ref = [pearsonr(pred[:, k], target[:, k])[0] for k in range(19)]
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    const = pred.copy()
    const[:, 3] = 0.5
    assert np.isnan(pearson(const, target)[3]) and np.isfinite(pearson(const, target)[2])


def test_r2_matches_sklearn_raw_values_including_constant_targets():
    pred, target = _data(30, noise=0.2, seed=1)
    np.testing.assert_allclose(r2_score(pred, target), sk_r2(target, pred, multioutput="raw_values"), rtol=1e-10)
    target[:, 0] = 0.5  # exactly representable: sklearn sees a zero denominator too
    pred[:, 1] = target[:, 1]
    target[:, 2] = 0.75
    pred[:, 2] = 0.75
    np.testing.assert_allclose(r2_score(pred, target), sk_r2(target, pred, multioutput="raw_values"), rtol=1e-10)
    assert r2_score(pred, target)[0] == 0.0 and r2_score(pred, target)[2] == 1.0


def test_batched_metrics_equal_per_resample_metrics():
    pred, target = _data(12, noise=0.3, seed=2)
    idx = np.random.default_rng(0).integers(0, 12, (5, 12))
    batched = pearson(pred[idx], target[idx])
    for b in range(5):
        np.testing.assert_allclose(batched[b], pearson(pred[idx[b]], target[idx[b]]))


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_n():
    widths = []
    for n in (20, 80, 320):
        pred, target = _data(n, noise=0.5, seed=n)
        point = mean_over_dims(pearson(pred, target))
        lo, hi = bootstrap_ci(pearson, pred, target, n_boot=500, seed=0, reduce=mean_over_dims)
        assert lo <= point <= hi
        per_lo, per_hi = bootstrap_ci(pearson, pred, target, n_boot=500, seed=0)
        r = pearson(pred, target)
        assert per_lo.shape == (19,) and np.all((per_lo <= r) & (r <= per_hi))
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] > 2.5  # about sqrt(16) = 4 in theory


def test_bootstrap_is_reproducible_with_a_seed():
    pred, target = _data(25, seed=3)
    a = bootstrap_ci(pearson, pred, target, n_boot=200, seed=7)
    b = bootstrap_ci(pearson, pred, target, n_boot=200, seed=7)
    np.testing.assert_array_equal(a[0], b[0])


def test_permutation_test_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(5)
    base = rng.gamma(2.0, 0.01, 60)
    better = base * 0.7 + rng.normal(0, 0.002, 60)  # consistently lower loss
    got = permutation_test(better, base, n_perm=4000, seed=0)
    assert got["p"] < 0.001 and got["mean_diff"] < 0
    nulls = [permutation_test(rng.gamma(2.0, 0.01, 60), rng.gamma(2.0, 0.01, 60), n_perm=1000, seed=s)["p"]
             for s in range(40)]
    assert np.mean(np.array(nulls) < 0.05) <= 0.15  # about 5% false positives
    assert permutation_test(base, base, n_perm=500)["p"] == 1.0


def test_paired_bootstrap_prefers_the_better_model():
    pred_good, target = _data(50, noise=0.1, seed=4)
    pred_bad = target + np.random.default_rng(9).normal(0, 0.4, target.shape)
    got = paired_bootstrap(pearson, pred_good, pred_bad, target, n_boot=500, seed=0)
    assert got["diff"] > 0.3 and got["low"] > 0 and got["p_greater"] < 0.01
    same = paired_bootstrap(pearson, pred_good, pred_good, target, n_boot=200, seed=0)
    assert same["diff"] == 0.0 and same["p_greater"] == 1.0


def test_permutation_test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="equal-length"):
        permutation_test(np.zeros(3), np.zeros((3, 2)))
