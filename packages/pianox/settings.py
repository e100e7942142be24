"""The engine's own tables: [run], [train] and [eval]. Defaults live here and only here.

Fields with `metadata={"semantic": False}` change how a run executes, not what it computes,
so they are left out of the experiment hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .augment import AugmentConfig

_HOW = {"semantic": False}


@dataclass
class RunConfig:
    """[run]: naming and placing the run directory `<output_dir>/<name>-<hash8>/`."""

    name: str = "experiment"
    """Run name (defaults to the experiment file's stem)."""
    seed: int = 0
    """Seed for Python, numpy, torch and data-loader workers."""
    output_dir: str = "runs"
    """Parent folder of run directories."""
    tensorboard: bool = True
    """Write TensorBoard events when the tensorboard package is installed."""

    def validate(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"name {self.name!r} must be a non-empty file name without '/'")


@dataclass
class TrainConfig:
    """[train]: optimisation, schedule, checkpoints and stopping."""

    epochs: int = 1
    """Passes over the training split (stops earlier at max_steps)."""
    max_steps: int = 0
    """Optimizer steps at most (0 = epochs decide)."""
    batch_size: int = 8
    """Examples per micro-batch (the global batch is batch_size x accumulate x world size)."""
    accumulate: int = 1
    """Micro-batches per optimizer step."""
    lr: float = 1e-4
    """Peak learning rate of the encoder (and of the head unless head_lr is set)."""
    head_lr: float = 0.0
    """Peak learning rate of the task head (0 = same as lr)."""
    layer_decay: float = 1.0
    """Layer-wise lr decay: block i of L gets lr x layer_decay^(L - i) (1 = off)."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay; never applied to norms, biases and embeddings."""
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    """Decay after warmup."""
    warmup_steps: int = 0
    """Linear warmup from 0 to the peak lr."""
    min_lr_ratio: float = 0.0
    """Floor of the decay as a fraction of the peak lr."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 = off)."""
    freeze: Literal["full", "frozen", "last_k"] = "full"
    """Encoder training: all of it, none of it (linear probe), or its last `last_k` blocks."""
    last_k: int = 0
    """Blocks trained when freeze = "last_k"."""
    eval_every: int = 0
    """Evaluate every N optimizer steps (0 = once per epoch)."""
    log_every: int = field(default=10, metadata=_HOW)
    """Write a train line to metrics.jsonl every N steps."""
    num_workers: int = field(default=0, metadata=_HOW)
    """Data-loader worker processes."""
    metric: str = "val/loss"
    """Metric that picks the best checkpoint and drives early stopping."""
    mode: Literal["min", "max"] = "min"
    """Whether a lower or a higher `metric` is better."""
    patience: int = 0
    """Early stopping: evaluations without improvement before stopping (0 = off)."""
    checkpoint_every: int = field(default=0, metadata=_HOW)
    """Also save checkpoints/last every N optimizer steps (0 = at evaluations and epoch ends)."""
    keep_last: int = field(default=1, metadata=_HOW)
    """Step checkpoints kept besides last/ and best/ (0 = none)."""
    nan_policy: Literal["error", "skip"] = "error"
    """On a non-finite loss: stop with an error naming the step, or skip the batch."""
    cache_features: bool = field(default=False, metadata=_HOW)
    """Precompute features once into memory-mapped .npy shards keyed by the features config."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """[train.augment]: waveform (stretch, pitch, gain, noise) and SpecAugment, training only.
    Mixup of regression targets is applied by the tasks that have them."""

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "accumulate"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "warmup_steps", "eval_every", "patience", "keep_last", "last_k",
                     "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr < 0 or self.head_lr < 0 or self.weight_decay < 0:
            raise ValueError("lr, head_lr and weight_decay must be >= 0")
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay must be in (0, 1], got {self.layer_decay}")
        if self.cache_features and self.augment.waveform_active():
            raise ValueError("cache_features cannot be combined with waveform augmentation "
                             f"({', '.join(self.augment.waveform_active())}: the cache holds "
                             "un-augmented features)")


@dataclass
class EvalConfig:
    """[eval]: what is evaluated during and after training."""

    split: str = "validation"
    """Split evaluated during training (drives best/ and early stopping)."""
    test: bool = True
    """After training, evaluate the best checkpoint on the test split."""
    batch_size: int = 0
    """Evaluation batch size (0 = the training batch size)."""
    max_examples: int = 0
    """Validate during training on a seeded random sample of at most this many examples
    (0 = the whole split). Never applies to the final test or to `pianox eval`."""
    test_sample: int = 0
    """Score the final test (and `pianox eval`) on a seeded random sample of this many examples
    (0 = the whole split, the default); the sample's size and seed are written into the report."""

    def validate(self) -> None:
        if self.max_examples < 0 or self.test_sample < 0 or self.batch_size < 0:
            raise ValueError("batch_size, max_examples and test_sample must be >= 0")
