"""Audio file IO: decode a span of a file to float32 mono, resample, write atomically.

Decoding goes through soundfile (libsndfile: wav, flac, ogg, mp3, ...), resampling through soxr
("HQ"), channels are mixed to mono by their mean. Every way a file can be unusable (missing,
corrupt, truncated, empty, non-finite samples, an implausible sample rate) is an `AudioError`
naming the file, so a bad item in a corpus of thousands is found from the message alone.

Spans are in seconds. `read_audio` seeks to the span and decodes only it, so reading 10 s of a
20-minute MAESTRO recording costs 10 s of decoding.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import AudioError

if TYPE_CHECKING:  # pragma: no cover
    from .api import Example

MIN_SAMPLE_RATE = 1_000
"""Lowest sample rate (Hz) accepted from a file; lower rates are almost always a broken header."""
MAX_SAMPLE_RATE = 384_000
"""Highest sample rate (Hz) accepted from a file."""


def _check_rate(sample_rate: int, what: str) -> None:
    if not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise AudioError(f"{what}: unsupported sample rate {sample_rate} Hz "
                         f"(accepted: {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz)")


def _wav_declared_frames(path: Path, channels: int, bytes_per_sample: int) -> int | None:
    """Frames the RIFF header of a .wav promises, or None when it does not say (streamed)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                if size in (0, 0xFFFFFFFF):
                    return None
                return size // max(1, channels * bytes_per_sample)
            f.seek(size + (size & 1), os.SEEK_CUR)


_PCM_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
              "DOUBLE": 8}


def probe_audio(path: str | os.PathLike) -> tuple[int, int]:
    """Open `path` and return (frames, sample_rate) without decoding the samples.

    Raises `AudioError` when the file is missing, cannot be opened, has an unusable sample rate,
    holds no samples, or is a .wav whose header promises more samples than the file contains
    (a truncated copy: libsndfile would silently return the shorter audio).
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioError(f"audio file not found: {p}")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # libsndfile raises RuntimeError subclasses with varied messages
        raise AudioError(f"cannot open audio file {p}: {exc}") from exc
    _check_rate(info.samplerate, f"audio file {p}")
    if info.frames <= 0:
        raise AudioError(f"audio file {p} is empty (0 samples)")
    if info.format == "WAV" and info.subtype in _PCM_BYTES:
        declared = _wav_declared_frames(p, info.channels, _PCM_BYTES[info.subtype])
        if declared is not None and declared > info.frames:
            raise AudioError(f"audio file {p} is truncated: its header declares {declared} "
                             f"samples but the file holds {info.frames}")
    return int(info.frames), int(info.samplerate)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample float32 audio `(S,)` or `(S, C)` from `orig_sr` to `target_sr` Hz (soxr HQ)."""
    if int(orig_sr) == int(target_sr):
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr

    _check_rate(target_sr, "resample target")
    out = soxr.resample(np.ascontiguousarray(y, dtype=np.float32), int(orig_sr), int(target_sr),
                        quality="HQ")
    return np.ascontiguousarray(out, dtype=np.float32)


