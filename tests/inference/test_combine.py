"""Joining windows (pianox.inference.combine): overlap-added posteriors equal single-window ones
where windows agree and blend without seams where they do not; centre-cropped windows tile the
frames exactly; frames come out in order, each as soon as no later window can change it.
(Moved from tests/drums/test_sliding.py when overlap-add moved into the core.)"""

from __future__ import annotations

import numpy as np
import pytest

from pianox.inference.combine import CentreCrop, OverlapAdd, taper
from pianox.inference.stream import Windowing


def _windowed(predict, x: np.ndarray, window: int, hop: int, kind=OverlapAdd, pad_last: bool = True):
    """Run `predict` over frame windows of (T, F) `x` as the pipeline does over audio windows
    (the last one zero-padded) and join its outputs; returns the joined arrays and the sizes of
    the finished parts returned after each window."""
    T = len(x)
    starts = Windowing(window, hop, pad_last).starts(T)
    combiner = kind(T, window)
    parts, sizes = None, []
    for k, s in enumerate(starts):
        batch = np.zeros((1, window, x.shape[1]), np.float32)
        batch[0, : min(window, T - s)] = x[s:s + window]
        outputs = predict(batch)
        done = combiner.add(s, [o[0] for o in outputs], min(window, T - s), starts[k + 1] if k + 1 < len(starts) else None)
        parts = [[] for _ in done] if parts is None else parts
        for acc, d in zip(parts, done):
            acc.append(d)
        sizes.append(len(done[0]))
    return [np.concatenate(p) for p in parts], sizes


def _frame_local(batch: np.ndarray):
    w = np.linspace(-1, 1, batch.shape[-1] * 3).reshape(batch.shape[-1], 3)
    return 1 / (1 + np.exp(-batch @ w)), np.tanh(batch[..., :2])


@pytest.mark.parametrize("kind", [OverlapAdd, CentreCrop])
@pytest.mark.parametrize("T, window, hop", [(1000, 128, 64), (1001, 100, 75), (250, 64, 64), (50, 128, 64),
                                            (129, 128, 1)])
def test_frame_local_predictions_are_unchanged_by_windowing(kind, T, window, hop):
    x = np.random.default_rng(T).standard_normal((T, 5)).astype(np.float32)
    (probs, extra), sizes = _windowed(_frame_local, x, window, hop, kind)
    ref_probs, ref_extra = _frame_local(x[None])
    assert probs.shape == (T, 3) and sum(sizes) == T
    np.testing.assert_allclose(probs, ref_probs[0], atol=1e-6)
    np.testing.assert_allclose(extra, ref_extra[0], atol=1e-6)


def test_window_starts_cover_the_audio():
    assert Windowing(128, 64).starts(50) == [0]
    starts = Windowing(128, 96, pad_last=False).starts(1000)
    assert starts[0] == 0 and starts[-1] == 1000 - 128 and np.all(np.diff(starts) <= 96)
    padded = Windowing(128, 96).starts(1000)
    assert padded[-1] + 128 >= 1000 > padded[-2] + 128 and np.all(np.diff(padded) == 96)
    assert Windowing(100, 100).starts(250) == [0, 100, 200]  # back to back, the last one padded
    aligned = Windowing(128, 96, pad_last=False, align=10).starts(1000)  # the last start on the frame grid
    assert aligned[:-1] == starts[:-1] and aligned[-1] == 880 and 1000 - 10 < aligned[-1] + 128 <= 1000 + 10
    with pytest.raises(ValueError, match="hop"):
        Windowing(10, 11)


def test_windows_that_disagree_blend_without_seams():
    """Each window adds its own constant: single-window regions keep it exactly, overlaps blend
    with small steps (a hard cut would jump by the full difference)."""
    offsets: dict[float, float] = {}

    def shifted(batch):
        out = []
        for w in batch:
            key = float(w[0, 0])
            offsets.setdefault(key, float(len(offsets)))  # window k adds k
            out.append(np.full((len(w), 1), offsets[key]))
        return [np.stack(out)]

    T, W, H = 400, 64, 32
    x = np.zeros((T, 1), np.float32)
    x[:, 0] = np.arange(T) + 1  # a window's first value identifies it
    (y,), _ = _windowed(shifted, x, W, H)
    starts = Windowing(W, H).starts(T)
    assert y[0, 0] == 0.0 and y[-1, 0] == pytest.approx(len(starts) - 1, abs=0.05)
    steps = np.abs(np.diff(y[:, 0]))
    assert steps.max() < 0.15  # windows differ by 1.0 each
    assert np.all(np.diff(y[:, 0]) >= -1e-9)  # monotone blend, no overshoot


def test_centre_crop_takes_each_frame_from_the_window_it_is_most_central_in():
    def which(batch):  # every frame says which window it came from
        return [np.full((1, batch.shape[1], 1), float(batch[0, 0, 0]))]

    T, W, H = 100, 20, 10
    x = np.zeros((T, 1), np.float32)
    x[:, 0] = np.arange(T)
    (y,), sizes = _windowed(which, x, W, H, CentreCrop)
    # window at s covers [s, s + 20); frames [s + 5, s + 15) are its centre
    assert y[0, 0] == 0 and y[14, 0] == 0 and y[15, 0] == 10 and y[24, 0] == 10 and y[25, 0] == 20
    assert sizes[0] == 15 and all(n == 10 for n in sizes[1:-1])  # finished frames leave as soon as final


def test_taper_is_positive_and_symmetric():
    w = taper(64)
    assert w.min() > 0 and np.allclose(w, w[::-1])


def test_frames_no_window_gives_repeat_the_frame_before():
    """A framing that loses frames at a window's end (Kaldi with snip_edges) never leaves holes."""
    crop = CentreCrop(30, 10)
    first = crop.add(0, [np.arange(8, dtype=np.float32)[:, None]], 8, 10)[0]  # 8 of its 10 frames
    assert first[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 7, 7]


@pytest.mark.parametrize("kind", ["kaldi", "mel"])
def test_cropped_windows_join_into_the_frames_of_each_window(kind):
    """Back-to-back windows joined by the crop combiner give, at every frame, the features of
    the window that frame belongs to — also with framing that is not centred (Kaldi's
    snip_edges), whose windows hold more samples than frames x hop."""
    import torch

    from pianox.features.plugins import KaldiFeatures, MelFeatures
    from pianox.inference.pipeline import Plan, collect
    from pianox.inference.stream import array_windows, frame_windowing

    features = KaldiFeatures() if kind == "kaldi" else MelFeatures()
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(16000 * 5 + 777)).astype(np.float32)
    windowing = frame_windowing(features, 100, 100)
    plan = Plan(lambda feats, frames, mask: {"x": feats}, "crop", batch_size=3)
    joined = collect(array_windows(y, windowing), features, plan)["x"]
    per_frame = int(features.sample_rate // features.frame_rate)
    for start_frame in (0, 100, 200, 300):
        a = start_frame * per_frame
        own = np.asarray(features(torch.from_numpy(y[a:a + windowing.window]).unsqueeze(0))[0])
        np.testing.assert_allclose(joined[start_frame:start_frame + 100], own[:100], rtol=1e-5, atol=1e-5)
