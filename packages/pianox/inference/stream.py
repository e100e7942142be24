"""Audio in windows, read as it is needed: read → resample → window → features.

A file is decoded block by block (soundfile), mixed to mono, checked (finite, within
±MAX_ABS_SAMPLE) and resampled with soxr's streaming resampler, whose output is identical to
resampling the whole file at once. Windows are cut from a buffer that never holds more than a
window and a block, so memory is bounded by the window, not the file: an hour of audio costs
what ten seconds do.

A task chooses its `Windowing`: `window` samples every `hop` samples, the last window either
zero-padded past the end (`pad_last`, the padding marked by each window's `valid` samples) or
placed to end where the audio ends. `stream_windows` gives the windows of a file,
`array_windows` those of an in-memory waveform (the same windows: streamed == whole), and
`featurise` turns a batch of windows into (B, T, F) features and their (B, T) mask exactly as
training featurised its segments.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import AudioError, ConfigError

BLOCK_SECONDS = 10.0
"""Seconds of audio decoded at a time."""


@dataclass(frozen=True)
class Windowing:
    """`window` samples every `hop` samples (1 <= hop <= window). With `pad_last` the windows
    start at 0, hop, 2 hop, ... until one reaches the end, which is zero-padded; without it the
    last window ends where the audio ends (within `align` samples), and audio shorter than a
    window is one window of its own length."""

    window: int
    hop: int
    pad_last: bool = True
    align: int = 1
    """Without `pad_last`, the last window's start is rounded up to a multiple of `align`
    samples (a feature hop: its frames stay on the file's frame grid), padding under `align`."""

    def __post_init__(self) -> None:
        if self.window < 1 or not 1 <= self.hop <= self.window or self.align < 1:
            raise ValueError(f"need window >= 1, 1 <= hop <= window and align >= 1 samples, got "
                             f"window={self.window}, hop={self.hop}, align={self.align}")

    def starts(self, total: int) -> list[int]:
        """First samples of the windows covering `total` samples (at least one window)."""
        if total <= self.window:
            return [0]
        if self.pad_last:  # up to the first window that reaches the end
            return list(range(0, total - self.window + self.hop, self.hop))
        starts = list(range(0, total - self.window, self.hop))
        last = -(-(total - self.window) // self.align) * self.align
        if last > starts[-1]:
            starts.append(last)
        return starts

    def length(self, total: int) -> int:
        """Samples in each window of audio `total` samples long."""
        return self.window if self.pad_last or total > self.window else max(total, 1)


@dataclass
class Window:
    """One window: its index, first sample, samples (window,) float32 (zeros past `valid`)."""

    index: int
    start: int
    samples: np.ndarray
    valid: int


@dataclass
class Windows:
    """The windows of one input: how many samples it has (at the features' rate), how many
    windows, and an iterator over them in order."""

    source: str
    total: int
    count: int
    windowing: Windowing
    _iter: Iterator[Window]

    def __iter__(self) -> Iterator[Window]:
        return self._iter

    def batches(self, size: int) -> Iterator[list[Window]]:
        """Lists of up to `size` consecutive windows."""
        batch: list[Window] = []
        for w in self._iter:
            batch.append(w)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def resampled_length(frames: int, file_rate: int, sample_rate: int) -> int:
    """Samples `frames` samples at `file_rate` Hz become at `sample_rate` Hz (soxr's count)."""
    return frames if file_rate == sample_rate else int(round(frames * sample_rate / file_rate))


def read_blocks(path: str | os.PathLike, sample_rate: int, block_seconds: float = BLOCK_SECONDS
                ) -> Iterator[np.ndarray]:
    """Mono float32 blocks of the audio file at `path`, resampled to `sample_rate` Hz.

    AudioError naming the file (and the time of the first bad sample) for anything
    `pianox.audio.read_audio` refuses: missing, not audio, truncated, non-finite or absurd
    samples, an unusable rate."""
    import soundfile as sf

    from ..audio import check_samples, probe_audio

    p = Path(path)
    frames, rate = probe_audio(p)
    block = max(1, int(block_seconds * rate))
    resampler = None
    if rate != sample_rate:
        import soxr

        resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
    done = 0
    try:
        with sf.SoundFile(str(p)) as f:
            while done < frames:
                want = min(block, frames - done)
                data = f.read(want, dtype="float32", always_2d=True)
                if data.shape[0] < want:
                    raise AudioError(f"audio file {p} is truncated: expected {frames} samples, decoded "
                                     f"{done + data.shape[0]}")
                y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
                check_samples(y, f"audio file {p}", rate, done / rate)
                done += want
                if resampler is not None:
                    y = resampler.resample_chunk(np.ascontiguousarray(y), last=done >= frames)
                yield np.ascontiguousarray(y, dtype=np.float32)
    except AudioError:
        raise
    except (RuntimeError, OSError) as exc:  # libsndfile's decoding errors
        raise AudioError(f"cannot decode audio file {p} (at {done / rate:.3f} s): {exc}; the file is "
                         f"corrupt or truncated") from exc


def _cut(blocks: Iterable[np.ndarray], total: int, windowing: Windowing, source: str) -> Iterator[Window]:
    """Windows of the sample stream `blocks` (`total` samples in all), holding at most a window
    and a block in memory."""
    length = windowing.length(total)
    pending: list[np.ndarray] = []
    buf = np.zeros(0, np.float32)
    buf_start = 0  # sample index of buf[0]
    it = iter(blocks)
    exhausted = False
    starts = windowing.starts(total)
    for index, start in enumerate(starts):
        end = min(start + length, total)
        have = buf_start + len(buf) + sum(len(b) for b in pending)
        while have < end and not exhausted:
            try:
                block = next(it)
            except StopIteration:
                exhausted = True
                break
            pending.append(block)
            have += len(block)
        if pending:
            buf = np.concatenate([buf, *pending])
            pending = []
        if buf_start + len(buf) < end:
            raise AudioError(f"{source}: expected {total} samples, got {buf_start + len(buf)}")
        a = start - buf_start
        samples = np.zeros(length, np.float32)
        samples[: end - start] = buf[a:a + end - start]
        yield Window(index, start, samples, end - start)
        following = starts[index + 1] if index + 1 < len(starts) else end
        drop = min(len(buf), max(0, following - buf_start))  # nothing before the next window is needed
        buf, buf_start = buf[drop:], buf_start + drop


def stream_windows(path: str | os.PathLike, sample_rate: int, windowing: Windowing) -> Windows:
    """The windows of the audio file at `path` at `sample_rate` Hz, decoded as they are needed.
    The file is opened (and refused with an AudioError naming it) before this returns."""
    from ..audio import probe_audio

    frames, rate = probe_audio(path)
    total = resampled_length(frames, rate, sample_rate)
    return Windows(str(path), total, len(windowing.starts(total)), windowing,
                   _cut(read_blocks(path, sample_rate), total, windowing, str(path)))


def array_windows(y: np.ndarray, windowing: Windowing, source: str = "waveform") -> Windows:
    """The windows of an in-memory mono waveform `(S,)` (the same as `stream_windows` of a file
    holding it)."""
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1))
    return Windows(source, len(y), len(windowing.starts(len(y))), windowing, _cut([y], len(y), windowing, source))


