"""Predicting ratings: segments -> clips, summary metrics, and batched inference over examples.

A clip is the unit of evaluation: a source with `segment_seconds > 0` (and `pianox rate` on
long files) yields several examples per clip with keys `clip@start`, whose predictions are
averaged. `predict_examples` runs a trained model over any list of `Example`s through the
engine's own collate (the same features, padding and task collate as training).
"""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

import numpy as np
import torch

from .dimensions import DIMENSIONS, audible_indices
from .metrics import mean_over_dims, mse, pearson, r2_score


def clip_of(key: str) -> str:
    """The clip a segment key belongs to: `clip@start` -> `clip` (other keys unchanged)."""
    return key.rsplit("@", 1)[0] if "@" in key else key


def aggregate_clips(clips: Sequence[str], preds: np.ndarray, targets: np.ndarray | None = None
                    ) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Average per-segment (M, K) predictions (and targets) over the segments of each clip.

    Returns (clip names in first-seen order, (N, K) predictions, (N, K) targets or None)."""
    order: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        order.setdefault(c, []).append(i)
    names = list(order)
    pred = np.stack([np.asarray(preds)[idx].mean(axis=0) for idx in order.values()])
    target = None if targets is None else np.stack([np.asarray(targets)[idx].mean(axis=0)
                                                    for idx in order.values()])
    return names, pred, target


def summary_metrics(pred: np.ndarray, target: np.ndarray, groups: Sequence[tuple[str, Sequence[int]]]
                    ) -> dict[str, float]:
    """Clip-level metrics: loss (MSE), pearson / r2 (means over dimensions), pearson_audible,
    and pearson/<group>, r2/<group> for each group of dimensions."""
    r, r2 = pearson(pred, target), r2_score(pred, target)
    out = {"loss": float(mse(pred, target).mean()), "pearson": float(mean_over_dims(r)),
           "r2": float(mean_over_dims(r2)), "pearson_audible": float(mean_over_dims(r[audible_indices()]))}
    for name, idx in groups:
        out[f"pearson/{name}"] = float(mean_over_dims(r[list(idx)]))
        out[f"r2/{name}"] = float(mean_over_dims(r2[list(idx)]))
    return out


def predict_examples(task: Any, model: Any, head: Any, features: Any, examples: Sequence[Any], *,
                     device: torch.device | str = "cpu", batch_size: int = 8, autocast: Any = None,
                     cache: tuple[Any, str] | None = None) -> dict[str, Any]:
    """Run a trained perception model over `examples`; returns {"clips": [...], "pred": (N, 19),
    "target": (N, 19) or None} with segments averaged per clip.

    Also returns the segment keys ("keys") and their (M, 19) predictions ("segment_pred").
    `cache = (source, split)` reads features from the engine's feature cache (as training with
    `cache_features = true` did) instead of decoding audio. Modules are put in eval mode.
    """
    from pianox.train.cache import CachedFeatures
    from pianox.train.data import Collate, EpochSampler, ExampleDataset, make_loader, to_device

    examples = list(examples)
    if cache is not None:
        dataset = CachedFeatures(examples, features, cache[0], cache[1])
    else:
        dataset = ExampleDataset(examples, features.sample_rate)
    collate = Collate(features, task, precomputed=cache is not None)
    sampler = EpochSampler(len(examples), shuffle=False, seed=0, epoch=0)
    loader = make_loader(dataset, collate, sampler, batch_size=batch_size, num_workers=0, seed=0)
    model.eval()
    head.eval()
    keys, clips, preds, targets = [], [], [], []
    with torch.no_grad(), (autocast() if autocast is not None else contextlib.nullcontext()):
        for batch in loader:
            batch = to_device(batch, torch.device(device))
            preds.append(task.predict(model, head, batch).float().cpu().numpy())
            if "ratings" in batch:
                targets.append(batch["ratings"].float().cpu().numpy())
            clips.extend(batch["clips"])
            keys.extend(batch["keys"])
    pred = np.concatenate(preds) if preds else np.zeros((0, len(DIMENSIONS)))
    target = np.concatenate(targets) if targets and len(targets) == len(preds) else None
    out = {"keys": keys, "segment_pred": pred}
    if not clips:
        return {**out, "clips": [], "pred": pred, "target": target}
    names, clip_pred, clip_target = aggregate_clips(clips, pred, target)
    return {**out, "clips": names, "pred": clip_pred, "target": clip_target}
