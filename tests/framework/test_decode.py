"""Decoding posteriors: peak picking and Onsets-and-Frames note assembly (core vs reference)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pianox import _core
from pianox.decode import frames_to_notes, frames_to_notes_reference, pick_peaks, pick_peaks_reference


def test_pick_peaks_hand_case():
    post = np.zeros((10, 2), np.float32)
    post[[2, 3, 4], 0] = [0.6, 0.9, 0.7]      # one peak at 3
    post[[6, 7], 0] = [0.8, 0.8]              # plateau: first frame only
    post[[1, 3], 1] = [0.55, 0.4]             # 0.4 is below threshold
    frames, classes, values = pick_peaks(post, 0.5)
    assert frames.tolist() == [1, 3, 6] and classes.tolist() == [1, 0, 0]
    np.testing.assert_allclose(values, [0.55, 0.9, 0.8])


def test_min_distance_keeps_the_higher_peak_and_per_class_thresholds():
    post = np.zeros((12, 2), np.float32)
    post[[2, 4, 9], 0] = [0.7, 0.9, 0.6]
    post[[5], 1] = [0.6]
    frames, classes, _ = pick_peaks(post, np.array([0.5, 0.65]), min_distance=3)
    assert frames.tolist() == [4, 9] and classes.tolist() == [0, 0]


def test_frames_to_notes_hand_case():
    T, P = 12, 3
    on, fr, vel = (np.zeros((T, P), np.float32) for _ in range(3))
    on[1, 0], fr[1:5, 0], vel[1, 0] = 0.9, 0.8, 0.5          # note 1..5
    on[6, 0], fr[6:8, 0] = 0.9, 0.8                          # a second note, same pitch
    on[2, 2], on[3, 2], fr[2:10, 2] = 0.9, 0.9, 0.9          # long note; onset run counts once
    on[8, 2] = 0.9                                           # re-articulation splits it at 8
    on[10, 1] = 0.9                                          # onset without frames: 1 frame
    notes = frames_to_notes(on, fr, 100.0, velocities=vel)
    expected = [[0.01, 0.05, 21, 63.5], [0.02, 0.08, 23, 0.0], [0.06, 0.08, 21, 0.0],
                [0.08, 0.10, 23, 0.0], [0.10, 0.11, 22, 0.0]]
    np.testing.assert_allclose(notes, expected, atol=1e-9)
    assert len(frames_to_notes(on, fr, 100.0, min_frames=2)) == 4
    off = np.zeros((T, P), np.float32)
    off[3, 0] = 0.9
    ended = frames_to_notes(on, fr, 100.0, offsets=off)
    assert ended[0].tolist() == [0.01, 0.03, 21, 100.0]


@settings(max_examples=80, deadline=None)
@given(post=arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 5)),
                   elements=st.sampled_from([0.0, 0.2, 0.5, 0.55, 0.7, 0.7, 0.9, 1.0])),
       threshold=st.sampled_from([0.3, 0.5, 0.6]), min_distance=st.integers(1, 5))
def test_core_pick_peaks_matches_reference(post, threshold, min_distance):
    got = _core.pick_peaks(post, np.full(post.shape[1], threshold, np.float32), min_distance)
    want = pick_peaks_reference(post, threshold, min_distance)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), T=st.integers(1, 30), P=st.integers(1, 4), min_frames=st.integers(1, 3),
       with_off=st.booleans(), with_vel=st.booleans())
def test_core_frames_to_notes_matches_reference(data, T, P, min_frames, with_off, with_vel):
    values = st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0])
    grid = [np.array(data.draw(st.lists(values, min_size=T * P, max_size=T * P)), np.float32).reshape(T, P)
            for _ in range(4)]
    kw = dict(offsets=grid[2] if with_off else None, velocities=grid[3] if with_vel else None, min_frames=min_frames)
    np.testing.assert_array_equal(frames_to_notes(grid[0], grid[1], 50.0, **kw),
                                  frames_to_notes_reference(grid[0], grid[1], 50.0, **kw))


@pytest.mark.parametrize("call,match", [
    (lambda: pick_peaks(np.zeros(5, np.float32)), r"must be \(T, C\)"),
    (lambda: pick_peaks(np.full((3, 2), np.nan, np.float32)), "NaN or inf"),
    (lambda: pick_peaks(np.zeros((3, 2), np.float32), min_distance=0), "min_distance"),
    (lambda: frames_to_notes(np.zeros((3, 2)), np.zeros((4, 2)), 100.0), "shape"),
    (lambda: frames_to_notes(np.zeros((3, 2)), np.zeros((3, 2)), 0.0), "frame_rate"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
