"""Beat times of a piano performance, from its notes and, when there is audio, from the audio.

One method serves both inputs. An onset envelope at `FPS` frames per second is built from the
notes (each onset an impulse of its velocity, smoothed over 20 ms); with audio, the positive
log-mel spectral flux of the audio (pianox's own mel front end, no librosa) is added, each
envelope scaled to unit standard deviation. The beat period comes from the envelope's
autocorrelation, each lag also crediting its double and half (the bar and subdivision pulses),
under a log-normal tempo prior centred on `PRIOR_BPM` (most notated beats are 60-140 per
minute). The beats themselves are Ellis's (2007) dynamic programme, the one librosa's
beat_track runs: each frame's score is its envelope plus the best earlier beat's score less
`TIGHTNESS` x log(interval / period)^2, so the tempo may drift and the beats follow rubato.
Each beat is then moved onto the strongest note onset within a tenth of a period (beats
of played music mostly fall on notes) and the sequence is extended with the local interval to
cover the first onset and the last note's end; beat 0 is the one the first note is on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .quantize import LEAD

FPS = 100.0
"""Envelope frames per second."""
PRIOR_BPM = 100.0
"""Centre of the tempo prior (beats per minute)."""
PRIOR_OCTAVES = 0.8
"""Standard deviation of the tempo prior in octaves."""
MIN_BPM, MAX_BPM = 36.0, 220.0
TIGHTNESS = 100.0
"""Weight of the tempo-change penalty of the dynamic programme (librosa's default)."""
AUDIO_WEIGHT = 0.5
"""Weight of the audio's envelope against the notes' (each at unit standard deviation)."""
AUDIO_RATE = 16000
"""Sample rate an audio file is read at for its envelope (Hz)."""
CHUNK_SECONDS = 60.0
CLUSTER_SECONDS = 0.035
"""Onsets closer than this belong to one chord."""
BASS_WINDOW = 0.3
"""Seconds either side within which a bass note must be the lowest to count as one."""


def onset_clusters(notes: np.ndarray, gap: float = CLUSTER_SECONDS) -> np.ndarray:
    """Cluster index `(N,)` of each note of `(N, 4)` notes sorted by onset: a new cluster
    (chord) starts wherever an onset is more than `gap` seconds after the previous one."""
    on = np.asarray(notes, np.float64).reshape(-1, 4)[:, 0]
    if len(on) == 0:
        return np.zeros(0, np.int64)
    if (np.diff(on) < 0).any():
        raise ValueError("notes must be sorted by onset")
    return np.concatenate([[0], np.cumsum(np.diff(on) > gap)]).astype(np.int64)


def salience(notes: np.ndarray, bass_window: float = BASS_WINDOW) -> np.ndarray:
    """`(N,)` weight of each note of `(N, 4)` notes (sorted by onset) as a beat cue: velocity / 64
    times 1 + its played length in seconds (capped at 2), since long notes start on strong
    beats and passing notes do not; doubled for a bass note, the lowest note of its chord and
    no higher than any note starting within `bass_window` seconds (accompaniments put the bass
    on the beat and the chords between)."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    w = np.maximum(notes[:, 3], 16.0) / 64.0 * (1.0 + np.clip(notes[:, 1] - notes[:, 0], 0.0, 2.0))
    if len(notes) == 0:
        return w
    cluster = onset_clusters(notes)
    low = np.full(cluster[-1] + 1, 128.0)
    np.minimum.at(low, cluster, notes[:, 2])
    times = np.bincount(cluster, notes[:, 0]) / np.bincount(cluster)
    lo = np.searchsorted(times, times - bass_window)
    hi = np.searchsorted(times, times + bass_window, side="right")
    bass = np.array([low[c] <= low[lo[c]:hi[c]].min() for c in range(len(times))])
    w[bass[cluster] & (notes[:, 2] == low[cluster])] *= 2.0
    return w


def note_envelope(notes: np.ndarray, frames: int, fps: float = FPS) -> np.ndarray:
    """`(frames,)` onset envelope of `(N, 4)` notes: velocity / 64 at each onset frame, smoothed
    by a Gaussian of 20 ms."""
    env = np.zeros(frames)
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    idx = np.clip(np.rint(notes[:, 0] * fps).astype(np.int64), 0, frames - 1)
    np.add.at(env, idx, salience(notes))
    sigma = 0.02 * fps
    k = np.arange(-int(3 * sigma) - 1, int(3 * sigma) + 2)
    return np.convolve(env, np.exp(-0.5 * (k / sigma) ** 2), mode="same")


def audio_envelope(y: np.ndarray, sr: int, frames: int, fps: float = FPS) -> np.ndarray:
    """`(frames,)` positive log-mel spectral flux of mono audio `y` at `sr` Hz, on the `fps` grid."""
    from pianox.features import melspectrogram

    hop = max(1, int(round(sr / fps)))
    mel = melspectrogram(np.ascontiguousarray(y, dtype=np.float32), sr=sr, n_fft=2048, hop_length=hop,
                         n_mels=128)
    logmel = np.log(np.maximum(np.asarray(mel, np.float64), 1e-10))
    flux = np.maximum(np.diff(logmel, axis=1, prepend=logmel[:, :1]), 0.0).mean(axis=0)
    times = np.arange(len(flux)) * hop / sr
    return np.interp(np.arange(frames) / fps, times, flux, right=0.0)


def file_envelope(path: str | Path, frames: int, fps: float = FPS, chunk_seconds: float = CHUNK_SECONDS
                  ) -> np.ndarray:
    """`audio_envelope` of an audio file, read `chunk_seconds` at a time (memory bounded by the
    chunk, not the file) at `AUDIO_RATE` Hz."""
    from pianox.audio import probe_audio, read_audio

    count, rate = probe_audio(path)
    seconds = count / rate
    env = np.zeros(frames)
    start = 0.0
    while start < seconds and int(start * fps) < frames:
        y, sr = read_audio(path, AUDIO_RATE, start=start, duration=chunk_seconds)
        first = int(round(start * fps))
        n = min(frames - first, int(np.ceil(len(y) / sr * fps)))
        env[first:first + n] = audio_envelope(y, sr, n, fps)
        start += chunk_seconds
    return env


def _unit(env: np.ndarray) -> np.ndarray:
    sd = env.std()
    return env / sd if sd > 0 else env


def beat_period(env: np.ndarray, fps: float = FPS) -> float:
    """Beat period in frames of an onset envelope (see module doc)."""
    x = env - env.mean()
    n = len(x)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * n)) ** 2)[:n]
    if ac[0] <= 0:
        return 60.0 * fps / PRIOR_BPM
    ac = ac / ac[0]
    lags = np.arange(int(60.0 * fps / MAX_BPM), int(60.0 * fps / MIN_BPM) + 1)
    lags = lags[2 * lags < n]
    if len(lags) == 0:
        return 60.0 * fps / PRIOR_BPM
    bpm = 60.0 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    score = (ac[lags] + 0.5 * ac[2 * lags] + 0.5 * ac[lags // 2]) * prior
    i = int(np.argmax(score))
    lag = float(lags[i])
    if 0 < i < len(lags) - 1:  # parabolic refinement
        a, b, c = score[i - 1], score[i], score[i + 1]
        if a - 2 * b + c < 0:
            lag += 0.5 * (a - c) / (a - 2 * b + c)
    return lag


def dp_beats(env: np.ndarray, period: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat frames `(B,)` of an envelope by Ellis's dynamic programme (see module doc)."""
    n = len(env)
    local = _unit(env)
    lo, hi = int(round(2.0 * period)), max(1, int(round(period / 2.0)))
    d = np.arange(hi, lo + 1)
    penalty = -tightness * np.log(d / period) ** 2
    cum = np.zeros(n)
    back = np.full(n, -1, np.int64)
    for t in range(n):
        first = t - lo
        if t - hi < 0:
            cum[t] = local[t]
            continue
        taus = t - d
        ok = taus >= 0
        cand = cum[taus[ok]] + penalty[ok]
        j = int(np.argmax(cand))
        if cand[j] > 0 or first >= 0:
            cum[t] = local[t] + cand[j]
            back[t] = taus[ok][j]
        else:
            cum[t] = local[t]
    peaks = np.flatnonzero((cum[1:-1] >= cum[:-2]) & (cum[1:-1] > cum[2:])) + 1
    if len(peaks) == 0:
        return np.zeros(0, np.int64)
    good = peaks[cum[peaks] >= 0.5 * np.median(cum[peaks])]
    t = int(good[-1])
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.array(beats[::-1], np.int64)


def _snap(beats: np.ndarray, times: np.ndarray, weights: np.ndarray, reach: float) -> np.ndarray:
    """Move each beat onto the heaviest onset cluster within `reach` seconds of it."""
    out = beats.copy()
    for i, b in enumerate(beats):
        near = np.flatnonzero(np.abs(times - b) <= reach)
        if len(near):
            out[i] = times[near[np.argmax(weights[near] * (1.0 - 0.5 * np.abs(times[near] - b) / reach))]]
    keep = np.concatenate([[True], np.diff(out) > 0.25 * np.median(np.diff(beats))]) if len(out) > 1 else [True]
    return out[np.asarray(keep)]


def _extend(beats: np.ndarray, start: float, end: float) -> np.ndarray:
    """Beats extended with the edge intervals so that beats[0] <= start and beats[-1] >= end."""
    b = list(beats)
    while b[0] > start + 1e-9:
        b.insert(0, b[0] - (b[1] - b[0]))
    while b[-1] < end - 1e-9:
        b.append(b[-1] + (b[-1] - b[-2]))
    return np.asarray(b)


def track_beats(notes: np.ndarray, audio: np.ndarray | str | Path | None = None, sr: int | None = None,
                fps: float = FPS) -> np.ndarray:
    """Beat times `(B,)` in seconds of `(N, 4)` notes sorted by onset, and optionally of the
    audio they were heard in (mono samples at `sr` Hz, or an audio file's path): strictly
    increasing, B >= 2, beats[0] <= the first onset and beats[-1] >= the last offset. See the
    module doc for the method."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    if len(notes) == 0:
        return np.array([0.0, 60.0 / PRIOR_BPM])
    end = float(notes[:, 1].max())
    frames = int(np.ceil(end * fps)) + int(fps)
    env = _unit(note_envelope(notes, frames, fps))
    if isinstance(audio, (str, Path)):
        env = env + AUDIO_WEIGHT * _unit(file_envelope(audio, frames, fps))
    elif audio is not None and sr:
        env = env + AUDIO_WEIGHT * _unit(audio_envelope(audio, sr, frames, fps))
    period = beat_period(env, fps)
    frames_b = dp_beats(env, period)
    beats = frames_b / fps
    if len(beats) < 2:
        beats = np.array([notes[0, 0], notes[0, 0] + period / fps])
    cluster = onset_clusters(notes)
    times = np.bincount(cluster, notes[:, 0]) / np.bincount(cluster)
    weights = np.bincount(cluster, salience(notes))
    beats = _snap(beats, times, weights, 0.1 * period / fps)
    if len(beats) < 2:
        beats = np.array([beats[0], beats[0] + period / fps])
    beats = _extend(beats, float(notes[0, 0]), end)
    while len(beats) > 2 and beats[1] - LEAD * (beats[1] - beats[0]) <= notes[0, 0]:
        beats = beats[1:]  # no empty beat before the first note
    return beats
