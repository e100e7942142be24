"""pianox's own FFT (mixed radix 8/4/2/3/5, Bluestein for other primes) against numpy.fft."""

from __future__ import annotations

import numpy as np
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from native import require_core

_core = require_core()

PRIMES = [7, 11, 13, 17, 31, 61, 97, 127, 251, 257, 509, 1021, 2039, 4093]
SPECIAL = [256, 400, 441, 512, 1000, 1024, 1536, 2000, 2048, 2205, 3000, 3072, 4000, 4095, 4096]
SIZES = sorted(set(range(1, 200)) | set(PRIMES) | set(SPECIAL))


@pytest.fixture(params=_core.available_isas())
def isa(request):
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa("")


def _relative_error(ours: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(ours - exact).max() / max(np.abs(exact).max(), 1e-30))


def test_rfft_matches_numpy_over_sizes(isa):
    rng = np.random.default_rng(1)
    worst = {}
    for n in SIZES:
        x = rng.standard_normal((3, n)).astype(np.float32)
        ours = _core.rfft(x)
        assert ours.shape == (3, n // 2 + 1) and ours.dtype == np.complex64
        worst[n] = _relative_error(ours, np.fft.rfft(x.astype(np.float64)))
    bad = {n: e for n, e in worst.items() if e > 2e-6}
    assert not bad, f"{isa}: rfft error above 2e-6 for sizes {bad}"


def test_complex_fft_matches_numpy_over_sizes(isa):
    rng = np.random.default_rng(2)
    for n in SIZES:
        x = (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))).astype(np.complex64)
        err = _relative_error(_core.fft(x), np.fft.fft(x.astype(np.complex128)))
        assert err < 2e-6, f"{isa}: fft({n}) relative error {err}"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4096), rows=st.integers(1, 37), seed=st.integers(0, 2**16))
def test_rfft_random_sizes_and_row_counts(n, rows, seed):
    x = np.random.default_rng(seed).standard_normal((rows, n)).astype(np.float32)
    assert _relative_error(_core.rfft(x), np.fft.rfft(x.astype(np.float64))) < 2e-6


def test_known_transforms():
    n = 12
    impulse = np.zeros((1, n), np.float32)
    impulse[0, 0] = 1.0
    np.testing.assert_allclose(_core.rfft(impulse), np.ones((1, n // 2 + 1)), atol=1e-7)
    k = 3
    cosine = np.cos(2 * np.pi * k * np.arange(n) / n).astype(np.float32)[None]
    expected = np.zeros((1, n // 2 + 1), np.complex64)
    expected[0, k] = n / 2
    np.testing.assert_allclose(_core.rfft(cosine), expected, atol=1e-5)


def test_threads_do_not_change_results():
    x = np.random.default_rng(3).standard_normal((53, 1000)).astype(np.float32)
    np.testing.assert_array_equal(_core.rfft(x, threads=1), _core.rfft(x, threads=3))
