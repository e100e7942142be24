"""Build throwaway plugin distributions on disk (a package + its .dist-info), as pip would."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_distribution(site: Path, dist: str, package: str, source: str,
                      entry_points: dict[str, dict[str, str]], version: str = "0.1.0") -> Path:
    """Write `package/__init__.py` and `<dist>-<version>.dist-info` into `site`; return `site`.

    `entry_points` maps group -> {name: "module:attr"}. Putting `site` on sys.path (or
    PYTHONPATH) makes importlib.metadata discover the distribution, exactly like an install.
    """
    pkg = site / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in eps.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    (info / "RECORD").write_text("")
    return site


MEAN_TASK = '''
"""A third-party task: predict the clip's target from the mean over time of the *features*
(not the encoder) plus the encoder states, to prove outside code can train through pianox."""
from dataclasses import dataclass
import torch
from torch import nn
from pianox.testing import DummyTask


class MeanTask(DummyTask):
    name = "mean-task"

    @dataclass
    class Config:
        hidden: int = 16
        scale: float = 1.0

    def loss(self, model, head, batch):
        loss, logs = super().loss(model, head, batch)
        return loss * self.config.scale, logs
'''

BROKEN = '''
raise RuntimeError("this plugin is broken on purpose")
'''

SLOW_TASK = '''
"""The dummy task with a pause per training step, so a test can interrupt a run mid-epoch."""
import time
from dataclasses import dataclass
from pianox.testing import DummyTask


class SlowTask(DummyTask):
    name = "slow-task"

    @dataclass
    class Config:
        hidden: int = 16
        pause: float = 0.15

    def loss(self, model, head, batch):
        time.sleep(self.config.pause)
        return super().loss(model, head, batch)
'''
