"""Transcribing audio with a trained run: load it, cut long audio into segments, stitch.

`load_trained(path)` accepts a run directory (config.toml + checkpoints/best) or a checkpoint
folder inside one. `Transcriber.transcribe(waveform)` cuts the waveform into back-to-back
segments of the training segment length (the last one zero-padded), encodes them in
batches, and joins the result: seq2seq segments through their ties, frame posteriors laid
end to end and decoded once. Notes after the end of the audio are dropped or cut (and
dropped when that leaves less than 10 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from pianox.errors import ConfigError
from pianox.finite import require_finite

from .generate import DecodeOptions
from .pieces import lay_out
from .predict import TranscriptionHead, decode_segments, encode, frame_logits, frame_posteriors
from .stitch import segment_starts, stitch

MIN_NOTE_SECONDS = 0.01
"""Notes shorter than this after cutting them at the end of the audio are dropped."""


@dataclass
class Trained:
    """A trained transcription run ready for inference (all modules in eval mode)."""

    path: Path
    experiment: Any
    features: Any
    model: Any
    task: Any
    head: TranscriptionHead
    device: torch.device


def load_trained(path: str | Path, device: str = "cpu") -> Trained:
    """Rebuild the features, encoder, task and head of a finished transcription run and load
    its best weights onto `device`. CheckpointError / ConfigError name what does not fit."""
    from pianox.devices import parse_device
    from pianox.trained import load_run

    dev = parse_device(device)  # before loading: a device this machine lacks fails at once
    run = load_run(Path(path), task="transcription", backend="cpu")
    run.model.to(dev)
    run.head.to(dev)
    s = run.stages
    return Trained(run.path, run.experiment, s.features, run.model, s.task, run.head, dev)


class Transcriber:
    """Audio -> notes with a `Trained` run and one of its heads ("seq2seq" or "frames")."""

    def __init__(self, trained: Trained, head: str | None = None, options: DecodeOptions | None = None,
                 batch_size: int = 8):
        self.t = trained
        available = trained.task.heads
        self.head = head or available[-1]  # "both" trains frames last: the faster head by default
        if self.head not in available:
            raise ConfigError(f"the run at {trained.path} has no {self.head!r} head (it has "
                              f"{', '.join(available)})")
        self.options = options or trained.task.config.decode_options()
        self.batch_size = batch_size
        source_segment = float(getattr(trained.experiment.stages["source"].config, "segment_seconds", 0) or 0)
        self.segment = source_segment or trained.task.config.segment_seconds

    def _encoded(self, y: np.ndarray, progress: Callable[[int, int], None] | None
                 ) -> Iterator[tuple[list[float], torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(segment starts s, features (b, T, F), states (b, N, D), token mask (b, N)) per batch of
        the back-to-back segments covering `y` (the last one zero-padded)."""
        sr = self.t.features.sample_rate
        starts = segment_starts(len(y) / sr, self.segment)
        seg_len = int(round(self.segment * sr))
        padded = np.zeros(len(starts) * seg_len, dtype=np.float32)
        padded[: len(y)] = y
        for first in range(0, len(starts), self.batch_size):
            chunk = starts[first:first + self.batch_size]
            wave = padded[first * seg_len:(first + len(chunk)) * seg_len].reshape(len(chunk), seg_len)
            feats = self.t.features(torch.from_numpy(wave)).to(self.t.device)
            mask = torch.ones(feats.shape[:2], dtype=torch.bool, device=self.t.device)
            yield (chunk, feats, *encode(self.t.model, feats, mask))
            if progress is not None:
                progress(first + len(chunk), len(starts))

    @torch.no_grad()
    def posteriors(self, waveform: np.ndarray, progress: Callable[[int, int], None] | None = None,
                   source: str = "waveform") -> np.ndarray:
        """The frame head's (4, T, 88) posteriors (onset, frame, offset, velocity) of a waveform,
        frame j at j / frame_rate seconds (e.g. to tune decoding thresholds). InferenceError
        naming `source` when they are not finite."""
        if self.t.head.frames is None:
            raise ConfigError(f"the run at {self.t.path} has no frame head")
        y = np.asarray(waveform, dtype=np.float32).reshape(-1)
        posts = []
        for chunk, feats, states, _ in self._encoded(y, progress):
            probs = frame_posteriors(frame_logits(self.t.model, self.t.head, states, feats.shape[1]))
            require_finite(probs, source, "frame posteriors")
            posts += list(zip(chunk, probs))
        return lay_out(posts, self.t.task.frame_rate)

    @torch.no_grad()
    def transcribe(self, waveform: np.ndarray, progress: Callable[[int, int], None] | None = None,
                   source: str = "waveform") -> np.ndarray:
        """`(N, 4)` notes (onset s, offset s, pitch, velocity) of a mono float32 waveform (S,) at
        the features' sample rate. `progress(done, total)` is called after each batch of segments.
        InferenceError naming `source` when the model's output is not finite."""
        y = np.asarray(waveform, dtype=np.float32).reshape(-1)
        duration = len(y) / self.t.features.sample_rate
        if self.head == "frames":
            notes = self.t.task.frames_to_notes(self.posteriors(y, progress, source))
        else:
            decoder = self.t.head.decoder
            decoder.attention_impl = getattr(self.t.model, "attention_impl", "auto")
            segments, starts = [], []
            for chunk, _, states, token_mask in self._encoded(y, progress):
                require_finite(states, source, "encoder states")
                segments += decode_segments(decoder, states, token_mask, self.t.task.vocab,
                                            [self.segment] * len(chunk), self.options)[1]
                starts += chunk
            notes = stitch(segments, starts)[0]
        notes = notes[notes[:, 0] < duration]
        notes[:, 1] = np.minimum(notes[:, 1], duration)
        return notes[notes[:, 1] - notes[:, 0] >= MIN_NOTE_SECONDS]

    def transcribe_file(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Notes of an audio file (decoded, downmixed and resampled to the features' rate)."""
        from pianox.audio import read_audio

        y, _ = read_audio(path, self.t.features.sample_rate)
        return self.transcribe(y, progress, str(path))
