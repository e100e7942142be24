"""PercePiano perception (task `perception`): 19 ratings in [0, 1] from pooled encoder states.

Head: `head.PerceptionHead` (pooling, one MLP per dimension group or one shared MLP, targets
standardised with training statistics). Loss: weighted MSE per group in standardised units,
combined by homoscedastic uncertainty weighting (Kendall et al., 2018; `balance.py`) or as a
plain weighted MSE. Mixup (Zhang et al., 2018) of features and ratings is drawn in `loss`, the
one hook that only training calls (the engine's SpecAugment has already been applied).

Evaluation averages the predictions of a clip's segments (keys `clip@start`) and scores clips:
`pearson` and `r2` are means over the 19 dimensions (sklearn-style R^2, as PercePiano
reports), `pearson_audible` the mean over `dimensions.AUDIBLE`, `pearson/<group>` per group.
`finish` writes per-clip predictions, the results table with bootstrap intervals (JSON,
Markdown, bar chart), an optional paired test against a baseline run and attention rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from torch import nn

from pianox.api import Example
from pianox.errors import ConfigError, DataError, TrainingError

from .dimensions import DEFAULT_GROUPS, DIMENSIONS, resolve_groups
from .head import PerceptionHead
from .predict import aggregate_clips, clip_of, summary_metrics


def unwrap(module: Any) -> Any:
    """The module inside a DistributedDataParallel (or similar) wrapper."""
    return getattr(module, "module", module)


def encode(model: Any, features: torch.Tensor, padding_mask: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, F) features, (B, T) bool mask -> (B, N, D) token states, (B, N) bool real-token mask.

    The real-token mask is the encoder's own `token_mask` when it has one (AST, cnn, ffn), the
    frame mask for an encoder with one token per frame, else all tokens."""
    states = model(features, padding_mask=padding_mask)
    token_mask = getattr(unwrap(model), "token_mask", None)
    if callable(token_mask):
        real = token_mask(padding_mask)
    elif states.shape[1] == padding_mask.shape[1]:
        real = padding_mask
    else:
        real = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
    return states, real.to(states.device)


