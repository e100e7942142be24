"""Figures of a drum evaluation: the class confusion matrix and per-class F1 bars."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pianox.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(matrix: np.ndarray, names: Sequence[str], path: Path, title: str = "") -> Path:
    """Write the (C + 1, C + 1) confusion counts (`metrics.confusion`) as a row-normalised heat
    map PNG: rows = reference class (+ "none": spurious hits), columns = estimated class (+
    "none": missed hits); each cell shows its count."""
    plt = _pyplot()
    labels = list(names) + ["none"]
    m = np.asarray(matrix, dtype=np.float64)
    rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
    size = 1.0 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("estimated class")
    ax.set_ylabel("reference class")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    import textwrap

    ax.set_title(textwrap.fill(title or "drum hits: reference vs estimated class (50 ms)", 60), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the row")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def plot_f1(results: Mapping[str, Mapping[str, float]], names: Sequence[str], path: Path) -> Path:
    """Per-class onset F1 bars, one group per class and one bar per system (e.g. model, baseline)."""
    plt = _pyplot()
    systems = list(results)
    x = np.arange(len(names))
    width = 0.8 / max(len(systems), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 3.5))
    for k, system in enumerate(systems):
        values = [results[system].get(f"f1_{n}") for n in names]
        values = [float("nan") if v is None else float(v) for v in values]
        ax.bar(x + (k - (len(systems) - 1) / 2) * width, np.nan_to_num(values), width, label=system)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("onset F1 (50 ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