def featurise(features: Any, batch: Sequence[Window]) -> tuple[Any, Any, Any]:
    """((B, T, F) features, (B,) real frames, (B, T) bool mask) of a batch of windows: each
    window's frames past its `valid` samples are padding, as in training."""
    import torch

    from ..batching import features_of, frame_mask

    wave = torch.from_numpy(np.stack([w.samples for w in batch]))
    lengths = torch.tensor([w.valid for w in batch], dtype=torch.long)
    with torch.inference_mode():
        feats = features_of(features, wave, lengths)
    frames, mask = frame_mask(features, lengths, feats.shape[1])
    return feats, frames, mask


def frame_windowing(features: Any, window_frames: int, hop_frames: int, pad_last: bool = True) -> Windowing:
    """A `Windowing` in feature frames: windows start every `hop_frames` frames (a whole number
    of the features' hop, so every window's frame j is the file's frame start/hop + j) and hold
    enough samples for `window_frames` frames."""
    per_frame = features.sample_rate / features.frame_rate
    if abs(per_frame - round(per_frame)) > 1e-9:
        raise ValueError(f"features hop of {per_frame} samples is not a whole number")
    per_frame = int(round(per_frame))
    samples = window_frames * per_frame
    for _ in range(16 * per_frame):  # framing without centring needs a little more
        if features.num_frames(samples) >= window_frames:
            break
        samples += 1
    else:
        raise ConfigError(f"features give {features.num_frames(samples)} frames for any window, fewer than the "
                          f"{window_frames} asked (is [features] target_frames shorter than the window?)")
    return Windowing(samples, hop_frames * per_frame, pad_last, per_frame)


def frames_of(features: Any, total: int) -> int:
    """Feature frames of `total` samples (the length of a file's per-frame outputs)."""
    return int(features.num_frames(int(total))) if total > 0 else 0


def window_frame(features: Any, window: Window) -> int:
    """The file frame a window's first frame stands for."""
    return int(math.floor(window.start * features.frame_rate / features.sample_rate + 1e-9))
