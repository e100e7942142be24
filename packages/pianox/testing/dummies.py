"""Small, fast, real plugins for tests and for plugin authors (as lhotse ships its dummies).

They are registered as `dummy` in the sources, features, models and tasks groups, so a whole
experiment runs end to end in seconds on a CPU:

    source   tones of random pitch and loudness, generated in memory
    features log-magnitude STFT pooled into `num_bins` bands
    model    a per-frame MLP (B, T, F) -> (B, T, D), so padding cannot leak between frames
    task     regress each clip's tone frequency (in octaves above 110 Hz) from pooled states
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..api import Example


class DummySource:
    """Sine tones with a few harmonics: target "value" = log2(f / 110 Hz) in [0, 3]."""

    name = "dummy"

    @dataclass
    class Config:
        num_train: int = 32
        num_validation: int = 8
        num_test: int = 8
        seconds: float = 0.5
        """Clip length; every third clip is 60% as long, to exercise padding."""
        sample_rate: int = 16000
        seed: int = 0

        def validate(self) -> None:
            if self.seconds <= 0 or self.sample_rate <= 0:
                raise ValueError("seconds and sample_rate must be positive")

    def __init__(self, config: "DummySource.Config | None" = None):
        self.config = config or self.Config()

    def examples(self, split: str) -> Sequence[Example]:
        c = self.config
        count = {"train": c.num_train, "validation": c.num_validation, "test": c.num_test}.get(split)
        if count is None:
            raise ValueError(f"unknown split {split!r}")
        offset = {"train": 0, "validation": 1, "test": 2}[split]
        rng = np.random.default_rng(c.seed * 3 + offset)
        out = []
        for i in range(count):
            value = float(rng.uniform(0.0, 3.0))
            freq = 110.0 * 2.0 ** value
            n = int(c.seconds * c.sample_rate * (0.6 if i % 3 == 2 else 1.0))
            t = np.arange(n) / c.sample_rate
            wave = sum(np.sin(2 * math.pi * freq * h * t) / h for h in (1, 2, 3))
            wave = (0.3 * wave * rng.uniform(0.3, 1.0)).astype(np.float32)
            out.append(Example(key=f"{split}-{i:04d}", audio=wave, sample_rate=c.sample_rate,
                               duration=n / c.sample_rate, targets={"value": value}))
        return out


class DummyFeatures:
    """log(1 + |STFT|) pooled into `num_bins` equal-width bands: (B, S) -> (B, T, F)."""

    name = "dummy"

    @dataclass
    class Config:
        sample_rate: int = 16000
        n_fft: int = 512
        hop_length: int = 160
        num_bins: int = 32

    def __init__(self, config: "DummyFeatures.Config | None" = None):
        self.config = config or self.Config()
        self.sample_rate = self.config.sample_rate
        self.num_bins = self.config.num_bins
        self.frame_rate = self.sample_rate / self.config.hop_length

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.config.hop_length

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(waveform, c.n_fft, c.hop_length, window=torch.hann_window(c.n_fft),
                          center=True, return_complex=True).abs()
        spec = spec[:, 1:, :]  # drop DC so the bins split evenly
        bands = spec.reshape(spec.shape[0], c.num_bins, -1, spec.shape[-1]).mean(dim=2)
        return torch.log1p(bands).transpose(1, 2).contiguous()


class DummyModel(nn.Module):
    """A per-frame MLP encoder: (B, T, F) -> (B, T, D) with `depth` residual blocks."""

    name = "dummy"

    @dataclass
    class Config:
        dim: int = 32
        depth: int = 2

    def __init__(self, config: "DummyModel.Config | None" = None, *, num_bins: int = 32):
        super().__init__()
        self.config = config or self.Config()
        self.dim = self.config.dim
        self.embed = nn.Linear(num_bins, self.dim)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, self.dim), nn.GELU())
            for _ in range(self.config.depth))
        self.norm = nn.LayerNorm(self.dim)

    def forward(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        x = self.embed(features)
        for block in self.blocks:
            x = x + block(x)
        return self.norm(x)


class DummyTask:
    """Regress targets["value"] from the masked mean of the real token states (MSE; metric mae).

    Works on any encoder: per-frame ones (tokens = frames) and patch encoders that expose
    `token_mask(padding_mask)` (the AST)."""

    name = "dummy"

    @dataclass
    class Config:
        hidden: int = 32

    def __init__(self, config: "DummyTask.Config | None" = None):
        self.config = config or self.Config()

    def build_head(self, model: nn.Module, features: Any) -> nn.Module:
        return nn.Sequential(nn.Linear(model.dim, self.config.hidden), nn.GELU(), nn.Linear(self.config.hidden, 1))

    def collate(self, examples: Sequence[Example], batch: dict[str, Any]) -> dict[str, Any]:
        batch["value"] = torch.tensor([float(e.targets["value"]) for e in examples], dtype=torch.float32)
        return batch

    def _predict(self, model: nn.Module, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        states = model(batch["features"], padding_mask=batch["padding_mask"])
        # token-level real mask: the model's own (patch encoders), else one token per frame
        token_mask = getattr(model, "token_mask", None)
        real = token_mask(batch["padding_mask"]) if callable(token_mask) else batch["padding_mask"]
        mask = real[..., None].to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        return head(pooled).squeeze(-1).float()

    def loss(self, model: nn.Module, head: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self._predict(model, head, batch)
        loss = torch.nn.functional.mse_loss(pred, batch["value"])
        return loss, {"mse": float(loss.detach())}

    def evaluate(self, model: nn.Module, head: nn.Module, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        se, ae, n = 0.0, 0.0, 0
        for batch in batches:
            err = self._predict(model, head, batch) - batch["value"]
            se += float((err ** 2).sum())
            ae += float(err.abs().sum())
            n += err.numel()
        return {"loss": se / max(n, 1), "mae": ae / max(n, 1)}

    def finish(self, run: Any) -> None:
        params = sum(p.numel() for p in run.head.parameters())
        run.run.write_json("dummy_summary.json", {"head_parameters": params, "results": run.results})
