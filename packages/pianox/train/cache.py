"""Precomputed features in memory-mapped .npy shards, keyed by what produced them.

`[train] cache_features = true` computes every example's (T, F) features once and stores them
under `$PIANOX_CACHE` (default `~/.cache/pianox`)/features/<key>/, where the key hashes the
features stage (kind + config), the source (kind + config) and the split. A changed config is a
new key, so a stale cache is never read. The folder is built in a temporary sibling and renamed
into place, so an interrupted build leaves nothing that looks complete.

    index.json      {"keys": [...], "shard": [...], "start": [...], "frames": [...], "bins": F}
    shard-NNN.npy   float32 (sum of frames, F), read with numpy's mmap_mode="r"
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import atomic
from ..api import Example
from ..schema import to_table
from .data import load_waveform

SHARD_FRAMES = 1 << 20  # frames per shard (128 bins x 4 bytes: 512 MiB at most)


def cache_root() -> Path:
    return Path(os.environ.get("PIANOX_CACHE", Path.home() / ".cache" / "pianox")).expanduser()


def cache_key(features: Any, source: Any, split: str) -> str:
    """Hash of the features and source configs and the split (16 hex digits)."""
    blob = json.dumps({"features": [features.name, to_table(features.config)],
                       "source": [source.name, to_table(source.config)], "split": split},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build(path: Path, examples: Sequence[Example], features: Any) -> None:
    """Compute and store the features of `examples` at `path` (atomically, as a whole)."""
    keys, shard_of, start_of, frames_of, rows_of = [], [], [], [], []
    with atomic.atomic_dir(path) as tmp:
        shard, buffer, used = 0, [], 0

        def flush() -> None:
            nonlocal shard, buffer, used
            if buffer:
                np.save(tmp / f"shard-{shard:03d}.npy", np.concatenate(buffer, axis=0))
                shard, buffer, used = shard + 1, [], 0

        for example in examples:
            wave = torch.from_numpy(load_waveform(example, features.sample_rate))[None]
            with torch.no_grad():
                feats = features(wave)[0].numpy().astype(np.float32)
            frames = min(features.num_frames(wave.shape[1]), feats.shape[0])
            rows = feats.shape[0]  # real frames + the stage's own padding (target_frames)
            if used and used + rows > SHARD_FRAMES:
                flush()
            keys.append(example.key)
            shard_of.append(shard)
            start_of.append(used)
            frames_of.append(frames)
            rows_of.append(rows)
            buffer.append(feats)
            used += rows
        flush()
        index = {"keys": keys, "shard": shard_of, "start": start_of, "frames": frames_of,
                 "rows": rows_of, "bins": int(features.num_bins)}
        (tmp / "index.json").write_text(json.dumps(index))


class CachedFeatures(Dataset):
    """(example, (T, F) float32 features, real frames) read from a cache folder (built if
    missing)."""

    def __init__(self, examples: Sequence[Example], features: Any, source: Any, split: str):
        self.examples = list(examples)
        self.path = cache_root() / "features" / cache_key(features, source, split)
        index_file = self.path / "index.json"
        index = json.loads(index_file.read_text()) if index_file.exists() else None
        if index is None or "rows" not in index or index["keys"] != [e.key for e in self.examples]:
            build(self.path, self.examples, features)
            index = json.loads(index_file.read_text())
        self.index = index
        self._shards: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[Example, np.ndarray, int]:
        """(example, (T, F) features as the stage returned them, real frames <= T)."""
        shard = self.index["shard"][i]
        if shard not in self._shards:  # opened lazily, so each worker maps its own view
            self._shards[shard] = np.load(self.path / f"shard-{shard:03d}.npy", mmap_mode="r")
        start, rows = self.index["start"][i], self.index["rows"][i]
        return self.examples[i], np.array(self._shards[shard][start:start + rows]), self.index["frames"][i]
