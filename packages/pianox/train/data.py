"""Batches for the engine: examples -> padded waveforms -> features -> task targets.

Features are computed on the fly inside data-loader workers (on CPU, through the features
stage), so the model only ever sees (B, T, F) tensors and a (B, T) padding mask. The order of
examples is a pure function of (seed, epoch), which is what makes resumption bit-exact.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..api import Example, Features, Task
from ..augment import AugmentConfig, apply_features, apply_waveform
from ..batching import features_of, frame_mask, load_waveform, pad_waveforms, to_device

__all__ = ["Collate", "EpochSampler", "ExampleDataset", "features_of", "load_waveform", "make_loader", "to_device"]


class ExampleDataset(Dataset):
    """Indexable examples with their audio loaded at the features' sample rate.

    With `augment`, each waveform is augmented (targets moved along) with a generator seeded by
    (seed, epoch, index), so the result does not depend on worker count or order.
    """

    def __init__(self, examples: Sequence[Example], sample_rate: int, augment: AugmentConfig | None = None,
                 seed: int = 0, epoch: int = 0):
        self.examples = list(examples)
        self.sample_rate = sample_rate
        self.augment, self.seed, self.epoch = augment, seed, epoch

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> tuple[Example, np.ndarray]:
        example = self.examples[index]
        wave = load_waveform(example, self.sample_rate)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            wave, targets = apply_waveform(wave, self.sample_rate, example.targets, rng, self.augment)
            example = dataclasses.replace(example, targets=targets)
        return example, wave


class Collate:
    """Pads waveforms to (B, S), computes features (B, T, F) and the (B, T) padding mask, then
    lets the task add its targets. Picklable, so it runs in worker processes. With
    `precomputed`, items carry (T, F) features (a feature cache) instead of waveforms."""

    def __init__(self, features: Features, task: Task, precomputed: bool = False,
                 augment: AugmentConfig | None = None, seed: int = 0):
        self.features = features
        self.task = task
        self.precomputed = precomputed
        self.augment, self.seed = augment, seed

    def _spec_augment(self, feats: torch.Tensor, frames: torch.Tensor, keys: list[str]) -> torch.Tensor:
        """SpecAugment masks (training only), seeded by the batch's keys."""
        a = self.augment
        if a is None or not (a.freq_mask_prob or a.time_mask_prob):
            return feats
        rng = np.random.default_rng([self.seed, zlib.crc32("\0".join(keys).encode())])
        return apply_features(feats, rng, a, frames)

    def __call__(self, items: Sequence[tuple[Example, np.ndarray]]) -> dict[str, Any]:
        if self.precomputed:
            return self._from_features(items)
        examples = [e for e, _ in items]
        wave, lengths = pad_waveforms([w for _, w in items])
        with torch.no_grad():
            feats = features_of(self.features, wave, lengths)
        frames, padding_mask = frame_mask(self.features, lengths, feats.shape[1])
        keys = [e.key for e in examples]
        feats = self._spec_augment(feats, frames, keys)
        batch = {"waveform": wave, "lengths": lengths, "features": feats, "frames": frames,
                 "padding_mask": padding_mask, "keys": keys}
        return self.task.collate(examples, batch)

    def _from_features(self, items: Sequence[tuple[Example, np.ndarray, int]]) -> dict[str, Any]:
        """Cached (T_i, F) rows (the stage's own padding included) and their real frames; the
        mask marks only real frames (rows shorter than the batch are zero-padded)."""
        examples = [e for e, _, _ in items]
        frames = torch.tensor([n for _, _, n in items], dtype=torch.long)
        width = max((len(f) for _, f, _ in items), default=0)
        feats = torch.zeros(len(items), width, self.features.num_bins)
        for i, (_, f, _) in enumerate(items):
            feats[i, : len(f)] = torch.from_numpy(f)
        padding_mask = torch.arange(feats.shape[1])[None, :] < frames[:, None]
        keys = [e.key for e in examples]
        batch = {"features": self._spec_augment(feats, frames, keys), "frames": frames,
                 "padding_mask": padding_mask, "keys": keys}
        return self.task.collate(examples, batch)


class EpochSampler(Sampler[int]):
    """Indices of one epoch: a permutation seeded by (seed, epoch), sharded by rank, with the
    first `skip` indices of this rank's share dropped (resuming mid-epoch)."""

    def __init__(self, n: int, *, shuffle: bool, seed: int, epoch: int, skip: int = 0,
                 rank: int = 0, world: int = 1):
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, epoch
        self.skip, self.rank, self.world = skip, rank, world

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        if self.world > 1:  # pad so every rank gets the same count (as DistributedSampler does)
            total = -(-self.n // self.world) * self.world
            order = (order + order[: total - self.n])[self.rank::self.world]
        return order[self.skip:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        return len(self.indices())


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    import random

    random.seed(seed)
    _leave_signals_to_main()


def _leave_signals_to_main() -> None:
    """Let the main process alone answer SIGINT / SIGTERM sent to the whole process group.

    Ctrl-C, `timeout`, a container stop or a cluster scheduler (SLURM) signal every process of
    the job, workers included. A worker that died of it would make the main process fail with
    "DataLoader worker ... is killed by signal" instead of saving at the next step. So a worker
    ignores SIGINT, and ignores one SIGTERM: the main process, which got it too, stops at the
    next step and shuts its workers down. A second SIGTERM (the main process's own terminate()
    of a stuck worker, or a scheduler insisting) kills the worker as usual.
    """
    import signal

    def first_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, first_sigterm)


def make_loader(dataset: ExampleDataset, collate: Collate, sampler: Sampler, *, batch_size: int,
                num_workers: int, seed: int) -> DataLoader:
    """A DataLoader with its own generator: creating it never draws from torch's global RNG
    (which would make a resumed run diverge), and worker seeds depend on `seed` only."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate,
                      num_workers=num_workers, worker_init_fn=_seed_worker if num_workers else None,
                      generator=torch.Generator().manual_seed(seed), persistent_workers=False,
                      pin_memory=False)
