"""Label correlations between PercePiano dimensions and where pedal and timbre belong.

`category_correlations` averages |Pearson r| between the dimensions of two categories (within
a category: between its distinct dimensions). `place_free_categories` puts each category not
fixed by the seed grouping (Pedal, Timbre) into the seed group whose categories it correlates
with most (mean |r| over that group's dimensions). `pianox perception correlations EXP.toml`
runs this on an experiment's training labels (never the test split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pianox import atomic

from .dimensions import CATEGORIES, DIMENSIONS, SEED_GROUPS, category_of


def dimension_correlations(ratings: np.ndarray) -> np.ndarray:
    """(N, 19) ratings -> (19, 19) Pearson correlation matrix (NaN rows for constant dims)."""
    x = np.asarray(ratings, np.float64)
    x = x - x.mean(axis=0)
    norm = np.sqrt((x * x).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x.T @ x) / np.outer(norm, norm)


def _members(category: str) -> list[int]:
    return [i for i, d in enumerate(DIMENSIONS) if category_of(d) == category]


def _mean_abs(corr: np.ndarray, a: Sequence[int], b: Sequence[int]) -> float:
    vals = [abs(corr[i, j]) for i in a for j in b if i != j and np.isfinite(corr[i, j])]
    return float(np.mean(vals)) if vals else float("nan")


def category_correlations(ratings: np.ndarray) -> np.ndarray:
    """(N, 19) ratings -> (8, 8) mean |r| between the categories of `CATEGORIES`."""
    corr = dimension_correlations(ratings)
    return np.array([[_mean_abs(corr, _members(a), _members(b)) for b in CATEGORIES] for a in CATEGORIES])


def place_free_categories(ratings: np.ndarray, seed: Mapping[str, Sequence[str]] = SEED_GROUPS
                          ) -> dict[str, dict[str, Any]]:
    """For each category outside `seed`: {"group": best seed group, "scores": {group: mean |r|}}."""
    corr = dimension_correlations(ratings)
    fixed = {c for cats in seed.values() for c in cats}
    out = {}
    for cat in CATEGORIES:
        if cat in fixed:
            continue
        scores = {g: _mean_abs(corr, _members(cat), [i for c in cats for i in _members(c)])
                  for g, cats in seed.items()}
        out[cat] = {"group": max(scores, key=lambda g: -np.inf if np.isnan(scores[g]) else scores[g]),
                    "scores": scores}
    return out


def correlation_figure(ratings: np.ndarray, path: Path, title: str = "label correlations") -> None:
    """Heatmap of the (19, 19) label correlation matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corr = dimension_correlations(ratings)
    fig, ax = plt.subplots(figsize=(10, 9))
    shown = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(DIMENSIONS)))
    ax.set_yticks(range(len(DIMENSIONS)))
    ax.set_xticklabels(DIMENSIONS, rotation=90, fontsize=6)
    ax.set_yticklabels(DIMENSIONS, fontsize=6)
    fig.colorbar(shown, ax=ax, fraction=0.04, label="Pearson r")
    ax.set_title(f"{title} ({len(ratings)} clips)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def format_report(ratings: np.ndarray) -> str:
    """The category matrix and the placement as plain text (what the CLI prints)."""
    cat = category_correlations(ratings)
    width = max(len(c) for c in CATEGORIES)
    lines = [f"mean |r| between categories over {len(ratings)} clips:",
             " " * (width + 1) + " ".join(f"{c[:6]:>6}" for c in CATEGORIES)]
    for c, row in zip(CATEGORIES, cat):
        lines.append(f"{c:<{width}} " + " ".join("   n/a" if np.isnan(v) else f"{v:6.2f}" for v in row))
    for c, placed in place_free_categories(ratings).items():
        scores = ", ".join(f"{g} {s:.2f}" for g, s in placed["scores"].items())
        lines.append(f"{c} -> {placed['group']} (mean |r| with {scores})")
    return "\n".join(lines)
