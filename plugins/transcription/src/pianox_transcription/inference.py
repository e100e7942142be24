"""Transcribing audio with a trained model: the task's part of `pianox.inference`.

The core streams a file in back-to-back windows of the training segment length (the last one
zero-padded) and featurises them; this module says what the model does with a window and how
the windows join. The frame head's posteriors lie end to end (`combine = "crop"` with hop =
window) and are decoded block by block as they arrive (`FrameNotes`), so an hour of audio never
holds more than a block of posteriors. The seq2seq head decodes each window into a segment and
the segments are stitched through their ties (`stitch`). Notes after the end of the audio are
dropped or cut (and dropped when that leaves less than 10 ms). The frame head decodes with the
thresholds stored beside the weights (transcription_thresholds.json, tuned on validation; see
thresholds.py), else the [task]'s; `Transcriber(..., thresholds=...)` overrides both.

    Transcriber(load_model(run, task="transcription"), "frames").transcribe_file("take.wav")
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from pianox.errors import ConfigError
from pianox.finite import require_finite
from pianox.inference.pipeline import Plan, run
from pianox.inference.stream import Windowing, Windows, array_windows, frame_windowing, stream_windows

from .generate import DecodeOptions
from .predict import decode_segments, encode, frame_logits, frame_posteriors
from .stitch import stitch
from .thresholds import Thresholds, read_thresholds

MIN_NOTE_SECONDS = 0.01
"""Notes shorter than this after cutting them at the end of the audio are dropped."""

BLOCK_SECONDS = 30.0
"""Posteriors decoded at a time by `FrameNotes`."""

Progress = Callable[[int, int], None]


def load_trained(model: str | Path | None, device: str | None = "cpu") -> Any:
    """A transcription model (run directory, checkpoint folder, model folder or shipped name) on
    `device`: `pianox.inference.load_model(model, task="transcription", device=device)`."""
    from pianox.inference.models import load_model

    return load_model(model, task="transcription", device=device)


class FrameNotes:
    """Frame posteriors in, notes out, a block at a time, with the notes of decoding everything
    at once.

    Onsets-and-Frames decoding is local: a note depends on the frames from the one before its
    onset to its end. Each block is decoded; notes that end before the block's end, with
    onsets before the cut `c` (the earliest onset of a note still sounding at the end, at most
    `margin` frames before the end), are final. Decoding resumes at frame `c - 1`, and a note
    found at that first (context) frame was already settled by the block before."""

    def __init__(self, decode: Callable[[np.ndarray], np.ndarray], frame_rate: float,
                 block: int = int(BLOCK_SECONDS * 100), margin: int = 8):
        self.decode, self.frame_rate = decode, float(frame_rate)
        self.block, self.margin = max(block, 4 * margin), margin
        self.threshold = self.block
        self.parts: list[np.ndarray] = []  # (n, 4, 88) posteriors from frame `start` on
        self.size = 0
        self.start = 0
        self.context = False  # whether frame `start` is a context frame of the previous block
        self.notes: list[np.ndarray] = []

    def add(self, posteriors: np.ndarray) -> None:
        """Append (n, 4, 88) posteriors (frames in order); decodes when a block is full."""
        if len(posteriors):
            self.parts.append(posteriors)
            self.size += len(posteriors)
        if self.size >= self.threshold:
            self._decode(final=False)

    def finish(self) -> np.ndarray:
        """`(N, 4)` notes (onset s, offset s, pitch, velocity) of every frame added, by onset."""
        if self.size:
            self._decode(final=True)
        notes = np.concatenate(self.notes) if self.notes else np.zeros((0, 4))
        return notes[np.lexsort((notes[:, 2], notes[:, 0]))] if len(notes) else notes

    def _decode(self, final: bool) -> None:
        post = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        n = len(post)
        notes = np.asarray(self.decode(np.ascontiguousarray(post.transpose(1, 0, 2))), np.float64).reshape(-1, 4)
        onset = np.rint(notes[:, 0] * self.frame_rate).astype(np.int64)
        if self.context:
            keep = onset > 0
            notes, onset = notes[keep], onset[keep]
        if final:
            cut = n
        else:
            open_ = np.rint(notes[:, 1] * self.frame_rate).astype(np.int64) >= n
            cut = min([n - self.margin, *onset[open_].tolist()])
        settled = onset < cut
        if settled.any():
            done = notes[settled].copy()  # frame -> seconds as decoding all at once computes it
            done[:, :2] = (np.rint(done[:, :2] * self.frame_rate) + self.start) / self.frame_rate
            self.notes.append(done)
        if final:
            self.parts, self.size = [], 0
            return
        resume = max(cut - 1, 0)
        rest = post[resume:]
        self.parts, self.size = [rest], len(rest)
        self.start += resume
        self.context = resume > 0 or self.context
        self.threshold = self.size + self.block  # a note held over a whole block grows the block


class Transcriber:
    """Audio -> notes with a loaded transcription model and one of its heads ("seq2seq" or "frames")."""

    def __init__(self, trained: Any, head: str | None = None, options: DecodeOptions | None = None,
                 batch_size: int = 8, thresholds: Thresholds | None = None):
        self.t = trained
        available = trained.task.heads
        self.head = head or available[-1]  # "both" trains frames last: the faster head by default
        if self.head not in available:
            raise ConfigError(f"the run at {trained.path} has no {self.head!r} head (it has "
                              f"{', '.join(available)})")
        self.options = options or trained.task.config.decode_options()
        self._thresholds = thresholds  # explicit, else stored with the model (else the [task]'s)
        if self.head == "frames" and thresholds is None:
            self._thresholds = read_thresholds(getattr(trained, "checkpoint", None))
        self.batch_size = batch_size
        source_segment = float(getattr(trained.experiment.stages["source"].config, "segment_seconds", 0) or 0)
        self.segment = source_segment or trained.task.config.segment_seconds
        features = trained.features
        frames = int(round(self.segment * features.frame_rate))
        self.windowing: Windowing = frame_windowing(features, frames, frames, pad_last=True)

    @property
    def thresholds(self) -> Thresholds | None:
        """The frame head's decoding thresholds (None for the seq2seq head): explicit, else the
        model's transcription_thresholds.json, else the [task]'s."""
        if self.head != "frames":
            return None
        return self._thresholds or Thresholds.of(self.t.task.config)

    @property
    def sample_rate(self) -> int:
        return int(self.t.features.sample_rate)

    def windows(self, audio: str | Path | np.ndarray, source: str | None = None) -> Windows:
        """The windows of an audio file (streamed) or of an in-memory waveform at the features' rate."""
        if isinstance(audio, np.ndarray):
            return array_windows(audio, self.windowing, source or "waveform")
        return stream_windows(audio, self.sample_rate, self.windowing)

    def _to_device(self, feats: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return feats.to(self.t.device), mask.to(self.t.device)

    def _frames_forward(self, feats: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
        feats, mask = self._to_device(feats, mask)
        with torch.inference_mode():
            states, _ = encode(self.t.model, feats, mask)
            probs = frame_posteriors(frame_logits(self.t.model, self.t.head, states, feats.shape[1]))
        return {"frame posteriors": probs.transpose(0, 2, 1, 3)}  # (B, T, 4, 88): time first

    def _seq2seq_forward(self, source: str) -> Callable[..., dict[str, Any]]:
        decoder = self.t.head.decoder
        decoder.attention_impl = getattr(self.t.model, "attention_impl", "auto")

        def forward(feats: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
            feats, mask = self._to_device(feats, mask)
            with torch.inference_mode():
                states, token_mask = encode(self.t.model, feats, mask)
                require_finite(states, source, "encoder states")
                segments = decode_segments(decoder, states, token_mask, self.t.task.vocab,
                                           [self.segment] * len(feats), self.options)[1]
            return {"segments": segments}

        return forward

    def posteriors(self, audio: str | Path | np.ndarray, progress: Progress | None = None,
                   source: str | None = None) -> np.ndarray:
        """The frame head's (4, T, 88) posteriors (onset, frame, offset, velocity) of a file or a
        waveform, frame j at j / frame_rate seconds (e.g. to tune decoding thresholds)."""
        if self.t.head.frames is None:
            raise ConfigError(f"the run at {self.t.path} has no frame head")
        plan = Plan(self._frames_forward, "crop", self.batch_size)
        parts = [p["frame posteriors"] for p in run(self.windows(audio, source), self.t.features, plan, progress)]
        return np.concatenate(parts).transpose(1, 0, 2)

    def transcribe(self, audio: str | Path | np.ndarray, progress: Progress | None = None,
                   source: str | None = None) -> np.ndarray:
        """`(N, 4)` notes (onset s, offset s, pitch, velocity) of an audio file (streamed) or a mono
        float32 waveform (S,) at the features' sample rate. `progress(done, total)` is called after
        each batch of windows. InferenceError naming the input when the model's output is not finite."""
        windows = self.windows(audio, source)
        name = windows.source
        if self.head == "frames":
            if self.t.head.frames is None:
                raise ConfigError(f"the run at {self.t.path} has no frame head")
            task = self.t.task
            notes_of = FrameNotes(partial(self.thresholds.notes, frame_rate=task.frame_rate), task.frame_rate,
                                  int(BLOCK_SECONDS * task.frame_rate))
            plan = Plan(self._frames_forward, "crop", self.batch_size)
            for part in run(windows, self.t.features, plan, progress):
                notes_of.add(part["frame posteriors"])
            notes = notes_of.finish()
        else:
            plan = Plan(self._seq2seq_forward(name), "each", self.batch_size)
            segments = [p["segments"] for p in run(windows, self.t.features, plan, progress)]
            starts = [round(s / self.sample_rate, 9) for s in self.windowing.starts(windows.total)]
            notes = stitch(segments, starts)[0]
        duration = windows.total / self.sample_rate
        notes = notes[notes[:, 0] < duration]
        notes[:, 1] = np.minimum(notes[:, 1], duration)
        return notes[notes[:, 1] - notes[:, 0] >= MIN_NOTE_SECONDS]

    def transcribe_file(self, path: str | Path, progress: Progress | None = None) -> np.ndarray:
        """Notes of an audio file, decoded and resampled as it is read (see `transcribe`)."""
        return self.transcribe(Path(path), progress)
