"""Training curves as PNG (matplotlib, headless)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import atomic


def plot_curves(records: list[dict[str, Any]], path: Path) -> None:
    """One panel per logged metric (train/loss, lr, val/*, ...) against the optimizer step."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in records:
        for k, v in r.items():
            if k in ("step", "epoch") or not isinstance(v, (int, float)):
                continue
            series[k].append((int(r.get("step", 0)), float(v)))
    if not series:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(series)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        xs, ys = zip(*series[name])
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
