"""Optimizer, learning-rate schedule and encoder freezing.

AdamW with decoupled weight decay that skips norms, biases and embeddings (1-D parameters and
anything named *embed* / *token*); separate peak rates for the encoder and the task head;
optional layer-wise decay over the encoder's `blocks`; cosine / linear / constant decay after
a linear warmup.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from .settings import TrainConfig

_NO_DECAY_NAMES = ("pos_embed", "cls_token", "dist_token", "mask_embed", "norm")


def _no_decay(name: str, param: torch.Tensor) -> bool:
    """Biases, norms (all 1-D) and learned embeddings/tokens are not weight-decayed."""
    return param.ndim <= 1 or any(part in name for part in _NO_DECAY_NAMES)


def _block_index(name: str, depth: int) -> int:
    """Layer id for layer-wise decay: 0 = embeddings, 1..depth = blocks, depth + 1 = the rest."""
    m = re.search(r"(^|\.)blocks\.(\d+)\.", name)
    if m:
        return int(m.group(2)) + 1
    if "embed" in name or "token" in name:
        return 0
    return depth + 1


def apply_freeze(model: nn.Module, config: TrainConfig) -> None:
    """Freeze the encoder: "frozen" (linear probe), "last_k" (only its last k `blocks` and final
    norm train) or "full" (nothing frozen)."""
    if config.freeze == "full":
        return
    for p in model.parameters():
        p.requires_grad_(False)
    if config.freeze == "last_k" and config.last_k > 0:
        blocks = getattr(model, "blocks", None)
        if blocks is None:
            raise ValueError("freeze = 'last_k' needs a model with a `blocks` ModuleList")
        for block in list(blocks)[-config.last_k:]:
            for p in block.parameters():
                p.requires_grad_(True)
        for name, p in model.named_parameters():
            if not name.startswith("blocks.") and "norm" in name:
                p.requires_grad_(True)


def param_groups(model: nn.Module, head: nn.Module, config: TrainConfig) -> list[dict]:
    """AdamW parameter groups: (encoder | head) x (decay | no decay) x layer, with lr scales."""
    depth = len(getattr(model, "blocks", []))
    groups: dict[tuple, dict] = {}

    def add(part: str, name: str, p: torch.Tensor, base_lr: float, scale: float) -> None:
        decay = 0.0 if _no_decay(name, p) else config.weight_decay
        key = (part, decay, scale)
        g = groups.setdefault(key, {"params": [], "weight_decay": decay, "lr": base_lr * scale,
                                    "initial_lr": base_lr * scale, "name": f"{part}/decay={decay}/x{scale:.4g}"})
        g["params"].append(p)

    for name, p in model.named_parameters():
        if p.requires_grad:
            scale = config.layer_decay ** (depth + 1 - _block_index(name, depth)) if depth else 1.0
            add("encoder", name, p, config.lr, scale)
    head_lr = config.head_lr or config.lr
    for name, p in head.named_parameters():
        if p.requires_grad:
            add("head", name, p, head_lr, 1.0)
    return list(groups.values())


def build_optimizer(model: nn.Module, head: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, head, config)
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)


def lr_factor(step: int, total: int, config: TrainConfig) -> float:
    """Multiplier of the peak lr at optimizer step `step` of `total`."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    span = max(1, total - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.min_lr_ratio
    if config.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, total: int, config: TrainConfig
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, config))
