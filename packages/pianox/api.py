"""The five stage contracts. Each plugin is a class with a `name` and a nested `Config` dataclass.

Data flows one way: source -> features -> model -> task, all placed by the backend.

    source    corpus -> `Example`s (audio path or waveform, span in seconds, targets)
    features  (B, S) waveform at `sample_rate` -> (B, T, F) features at `frame_rate` frames/s
    model     (B, T, F) features (+ (B, T) padding mask) -> (B, N, D) token states
    task      head + loss + decode + metrics on top of the model's token states
    backend   device, autocast dtype, attention implementation

The TOML table of a stage is `kind = "<entry point name>"` plus the fields of `Config`.
Defaults live in `Config` only. This module imports no torch at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

GROUPS: dict[str, str] = {
    "source": "pianox.sources",
    "features": "pianox.features",
    "model": "pianox.models",
    "task": "pianox.tasks",
    "backend": "pianox.backends",
}
"""Stage table name -> entry-point group."""

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    """One item of a corpus: where its audio is, which span to use, and its targets.

    `start` and `duration` are in seconds (`duration=None`: to the end of the file). Sources that
    generate audio in memory set `audio` (mono float32) and `sample_rate` instead of a path.
    `targets` is task-specific (notes, ratings, drum hits, ...), in seconds and MIDI pitch.
    """

    key: str
    audio_path: Path | None = None
    start: float = 0.0
    duration: float | None = None
    targets: Mapping[str, Any] = field(default_factory=dict)
    audio: "np.ndarray | None" = field(default=None, repr=False, compare=False)
    sample_rate: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Plugin(Protocol):
    """What every stage plugin has: a registry name and a Config dataclass."""

    name: ClassVar[str]
    Config: ClassVar[type]


@runtime_checkable
class Source(Plugin, Protocol):
    """A corpus reader. `examples(split)` lists the examples of "train"/"validation"/"test"."""

    config: Any

    def examples(self, split: str) -> Sequence[Example]: ...


@runtime_checkable
class Features(Plugin, Protocol):
    """Waveform -> features. `__call__` maps (B, S) float32 at `sample_rate` Hz to (B, T, F)."""

    config: Any
    sample_rate: int
    num_bins: int
    frame_rate: float

    def __call__(self, waveform: "torch.Tensor") -> "torch.Tensor": ...

    def num_frames(self, num_samples: int) -> int: ...


@runtime_checkable
class Model(Plugin, Protocol):
    """An encoder (a torch.nn.Module): (B, T, F) features -> (B, N, D) token states.

    Built as `Model(config, num_bins=F)`. `dim` is D. `padding_mask` is (B, T) bool with True on
    real frames; padded frames must not change the states of real tokens.
    """

    config: Any
    dim: int

    def __call__(self, features: "torch.Tensor", padding_mask: "torch.Tensor | None" = None,
                 **kwargs: Any) -> "torch.Tensor": ...


@runtime_checkable
class Task(Plugin, Protocol):
    """Head, loss, decoding and metrics for one use of the encoder.

    The engine calls, in order: `build_head(model, features)` once (a torch.nn.Module holding
    every trainable parameter the task adds); `collate(examples, batch)` in data-loader workers
    to add target tensors to a batch that already has "waveform" (B, S), "lengths" (B,),
    "features" (B, T, F) and "padding_mask" (B, T); `loss(model, head, batch)` per training
    step -> (scalar loss, {name: float}); `evaluate(model, head, batches)` -> {metric: float}
    on a validation/test split; `finish(run)` once at the end (plots, outputs). A task may
    also define `prepare(source)`, called before training starts (e.g. to refuse a source
    whose splits leak).
    """

    config: Any

    def build_head(self, model: Any, features: Features) -> "torch.nn.Module": ...

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]: ...

    def loss(self, model: Any, head: "torch.nn.Module", batch: dict[str, Any]
             ) -> "tuple[torch.Tensor, dict[str, float]]": ...

    def evaluate(self, model: Any, head: "torch.nn.Module", batches: Any) -> dict[str, float]: ...

    def finish(self, run: Any) -> None: ...


@runtime_checkable
class Backend(Plugin, Protocol):
    """Where and how tensors run: device, autocast dtype, attention implementation."""

    config: Any

    @classmethod
    def available(cls) -> bool: ...

    @property
    def device(self) -> "torch.device": ...

    @property
    def autocast_dtype(self) -> "torch.dtype | None": ...

    @property
    def attention(self) -> str: ...

    def synchronize(self) -> None: ...

    def prepare(self, module: "torch.nn.Module") -> "torch.nn.Module": ...

