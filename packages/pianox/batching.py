"""Batches of waveforms for any stage that runs the features (training, evaluation, inference).

An example's waveform (`load_waveform`), a zero-padded (B, S) batch of several
(`pad_waveforms`), its (B, T, F) features with every row padded past its own length
(`features_of`), the (B, T) mask of real frames (`frame_mask`) and moving a batch to a device
(`to_device`). The training engine's Collate and the inference windows both use these, so a
window is featurised exactly as a training segment was.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from .api import Example, Features


def load_waveform(example: "Example", sample_rate: int) -> np.ndarray:
    """The mono float32 waveform of `example` at `sample_rate` Hz, shape (S,): its in-memory
    audio (resampled when recorded at another rate) or its span of `audio_path`."""
    if example.audio is not None:
        audio = np.asarray(example.audio, dtype=np.float32)
        if example.sample_rate is not None and example.sample_rate != sample_rate:
            from .audio import resample

            audio = resample(audio, example.sample_rate, sample_rate)
        return audio
    from .audio import load_example

    return load_example(example, sample_rate)


def pad_waveforms(waves: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """((B, S) float32 zero-padded batch, (B,) int64 lengths in samples) of mono waveforms."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    wave = torch.zeros(len(waves), int(lengths.max()) if len(waves) else 0)
    for i, w in enumerate(waves):
        wave[i, : len(w)] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
    return wave, lengths


@functools.lru_cache(maxsize=None)
def _takes_lengths(kind: type) -> bool:
    try:
        return "lengths" in inspect.signature(kind.__call__).parameters
    except (TypeError, ValueError):
        return False


def features_of(features: "Features", wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, F) features of a zero-padded (B, S) batch whose rows hold `lengths` samples.
    Stages that accept `lengths` pad each row past its own frames with their pad value (so a
    row does not depend on its batch); others get the waveform alone."""
    if _takes_lengths(type(features)):
        return features(wave, lengths=lengths)
    return features(wave)


def frame_mask(features: "Features", lengths: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """((B,) real frames of rows holding `lengths` samples, (B, num_frames) bool mask, True =
    a real frame) for features `num_frames` long."""
    frames = torch.tensor([features.num_frames(int(n)) for n in lengths], dtype=torch.long)
    frames = frames.clamp(max=num_frames)
    return frames, torch.arange(num_frames)[None, :] < frames[:, None]


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move every tensor of a batch to `device` (other values are kept as they are)."""
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
            for k, v in batch.items()}