class PerceptionTask:
    """19 PercePiano ratings per clip (see module doc); metrics `pearson`, `r2`, `loss`."""

    name = "perception"

    @dataclass
    class Config:
        pool: Literal["prefix", "mean", "attention"] = "mean"
        """How token states become one vector: cls/distillation tokens, mean of real patch
        tokens, or learned attention weights over them (one per group)."""
        layout: Literal["grouped", "shared"] = "grouped"
        """One MLP per group of dimensions, or one MLP for all 19."""
        groups: dict[str, list[str]] = field(
            default_factory=lambda: {k: list(v) for k, v in DEFAULT_GROUPS.items()})
        """Group name -> categories (Timing, Articulation, Pedal, Timbre, Dynamic,
        Music_Making, Emotion_&_Mood, Interpretation) or dimension names; each dimension once."""
        hidden: int = 256
        """Hidden units of each group MLP (0 = a linear layer: a linear probe)."""
        dropout: float = 0.1
        normalise: Literal["dimension", "group", "none"] = "dimension"
        """Standardise targets per dimension, per group (shared mean/std), or not at all."""
        balance: Literal["uncertainty", "none"] = "uncertainty"
        """Combine group losses by learned uncertainty weights (Kendall et al.) or plainly."""
        weights: dict[str, float] = field(default_factory=dict)
        """Dimension name -> weight in the MSE (others 1)."""
        mixup_prob: float = 0.0
        """Probability that a training clip is blended with another (features and ratings)."""
        mixup_alpha: float = 0.4
        """Blend weights ~ Beta(alpha, alpha)."""
        bootstrap: int = 1000
        """Bootstrap resamples (of clips) for the confidence intervals written by `finish`."""
        baseline: str = ""
        """A finished perception run to compare with (paired tests on the same test clips)."""
        rollout_clips: int = 1
        """Test clips drawn as attention-rollout PNGs by `finish` (AST encoders)."""
        cache_states: bool = False
        """With a frozen encoder (`[train] freeze = "frozen"`), compute each example's token
        states once and reuse them (keyed by example key) in later epochs and evaluations:
        a linear probe then costs one encoder pass. The first pass's features are the ones
        cached, so leave SpecAugment off; not combinable with mixup."""

        def validate(self) -> None:
            try:
                resolve_groups(self.groups)
            except ValueError as exc:
                raise ValueError(f"groups: {exc}") from None
            unknown = [k for k in self.weights if k not in DIMENSIONS]
            if unknown:
                raise ValueError(f"weights: unknown dimension {unknown[0]!r}")
            if any(w < 0 for w in self.weights.values()):
                raise ValueError("weights must be >= 0")
            if not 0.0 <= self.mixup_prob <= 1.0 or self.mixup_alpha <= 0:
                raise ValueError("need 0 <= mixup_prob <= 1 and mixup_alpha > 0")
            if self.hidden < 0 or not 0.0 <= self.dropout < 1.0:
                raise ValueError("need hidden >= 0 and 0 <= dropout < 1")
            if self.bootstrap < 0 or self.rollout_clips < 0:
                raise ValueError("bootstrap and rollout_clips must be >= 0")
            if self.cache_states and self.mixup_prob > 0:
                raise ValueError("cache_states reuses the states of unmixed clips; set mixup_prob = 0")

    def __init__(self, config: "PerceptionTask.Config | None" = None):
        self.config = config if config is not None else self.Config()
        self.groups = resolve_groups(self.config.groups)
        self._states: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_states"] = {}  # data-loader workers never need the state cache
        return state

    # ------------------------------------------------------------------------------ contract

    def build_head(self, model: Any, features: Any) -> nn.Module:
        prefix = int(getattr(model, "num_prefix_tokens", 0))
        if self.config.pool == "prefix" and prefix == 0:
            raise ConfigError(f"[task] kind = 'perception': pool = 'prefix' needs an encoder with "
                              f"cls/distillation tokens; {type(model).__name__} has none "
                              f"(use pool = 'mean' or 'attention')")
        c = self.config
        return PerceptionHead(model.dim, prefix, self.groups, outputs=len(DIMENSIONS), layout=c.layout,
                              pool=c.pool, hidden=c.hidden, dropout=c.dropout, normalise=c.normalise,
                              balance=c.balance, dim_weights=[c.weights.get(d, 1.0) for d in DIMENSIONS])

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]:
        """Adds "ratings" (B, 19) float32 when the examples carry them (inference inputs do
        not) and "clips" (the clip each segment belongs to)."""
        have = ["ratings" in e.targets for e in examples]
        if any(have):
            missing = [e.key for e, h in zip(examples, have) if not h]
            if missing:
                raise DataError(f"perception: example {missing[0]!r} has no ratings while others "
                                f"in its batch do")
            rows = []
            for e in examples:
                r = np.asarray(e.targets["ratings"], dtype=np.float32).reshape(-1)
                if r.shape[0] != len(DIMENSIONS) or not np.isfinite(r).all():
                    raise DataError(f"perception: example {e.key!r} has ratings of shape {r.shape} "
                                    f"(need {len(DIMENSIONS)} finite values)")
                rows.append(r)
            batch["ratings"] = torch.from_numpy(np.stack(rows))
        batch["clips"] = [clip_of(k) for k in batch["keys"]]
        return batch

    def encode(self, model: Any, batch: dict[str, Any], features: torch.Tensor | None = None,
               padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states and real-token mask of a batch (`encode`), without autograd through a
        frozen encoder, and from the state cache when `cache_states` is on (see Config)."""
        feats = batch["features"] if features is None else features
        mask = batch["padding_mask"] if padding_mask is None else padding_mask
        frozen = not any(p.requires_grad for p in model.parameters())
        if not frozen:
            return encode(model, feats, mask)
        with torch.no_grad():
            if not self.config.cache_states:
                return encode(model, feats, mask)
            keys = batch["keys"]
            todo = [i for i, k in enumerate(keys) if k not in self._states]
            if todo:
                states, real = encode(model, feats[todo], mask[todo])
                for j, i in enumerate(todo):
                    self._states[keys[i]] = (states[j].detach(), real[j].detach())
            got = [self._states[k] for k in keys]
        n = max(s.shape[0] for s, _ in got)
        states = torch.stack([nn.functional.pad(s, (0, 0, 0, n - s.shape[0])) for s, _ in got])
        real = torch.stack([nn.functional.pad(r, (0, n - r.shape[0]), value=False) for _, r in got])
        return states, real

    def standardised(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        """(B, 19) standardised head outputs for a batch."""
        return head(*self.encode(model, batch))

    def predict(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        """(B, 19) ratings in [0, 1] for a batch (call under torch.no_grad, modules in eval)."""
        return unwrap(head).ratings(self.standardised(model, head, batch))

    def loss(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        if "ratings" not in batch:
            raise TrainingError("perception: training batch without ratings (does the source "
                                "set targets = true?)")
        h = unwrap(head)
        ratings = batch["ratings"].float()
        h.observe(ratings)  # clean targets: statistics of the training split
        feats, mask = batch["features"], batch["padding_mask"]
        if self.config.mixup_prob > 0:
            feats, mask, ratings = self._mixup(feats, mask, ratings)
        states, real = self.encode(model, batch, feats, mask)
        losses = h.group_losses(head(states, real), ratings)
        total = h.combine(losses)
        logs = {f"loss/{name}": float(v) for (name, _), v in zip(h.groups, losses.detach())}
        if h.balance is not None:
            logs.update({f"weight/{name}": float(w) for (name, _), w in zip(h.groups, h.balance.weights())})
        return total, logs

    def _mixup(self, feats: torch.Tensor, mask: torch.Tensor, ratings: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Blend (B, T, F) features, their (B, T) masks (a frame is real if real in either
        clip) and (B, 19) ratings with random partners (`pianox.augment.apply_mixup`)."""
        from pianox.augment import AugmentConfig, apply_mixup

        # seeded off torch's global RNG, which checkpoints restore: resumed runs draw alike
        rng = np.random.default_rng(int(torch.randint(2**62, (1,))))
        cfg = AugmentConfig(mixup_prob=self.config.mixup_prob, mixup_alpha=self.config.mixup_alpha)
        stacked = torch.cat([feats, mask.unsqueeze(-1).to(feats.dtype)], dim=-1)
        mixed, ratings = apply_mixup(stacked, ratings, rng, cfg)
        return mixed[..., :-1].contiguous(), mixed[..., -1] > 0, ratings

    def evaluate(self, model: Any, head: nn.Module, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        clips, preds, targets = [], [], []
        for batch in batches:
            if "ratings" not in batch:
                raise DataError("perception: evaluation batch without ratings")
            preds.append(self.predict(model, head, batch).float().cpu().numpy())
            targets.append(batch["ratings"].float().cpu().numpy())
            clips.extend(batch["clips"])
        if not clips:
            return {}
        names, pred, target = aggregate_clips(clips, np.concatenate(preds), np.concatenate(targets))
        return summary_metrics(pred, target, self.groups)

    def prepare(self, source: Any) -> None:
        """Before training: refuse a source whose train/validation/test splits share a
        performer or an excerpt (DataError), so a leaky split costs no training time."""
        from .splits import check_source

        check_source(source)

    def finish(self, run: Any) -> None:
        from .finish import finish_run

        finish_run(self, run)
