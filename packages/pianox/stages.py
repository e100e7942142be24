"""The five built stages of an experiment, and building them through the registry.

Training (`pianox run`), evaluation (`pianox eval`) and inference (`pianox transcribe`,
`drums`, `rate`) all build stages here, so a plugin that rejects its config fails the same way
everywhere: a ConfigError naming the file and the table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ConfigError, PianoxError


@dataclass
class Stages:
    """The five built stages of a run."""

    source: Any
    features: Any
    model: nn.Module
    task: Any
    backend: Any


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, numpy's global RNG and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_stages(exp: Any, *, with_source: bool = True) -> Stages:
    """Instantiate backend, source, features, model and task of an `Experiment` through the
    registry, seeded by [run] seed (model initialisation draws from the global RNGs).
    `with_source=False` leaves the source out (`None`): inference needs no corpus.

    A plugin that rejects its config with ValueError becomes a ConfigError naming the table.
    """
    seed_everything(exp.run.seed)

    def make(stage: str, **kwargs: Any) -> Any:
        spec = exp.stages[stage]
        try:
            return spec.build(**kwargs)
        except PianoxError:
            raise
        except ValueError as exc:
            where = f"{exp.path or '<config>'}, [{stage}] kind = {spec.kind!r}"
            raise ConfigError(f"{where}: {exc}") from exc

    backend = make("backend")
    source = make("source") if with_source else None
    features = make("features")
    model = make("model", num_bins=features.num_bins)
    if hasattr(model, "attention_impl"):
        model.attention_impl = backend.attention
    task = make("task")
    return Stages(source=source, features=features, model=model, task=task, backend=backend)
