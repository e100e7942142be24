"""Decoding frame posteriors into events: peak picking (drum hits) and note assembly (piano).

Both run in the compiled core when it is built (`pianox._core.pick_peaks`,
`pianox._core.frames_to_notes`); the numpy functions here (`*_reference`) are the spec, the
fallback, and what the tests compare the core against.

Conventions: posteriors are (T, C) float32 in [0, 1] at `frame_rate` frames per second; times
are in seconds; pitches are MIDI numbers (`pitch_offset` + column, 21 = A0 for 88 keys);
velocities 0..127.
"""

from __future__ import annotations

import warnings

import numpy as np

try:  # the compiled core is optional at run time (e.g. an unbuilt source tree)
    from . import _core
except ImportError:  # pragma: no cover - exercised only without the extension
    _core = None


def _as_posteriors(x: np.ndarray, name: str) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"{name} must be (T, C), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _thresholds(threshold: float | np.ndarray, classes: int) -> np.ndarray:
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float32), (classes,))
    return np.ascontiguousarray(t)


def pick_peaks_reference(posteriors: np.ndarray, threshold: float | np.ndarray = 0.5, min_distance: int = 1
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima per class at or above `threshold` (a float or one per class).

    A frame is a peak when it is >= both neighbours and > its left neighbour (a plateau counts
    once, at its first frame). Peaks of one class closer than `min_distance` frames are
    suppressed, the higher kept (ties: the earlier). Returns (frames int64 (N,), classes int64
    (N,), values float32 (N,)) sorted by frame, then class.
    """
    p = _as_posteriors(posteriors, "posteriors")
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1, got {min_distance}")
    T, C = p.shape
    thr = _thresholds(threshold, C)
    frames, classes, values = [], [], []
    for c in range(C):
        x = p[:, c]
        left = np.concatenate([[-np.inf], x[:-1]])
        right = np.concatenate([x[1:], [-np.inf]])
        cand = np.flatnonzero((x >= thr[c]) & (x > left) & (x >= right))
        if min_distance > 1 and len(cand) > 1:
            order = cand[np.lexsort((cand, -x[cand]))]  # highest first, earlier on ties
            kept: list[int] = []
            for t in order:
                if all(abs(int(t) - k) >= min_distance for k in kept):
                    kept.append(int(t))
            cand = np.array(sorted(kept), dtype=np.int64)
        frames.append(cand)
        classes.append(np.full(len(cand), c, dtype=np.int64))
        values.append(x[cand])
    f = np.concatenate(frames).astype(np.int64) if frames else np.zeros(0, np.int64)
    c = np.concatenate(classes) if classes else np.zeros(0, np.int64)
    v = np.concatenate(values).astype(np.float32) if values else np.zeros(0, np.float32)
    order = np.lexsort((c, f))
    return f[order], c[order], v[order]


def frames_to_notes_reference(onsets: np.ndarray, frames: np.ndarray, frame_rate: float, *,
                              offsets: np.ndarray | None = None, velocities: np.ndarray | None = None,
                              onset_threshold: float = 0.5, frame_threshold: float = 0.5,
                              offset_threshold: float = 0.5, min_frames: int = 1, pitch_offset: int = 21,
                              default_velocity: float = 100.0) -> np.ndarray:
    """Onsets-and-Frames decoding of (T, P) posteriors into notes (N, 4):
    [onset_s, offset_s, midi_pitch, velocity], sorted by onset then pitch.

    A note starts where the onset posterior rises to `onset_threshold` (first frame of a run
    above it) and lasts while the frame (or onset) posterior stays at or above
    `frame_threshold`; it ends at the first frame where neither does, where the offset
    posterior reaches `offset_threshold`, or where a new onset starts (re-articulation).
    Notes shorter than `min_frames` frames are dropped. The velocity is the velocity
    posterior at the onset frame x 127 (or `default_velocity` without one).
    """
    on = _as_posteriors(onsets, "onsets")
    fr = _as_posteriors(frames, "frames")
    if fr.shape != on.shape:
        raise ValueError(f"frames {fr.shape} and onsets {on.shape} differ in shape")
    off = _as_posteriors(offsets, "offsets") if offsets is not None else None
    vel = _as_posteriors(velocities, "velocities") if velocities is not None else None
    for name, a in (("offsets", off), ("velocities", vel)):
        if a is not None and a.shape != on.shape:
            raise ValueError(f"{name} {a.shape} and onsets {on.shape} differ in shape")
    if frame_rate <= 0:
        raise ValueError(f"frame_rate must be positive, got {frame_rate}")
    T, P = on.shape
    notes: list[tuple[float, float, float, float]] = []
    for p in range(P):
        start = -1
        for t in range(T + 1):
            onset_here = t < T and on[t, p] >= onset_threshold and (t == 0 or on[t - 1, p] < onset_threshold)
            if start >= 0:
                sustained = t < T and (fr[t, p] >= frame_threshold or on[t, p] >= onset_threshold)
                ended = (not sustained or onset_here
                         or (off is not None and t < T and off[t, p] >= offset_threshold))
                if ended:
                    if t - start >= min_frames:
                        v = min(127.0, max(0.0, float(vel[start, p]) * 127.0)) if vel is not None else default_velocity
                        notes.append((start / frame_rate, t / frame_rate, float(p + pitch_offset), v))
                    start = -1
            if onset_here:
                start = t
    out = np.array(notes, dtype=np.float64).reshape(-1, 4)
    return out[np.lexsort((out[:, 2], out[:, 0]))] if len(out) else out


_warned = False


def _fallback_warning() -> None:
    global _warned
    if not _warned:
        warnings.warn("pianox._core is not built: decoding uses the numpy reference", RuntimeWarning, stacklevel=3)
        _warned = True


def pick_peaks(posteriors: np.ndarray, threshold: float | np.ndarray = 0.5, min_distance: int = 1
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`pick_peaks_reference` in the compiled core (same arguments and results)."""
    p = _as_posteriors(posteriors, "posteriors")
    if p.shape[0] == 0:  # no frames (a file of a few samples): no peaks
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    if _core is None or not hasattr(_core, "pick_peaks"):
        _fallback_warning()
        return pick_peaks_reference(p, threshold, min_distance)
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1, got {min_distance}")
    return _core.pick_peaks(p, _thresholds(threshold, p.shape[1]), int(min_distance))


def frames_to_notes(onsets: np.ndarray, frames: np.ndarray, frame_rate: float, *,
                    offsets: np.ndarray | None = None, velocities: np.ndarray | None = None,
                    onset_threshold: float = 0.5, frame_threshold: float = 0.5, offset_threshold: float = 0.5,
                    min_frames: int = 1, pitch_offset: int = 21, default_velocity: float = 100.0) -> np.ndarray:
    """`frames_to_notes_reference` in the compiled core (same arguments and results)."""
    kwargs = dict(offsets=offsets, velocities=velocities, onset_threshold=onset_threshold,
                  frame_threshold=frame_threshold, offset_threshold=offset_threshold, min_frames=min_frames,
                  pitch_offset=pitch_offset, default_velocity=default_velocity)
    if _core is None or not hasattr(_core, "frames_to_notes"):
        _fallback_warning()
        return frames_to_notes_reference(onsets, frames, frame_rate, **kwargs)
    on = _as_posteriors(onsets, "onsets")
    fr = _as_posteriors(frames, "frames")
    if on.shape[0] == 0 and fr.shape == on.shape:  # no frames: no notes
        return np.zeros((0, 4))
    shapes = {a.shape for a in (on, fr, offsets, velocities) if a is not None}
    if len(shapes) != 1:
        raise ValueError(f"onsets, frames, offsets and velocities must share one (T, P) shape, got {sorted(shapes)}")
    if frame_rate <= 0:
        raise ValueError(f"frame_rate must be positive, got {frame_rate}")
    off = _as_posteriors(offsets, "offsets") if offsets is not None else None
    vel = _as_posteriors(velocities, "velocities") if velocities is not None else None
    return _core.frames_to_notes(on, fr, off, vel, float(frame_rate), float(onset_threshold), float(frame_threshold),
                                 float(offset_threshold), int(min_frames), int(pitch_offset), float(default_velocity))