def read_audio(path: str | os.PathLike, sample_rate: int | None = None, start: float = 0.0,
               duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode `duration` seconds of `path` from `start` seconds as float32 mono `(S,)`.

    Only the requested span is decoded (the file is seeked). `duration=None` reads to the end;
    a span reaching past the end of the file returns the samples that exist. With
    `sample_rate` the span is resampled to it; the returned rate is the rate of the returned
    samples. Raises `AudioError` naming the file for missing, corrupt, truncated, empty or
    non-finite audio, an unusable sample rate, or a span that starts past the end.
    """
    import soundfile as sf

    p = Path(path)
    frames, sr = probe_audio(p)
    if start < 0 or (duration is not None and duration < 0):
        raise AudioError(f"audio file {p}: negative span start={start} duration={duration}")
    first = int(round(start * sr))
    if first >= frames:
        raise AudioError(f"audio file {p}: span starts at {start:.3f} s, past its end "
                         f"({frames / sr:.3f} s)")
    want = frames - first if duration is None else min(int(round(duration * sr)), frames - first)
    try:
        with sf.SoundFile(str(p)) as f:
            if first:
                f.seek(first)
            data = f.read(want, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"cannot decode audio file {p} (span {start:.3f} s + {want / sr:.3f} s): "
                         f"{exc}; the file is corrupt or truncated") from exc
    if data.shape[0] < want:
        raise AudioError(f"audio file {p} is truncated: expected {want} samples from "
                         f"{start:.3f} s, decoded {data.shape[0]}")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    bad = ~np.isfinite(y)
    if bad.any():
        at = (first + int(np.argmax(bad))) / sr
        raise AudioError(f"audio file {p} holds {int(bad.sum())} non-finite samples "
                         f"(first at {at:.3f} s)")
    if sample_rate is not None and int(sample_rate) != sr:
        return resample(y, sr, int(sample_rate)), int(sample_rate)
    return np.ascontiguousarray(y, dtype=np.float32), sr


def load_example(example: "Example", sample_rate: int | None = None) -> np.ndarray:
    """The float32 mono waveform `(S,)` of an `Example` at `sample_rate` Hz.

    Reads `example.audio` (in-memory, at `example.sample_rate`) when set, else the span
    `[start, start + duration)` of `example.audio_path`. `sample_rate=None` uses
    `example.meta["sample_rate"]`, else the audio's own rate. When `duration` is set the
    result has exactly `round(duration * sample_rate)` samples: a span running past the end
    of the audio is zero-padded (the last segment of a file).
    """
    if sample_rate is None:
        sample_rate = example.meta.get("sample_rate") if example.meta else None
    if example.audio is not None:
        if not example.sample_rate:
            raise AudioError(f"example {example.key!r} has in-memory audio but no sample_rate")
        src = np.asarray(example.audio, dtype=np.float32)
        if src.ndim != 1:
            raise AudioError(f"example {example.key!r}: in-memory audio must be mono (S,), "
                             f"got shape {src.shape}")
        sr = int(example.sample_rate)
        _check_rate(sr, f"example {example.key!r}")
        first = int(round(example.start * sr))
        last = len(src) if example.duration is None else first + int(round(example.duration * sr))
        y = src[first:last]
        if not np.isfinite(y).all():
            raise AudioError(f"example {example.key!r}: in-memory audio has non-finite samples")
        if sample_rate is not None and int(sample_rate) != sr:
            y, sr = resample(y, sr, int(sample_rate)), int(sample_rate)
    elif example.audio_path is not None:
        y, sr = read_audio(example.audio_path, sample_rate, example.start, example.duration)
    else:
        raise AudioError(f"example {example.key!r} has neither audio_path nor in-memory audio")
    if example.duration is not None:
        n = int(round(example.duration * sr))
        if len(y) < n:
            y = np.concatenate([y, np.zeros(n - len(y), np.float32)])
        y = y[:n]
    return np.ascontiguousarray(y, dtype=np.float32)


def write_audio(path: str | os.PathLike, y: np.ndarray, sample_rate: int,
                subtype: str | None = None) -> Path:
    """Write float audio `(S,)` or `(S, C)` in [-1, 1] to `path` atomically (temp file + rename).

    The format follows the suffix (.wav, .flac, .ogg, ...); `subtype` defaults to 16-bit PCM
    for wav/flac. Samples are clipped to [-1, 1] for integer subtypes (libsndfile would wrap
    them). A reader never sees a half-written file: the data goes to a temporary file in the
    same folder that is renamed over `path` once complete. Returns the path.
    """
    import soundfile as sf

    p = Path(path)
    arr = np.asarray(y, dtype=np.float32)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise AudioError(f"cannot write {p}: audio must be non-empty (S,) or (S, C), "
                         f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise AudioError(f"cannot write {p}: audio has non-finite samples")
    _check_rate(sample_rate, f"cannot write {p}")
    fmt = p.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise AudioError(f"cannot write {p}: unknown audio format {p.suffix!r}")
    if subtype is None and fmt in ("WAV", "FLAC"):
        subtype = "PCM_16"
    if subtype is None or subtype.startswith("PCM"):
        arr = np.clip(arr, -1.0, 1.0)
    from .atomic import atomic_path

    with atomic_path(p) as tmp:
        sf.write(str(tmp), arr, int(sample_rate), subtype=subtype, format=fmt)
    return p
