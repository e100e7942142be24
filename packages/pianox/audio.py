"""Audio file IO: decode a span of a file to float32 mono, resample, write atomically.

Decoding goes through soundfile (libsndfile: wav, flac, ogg, mp3, ...), resampling through soxr
("HQ"), channels are mixed to mono by their mean. Every way a file can be unusable (missing,
not audio, corrupt, truncated, empty, non-finite or absurdly large samples, an implausible
sample rate) is an `AudioError` naming the file, so a bad item in a corpus of thousands is
found from the message alone. What a C decoder prints while a file fails to open (mpg123's
"Illegal Audio-MPEG-Header", ...) goes into that error instead of onto the terminal before it.

Spans are in seconds. `read_audio` seeks to the span and decodes only it, so reading 10 s of a
20-minute MAESTRO recording costs 10 s of decoding.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import AudioError

if TYPE_CHECKING:  # pragma: no cover
    from .api import Example

MIN_SAMPLE_RATE = 1_000
"""Lowest sample rate (Hz) accepted from a file; lower rates are almost always a broken header."""
MAX_SAMPLE_RATE = 384_000
"""Highest sample rate (Hz) accepted from a file."""
MAX_ABS_SAMPLE = 16.0
"""Largest sample magnitude accepted (full scale is 1.0, so this is +24 dBFS). Decoded integer
PCM is within [-1, 1]; float files may carry some headroom above it, never this much. Larger
values are a scaling error (integer PCM stored as float peaks near 32768) or garbage: the
features of such audio lie far outside anything a model trained on, and from about 1e18 on the
power spectrum overflows float32 into inf/NaN."""


def check_samples(y: np.ndarray, what: str, sample_rate: int, offset: float = 0.0) -> None:
    """Raise AudioError unless every sample of `y` is finite and within ±MAX_ABS_SAMPLE; the
    message names `what` and the time (`offset` + index / `sample_rate` seconds) of the first
    bad sample."""
    bad = ~np.isfinite(y)
    if bad.any():
        at = offset + int(np.argmax(bad)) / sample_rate
        raise AudioError(f"{what} holds {int(bad.sum())} non-finite samples (first at {at:.3f} s)")
    loud = np.abs(y) > MAX_ABS_SAMPLE
    if loud.any():
        at = offset + int(np.argmax(loud)) / sample_rate
        raise AudioError(f"{what} has samples of magnitude up to {float(np.abs(y).max()):.3g} (first at "
                         f"{at:.3f} s); audio is read at full scale 1.0 and at most ±{MAX_ABS_SAMPLE:g} "
                         f"(+24 dBFS) is accepted: is it integer PCM stored as float, or not audio?")


_NOISE_LOCK = threading.Lock()
_noise_sink: tuple[int, Any] | None = None
"""(pid, unbuffered temp file) that fd 2 points to while a file is opened; one per process."""


@contextlib.contextmanager
def _decoder_noise() -> Iterator[list[str]]:
    """Collect what C code prints on file descriptor 2 inside the block into the yielded list.

    libsndfile's mpg123 decoder writes notes ("Illegal Audio-MPEG-Header ...") straight to the
    process's stderr when a file is not what its name says; collected, they go into the
    AudioError instead of onto the terminal before it. Callers re-emit them on success. Only
    the (fast) opening of a file is wrapped, under a lock, since fd 2 is process-wide.
    """
    global _noise_sink
    said: list[str] = []
    with _NOISE_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to take over: leave it alone
            yield said
            return
        if _noise_sink is None or _noise_sink[0] != os.getpid():  # a forked worker gets its own
            _noise_sink = (os.getpid(), tempfile.TemporaryFile(buffering=0))
        sink = _noise_sink[1]
        sink.seek(0)
        sink.truncate()
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace").strip()
            if text:
                said.append(text)


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
        with _decoder_noise() as noise:
            info = sf.info(str(p))
    except Exception as exc:  # libsndfile raises RuntimeError subclasses with varied messages
        if not os.access(p, os.R_OK):
            raise AudioError(f"cannot open audio file {p}: permission denied") from exc
        said = getattr(exc, "error_string", "") or str(exc)
        if "does not exist" in said:  # libsndfile's word for "no decoder took it": the file is there
            said = "no decoder recognises its contents"
        decoder = f" (decoder: {noise[0].splitlines()[0]})" if noise else ""
        raise AudioError(f"cannot open audio file {p}: it is not readable audio ({said.rstrip('.')}; "
                         f"readable: wav, flac, ogg, mp3 and the other formats libsndfile decodes)"
                         f"{decoder}") from exc
    if noise:
        print(noise[0], file=sys.stderr)
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
    samples. Raises `AudioError` naming the file for missing, unreadable, corrupt, truncated or
    empty audio, non-finite samples or samples beyond ±MAX_ABS_SAMPLE, an unusable sample
    rate, or a span that starts past the end.
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
    check_samples(y, f"audio file {p}", sr, first / sr)
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
        check_samples(y, f"example {example.key!r}: in-memory audio", sr, first / sr)
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
