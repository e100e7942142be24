"""The compiled core's framing helper against a numpy reference (property-tested)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pianox import _core


def frames_reference(x: np.ndarray, length: int, shift: int, snip_edges: bool) -> np.ndarray:
    """Kaldi framing in numpy: snip_edges drops partial frames; otherwise frames are centred on
    t*shift + shift/2 and the signal is reflected (edge sample repeated) at both ends."""
    n = x.shape[-1]
    if snip_edges:
        count = 0 if n < length else 1 + (n - length) // shift
        starts = np.arange(count) * shift
    else:
        count = (n + shift // 2) // shift
        starts = np.arange(count) * shift + shift // 2 - length // 2
    idx = starts[:, None] + np.arange(length)[None, :]
    period = 2 * n
    idx = np.mod(idx, period)
    idx = np.where(idx >= n, period - 1 - idx, idx)
    return x[..., idx]


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 3), samples=st.integers(1, 900), length=st.integers(1, 400),
       shift=st.integers(1, 200), snip=st.booleans(), threads=st.integers(0, 4))
def test_frame_matches_reference(batch, samples, length, shift, snip, threads):
    x = np.random.default_rng(samples).standard_normal((batch, samples)).astype(np.float32)
    got = _core.frame(x, length, shift, snip, threads)
    want = frames_reference(x, length, shift, snip)
    assert got.shape == want.shape == (batch, _core.num_frames(samples, length, shift, snip), length)
    np.testing.assert_array_equal(got, want)


def test_thread_counts_agree():
    x = np.random.default_rng(0).standard_normal((4, 16000)).astype(np.float32)
    one = _core.frame(x, 400, 160, True, 1)
    for threads in (2, 3, 8):
        np.testing.assert_array_equal(_core.frame(x, 400, 160, True, threads), one)


def test_torch_tensors_are_accepted_zero_copy():
    torch = pytest.importorskip("torch")
    x = torch.arange(20, dtype=torch.float32).reshape(2, 10)
    np.testing.assert_array_equal(_core.frame(x, 4, 3), frames_reference(x.numpy(), 4, 3, True))


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 10), dtype=np.float64), "float32"),
    (np.zeros((2, 10), dtype=np.float32)[:, ::2], "C-contiguous"),
    (np.zeros((10,), dtype=np.float32), "2 dimensions"),
    (np.full((1, 10), np.nan, dtype=np.float32), "NaN or inf"),
    (np.zeros((1, 0), dtype=np.float32), "empty"),
])
def test_bad_input_is_a_clear_error(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        _core.frame(bad, 4, 2)
