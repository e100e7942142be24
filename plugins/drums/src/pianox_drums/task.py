"""Drum transcription (task `drums`): frame-level multi-label onsets and velocities per class.

Head (`head.DrumHead`): per-frame onset logits and velocities for each class of the class map,
at the features' frame rate. Loss: binary cross-entropy on widened onset targets with per-class
positive weights (from the class frequencies of the training frames, or given), plus
`velocity_weight` x the squared velocity error on the frames hits land on. Evaluation decodes
hits by per-class peak picking (`pianox.decode.pick_peaks`) at `threshold` and scores them with
mir_eval's 50 ms onset matching (`val/f1_micro`, `val/f1_macro`, `val/f1_<class>`). At the end
of a run `finish` tunes one threshold per class on the validation split, stores them in
checkpoints/best/drums_thresholds.json and reports the test split with them (see evaluation.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pianox.api import Example
from pianox.errors import ConfigError, DataError

from .classes import drum_classes
from .decoding import posteriors_to_hits
from .head import DrumHead, token_geometry
from .metrics import clip_counts, scores
from .targets import frame_targets, positive_weights


class DrumsTask:
    """Multi-label drum onset transcription on top of any encoder (see module doc)."""

    name = "drums"

    @dataclass
    class Config:
        class_map: Literal["8-hit", "3-hit"] = "8-hit"
        """Classes predicted; must match the source's class_map."""
        target_width: int = 1
        """Frames either side of a hit that get the soft onset target."""
        target_soft: float = 0.5
        """Onset target of those neighbouring frames."""
        pos_weight: list[float] = field(default_factory=list)
        """Per-class BCE positive weights; empty = ((negatives / positives) ** pos_weight_power)
        from the onset frames seen in training."""
        pos_weight_power: float = 0.5
        """Exponent tempering frequency-derived weights (1 = plain inverse frequency)."""
        max_pos_weight: float = 100.0
        """Cap of frequency-derived weights (and the weight of a class not seen yet)."""
        velocity_weight: float = 0.5
        """Weight of the velocity regression loss."""
        context_kernel: int = 3
        """Width (time patches) of the head's temporal convolution; 0 = none."""
        dropout: float = 0.1
        """Dropout before the head's output layer."""
        threshold: float = 0.5
        """Onset threshold of evaluations during training (tuned per class at the end)."""
        min_gap: float = 0.02
        """Seconds within which two peaks of one class count as one hit."""
        tune: bool = True
        """At the end of the run, tune per-class thresholds on the validation split."""
        baseline: bool = True
        """At the end of the run, also score the librosa band-onset baseline (needs librosa)."""
        bootstrap: int = 1000
        """Bootstrap resamples (over clips) of the final confidence intervals; 0 = none."""
        window_seconds: float = 0.0
        """Sliding-window length for long audio (0 = the encoder's max_frames, else 10 s)."""
        hop_fraction: float = 0.5
        """Hop between windows as a fraction of the window."""

        def validate(self) -> None:
            if self.target_width < 0 or not 0.0 <= self.target_soft <= 1.0:
                raise ValueError("target_width must be >= 0 and target_soft in [0, 1]")
            if any(w <= 0 for w in self.pos_weight):
                raise ValueError("pos_weight values must be > 0")
            if self.max_pos_weight < 1 or self.pos_weight_power < 0 or self.velocity_weight < 0:
                raise ValueError("need max_pos_weight >= 1, pos_weight_power >= 0, velocity_weight >= 0")
            if not 0.0 < self.threshold < 1.0 or self.min_gap < 0:
                raise ValueError("threshold must be in (0, 1) and min_gap >= 0")
            if not 0.0 < self.hop_fraction <= 1.0 or self.window_seconds < 0:
                raise ValueError("hop_fraction must be in (0, 1] and window_seconds >= 0")
            if self.context_kernel < 0 or self.context_kernel % 2 == 0 and self.context_kernel:
                raise ValueError("context_kernel must be 0 or an odd number of time patches")
            if not 0.0 <= self.dropout < 1.0 or self.bootstrap < 0:
                raise ValueError("dropout must be in [0, 1) and bootstrap >= 0")

    def __init__(self, config: "DrumsTask.Config | None" = None):
        self.config = config or self.Config()
        self.classes = drum_classes(self.config.class_map)
        if self.config.pos_weight and len(self.config.pos_weight) != self.classes.count:
            raise ConfigError(f"[task] kind = 'drums': pos_weight has {len(self.config.pos_weight)} values, "
                              f"class_map {self.config.class_map!r} has {self.classes.count} classes")
        self.frame_rate: float | None = None

    # -------------------------------------------------------------------------------- head

    def build_head(self, model: Any, features: Any) -> nn.Module:
        self.frame_rate = float(features.frame_rate)
        return DrumHead(int(model.dim), self.classes.count, token_geometry(model),
                        self.config.context_kernel, self.config.dropout)

    @property
    def min_distance(self) -> int:
        """`min_gap` in frames (at least 1)."""
        return max(1, int(round(self.config.min_gap * self._rate())))

    def _rate(self) -> float:
        if self.frame_rate is None:
            raise RuntimeError("DrumsTask: build_head(model, features) sets the frame rate; call it first")
        return self.frame_rate

    # ------------------------------------------------------------------------------ batches

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]:
        hits = []
        for e in examples:
            source_map = (e.meta or {}).get("class_map")
            if source_map is not None and source_map != self.config.class_map:
                raise ConfigError(f"example {e.key!r} uses class_map {source_map!r} but [task] kind = 'drums' "
                                  f"has class_map {self.config.class_map!r}; set both to the same map")
            try:
                hits.append(np.asarray(e.targets["hits"], dtype=np.float64).reshape(-1, 3))
            except KeyError:
                raise DataError(f"example {e.key!r} has no 'hits' target (use a drum source such as "
                                f"egmd / egmd_twin with targets = true)") from None
        T = batch["features"].shape[1]
        onsets, velocity, exact = frame_targets(hits, T, self._rate(), self.classes.count,
                                                self.config.target_width, self.config.target_soft,
                                                [e.key for e in examples])
        batch.update(onset_targets=onsets, velocity_targets=velocity, onset_exact=exact, hits=hits)
        return batch

    def predict(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(onset logits (B, T, C), velocity (B, T, C) in [0, 1]) for a batch."""
        feats = batch["features"]
        states = model(feats, padding_mask=batch["padding_mask"])
        return head(states, feats.shape[1])

    def _loss_terms(self, head: nn.Module, batch: dict[str, Any], logits: torch.Tensor,
                    velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real = batch["padding_mask"].unsqueeze(-1).to(logits.dtype)  # (B, T, 1)
        exact = batch["onset_exact"] & batch["padding_mask"].unsqueeze(-1)
        if head.training:  # class frequencies of the training frames, accumulated
            head.positive_frames += exact.sum(dim=(0, 1)).to(head.positive_frames.dtype)
            head.seen_frames += real.sum().to(head.seen_frames.dtype)
        if self.config.pos_weight:
            weight = torch.tensor(self.config.pos_weight, dtype=logits.dtype, device=logits.device)
        else:
            weight = positive_weights(head.positive_frames, head.seen_frames, self.config.pos_weight_power,
                                      self.config.max_pos_weight).to(logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, batch["onset_targets"], pos_weight=weight,
                                                 reduction="none")
        onset = (bce * real).sum() / (real.sum() * logits.shape[-1]).clamp(min=1.0)
        ex = exact.to(velocity.dtype)
        vel = (((velocity - batch["velocity_targets"]) ** 2) * ex).sum() / ex.sum().clamp(min=1.0)
        return onset + self.config.velocity_weight * vel, onset, vel

    def loss(self, model: Any, head: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        logits, velocity = self.predict(model, head, batch)
        total, onset, vel = self._loss_terms(head, batch, logits, velocity)
        return total, {"onset": float(onset.detach()), "velocity": float(vel.detach())}

    def evaluate(self, model: Any, head: nn.Module, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        rate, C = self._rate(), self.classes.count
        counts, loss_sum, vel_err, vel_n, n = [], 0.0, 0.0, 0.0, 0
        for batch in batches:
            logits, velocity = self.predict(model, head, batch)
            total, _, _ = self._loss_terms(head, batch, logits, velocity)
            size = logits.shape[0]
            loss_sum, n = loss_sum + float(total) * size, n + size
            exact = batch["onset_exact"] & batch["padding_mask"].unsqueeze(-1)
            vel_err += float(((velocity - batch["velocity_targets"]).abs() * exact).sum()) * 127.0
            vel_n += float(exact.sum())
            probs = torch.sigmoid(logits).cpu().numpy()
            vel_np = velocity.float().cpu().numpy()
            for b in range(size):
                T = int(batch["frames"][b])
                est = posteriors_to_hits(probs[b, :T], vel_np[b, :T], rate, self.config.threshold,
                                         self.min_distance)
                ref = batch["hits"][b]
                ref = ref[np.rint(ref[:, 0] * rate) < T]
                counts.append(clip_counts(ref, est, C))
        out = {"loss": loss_sum / max(n, 1), "velocity_mae": vel_err / max(vel_n, 1.0)}
        if counts:
            s = scores(np.stack(counts), self.classes.names)
            out.update({k: v for k, v in s.items() if k.startswith("f1_") and not np.isnan(v)})
        return out

    def finish(self, run: Any) -> None:
        from .evaluation import finish_run

        finish_run(self, run)
