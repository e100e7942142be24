"""Results tables of a perception evaluation: JSON, Markdown and a bar chart with intervals.

`results_table(pred, target, groups)` scores (N, 19) clip predictions: per dimension Pearson r
and R^2 with percentile-bootstrap 95% intervals (clips resampled), their means over dimensions
(and over `AUDIBLE` and each group) with intervals of the mean, and the MSE. `compare` adds the
paired test against a baseline's predictions of the same clips. Prediction files
(`predictions/<split>.json`) hold {"dimensions", "clips", "pred", "target"}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox import atomic
from pianox.errors import DataError

from .dimensions import DIMENSIONS, audible_indices
from .metrics import (bootstrap_ci, clip_losses, mean_over_dims, mse, paired_bootstrap, pearson,
                      permutation_test, r2_score)


def _f(x: Any) -> float | None:
    """JSON-safe float (NaN -> None)."""
    x = float(x)
    return None if np.isnan(x) else x


def _summary(pred: np.ndarray, target: np.ndarray, idx: Sequence[int], n_boot: int, seed: int) -> dict:
    sub_p, sub_t = pred[:, list(idx)], target[:, list(idx)]
    out: dict[str, Any] = {}
    for name, stat in (("pearson", pearson), ("r2", r2_score)):
        out[name] = _f(mean_over_dims(stat(sub_p, sub_t)))
        if n_boot:
            lo, hi = bootstrap_ci(stat, sub_p, sub_t, n_boot=n_boot, seed=seed, reduce=mean_over_dims)
            out[f"{name}_ci"] = [_f(lo), _f(hi)]
    return out


def results_table(pred: np.ndarray, target: np.ndarray, groups: Sequence[tuple[str, Sequence[int]]], *,
                  n_boot: int = 1000, seed: int = 0, split: str = "test") -> dict[str, Any]:
    """The full results table (see module doc) of (N, 19) predictions against targets."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != len(DIMENSIONS):
        raise DataError(f"results_table: predictions {pred.shape} and targets {target.shape} must "
                        f"both be (N, {len(DIMENSIONS)})")
    r, r2, err = pearson(pred, target), r2_score(pred, target), mse(pred, target)
    if n_boot:
        r_lo, r_hi = bootstrap_ci(pearson, pred, target, n_boot=n_boot, seed=seed)
        r2_lo, r2_hi = bootstrap_ci(r2_score, pred, target, n_boot=n_boot, seed=seed)
    group_of = {i: name for name, idx in groups for i in idx}
    dims = []
    for k, name in enumerate(DIMENSIONS):
        row = {"name": name, "group": group_of.get(k), "pearson": _f(r[k]), "r2": _f(r2[k]), "mse": _f(err[k])}
        if n_boot:
            row["pearson_ci"] = [_f(r_lo[k]), _f(r_hi[k])]
            row["r2_ci"] = [_f(r2_lo[k]), _f(r2_hi[k])]
        dims.append(row)
    return {
        "split": split, "clips": int(len(pred)), "bootstrap": int(n_boot), "level": 0.95,
        "mean": {**_summary(pred, target, range(len(DIMENSIONS)), n_boot, seed), "mse": _f(err.mean())},
        "audible": _summary(pred, target, audible_indices(), n_boot, seed),
        "groups": {name: _summary(pred, target, idx, n_boot, seed) for name, idx in groups},
        "dimensions": dims,
    }


def compare(pred: np.ndarray, baseline: np.ndarray, target: np.ndarray, *, n_perm: int = 10000,
            n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Paired comparison of a model with a baseline on the same clips.

    The significance test is a paired sign-flip permutation test on the per-clip squared errors
    (mean over the 19 dimensions): `p` is two-sided, `mse_diff` = model - baseline (< 0: the
    model is better). Paired bootstraps of the differences in mean Pearson r (over all and over
    the audible dimensions) give intervals and one-sided p-values for "model > baseline"."""
    pred, baseline, target = (np.asarray(x, np.float64) for x in (pred, baseline, target))
    perm = permutation_test(clip_losses(pred, target), clip_losses(baseline, target), n_perm=n_perm, seed=seed)
    aud = audible_indices()
    return {
        "test": "paired sign-flip permutation test on per-clip squared errors",
        "clips": int(len(target)), "mse_diff": perm["mean_diff"], "p": perm["p"],
        "pearson": paired_bootstrap(pearson, pred, baseline, target, n_boot=n_boot, seed=seed),
        "pearson_audible": paired_bootstrap(pearson, pred[:, aud], baseline[:, aud], target[:, aud],
                                            n_boot=n_boot, seed=seed),
    }


# ------------------------------------------------------------------------------ files

def write_predictions(path: Path, split: str, clips: Sequence[str], pred: np.ndarray,
                      target: np.ndarray | None) -> None:
    """Write a predictions file (see module doc) atomically."""
    obj = {"split": split, "dimensions": list(DIMENSIONS), "clips": list(clips),
           "pred": np.round(np.asarray(pred, np.float64), 6).tolist(),
           "target": None if target is None else np.round(np.asarray(target, np.float64), 6).tolist()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(obj) + "\n")


def read_predictions(path: Path) -> dict[str, Any]:
    """Read a predictions file: {"clips": [...], "pred": (N, 19), "target": (N, 19) | None}."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
        pred = np.asarray(obj["pred"], np.float64)
        target = None if obj.get("target") is None else np.asarray(obj["target"], np.float64)
        return {"split": obj.get("split"), "clips": list(obj["clips"]), "pred": pred, "target": target}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"cannot read perception predictions {path}: {exc}") from exc


def align(a: dict[str, Any], b: dict[str, Any], what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pred_a, pred_b, target) over the clips both prediction sets share, in a's order;
    DataError when they share none or their targets disagree."""
    where = {c: i for i, c in enumerate(b["clips"])}
    common = [i for i, c in enumerate(a["clips"]) if c in where]
    if not common or a["target"] is None:
        raise DataError(f"{what}: no common clips with targets to compare")
    j = [where[a["clips"][i]] for i in common]
    if b["target"] is not None and not np.allclose(a["target"][common], b["target"][j], atol=1e-5):
        raise DataError(f"{what}: the two runs disagree on the targets of the same clips")
    return a["pred"][common], b["pred"][j], a["target"][common]


def cell(value: float | None, ci: Sequence[float | None] | None = None) -> str:
    """"0.712 [0.650, 0.770]" (or "0.712" without an interval, "n/a" for an undefined value)."""
    if value is None:
        return "n/a"
    if not ci or ci[0] is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def markdown(table: dict[str, Any], title: str) -> str:
    """A Markdown rendering of `results_table` (+ its optional "baseline" comparison)."""
    lines = [f"# {title}", "",
             f"{table['clips']} clips of the {table['split']} split; 95% percentile-bootstrap intervals "
             f"over clips ({table['bootstrap']} resamples).", "",
             "| dimension | group | Pearson r | R² | MSE |", "|---|---|---|---|---|"]
    for row in table["dimensions"]:
        lines.append(f"| {row['name']} | {row['group']} | {cell(row['pearson'], row.get('pearson_ci'))} | "
                     f"{cell(row['r2'], row.get('r2_ci'))} | {cell(row['mse'])} |")
    m = table["mean"]
    lines.append(f"| **mean (19)** | | {cell(m['pearson'], m.get('pearson_ci'))} | "
                 f"{cell(m['r2'], m.get('r2_ci'))} | {cell(m['mse'])} |")
    a = table["audible"]
    lines.append(f"| **mean (audible)** | | {cell(a['pearson'], a.get('pearson_ci'))} | "
                 f"{cell(a['r2'], a.get('r2_ci'))} | |")
    for name, g in table["groups"].items():
        lines.append(f"| *group {name}* | | {cell(g['pearson'], g.get('pearson_ci'))} | "
                     f"{cell(g['r2'], g.get('r2_ci'))} | |")
    base = table.get("baseline")
    if base:
        pb, pa = base["pearson"], base["pearson_audible"]
        lines += ["", f"Against {base.get('run', 'the baseline')} on {base['clips']} common clips: "
                      f"{base['test']}: MSE difference {base['mse_diff']:+.5f}, p = {base['p']:.4g}; "
                      f"mean Pearson difference {pb['diff']:+.3f} [{pb['low']:+.3f}, {pb['high']:+.3f}] "
                      f"(one-sided bootstrap p = {pb['p_greater']:.4g}); audible dimensions "
                      f"{pa['diff']:+.3f} [{pa['low']:+.3f}, {pa['high']:+.3f}] (p = {pa['p_greater']:.4g})."]
    return "\n".join(lines) + "\n"


def bar_chart(table: dict[str, Any], path: Path, title: str) -> None:
    """Horizontal bars of per-dimension Pearson r and R^2 with their intervals, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["dimensions"]
    names = [r["name"] for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(13, 7.5), sharey=True)
    for ax, key, label in ((axes[0], "pearson", "Pearson r"), (axes[1], "r2", "R²")):
        vals = np.array([np.nan if r[key] is None else r[key] for r in rows])
        cis = np.array([r.get(f"{key}_ci") or [np.nan, np.nan] for r in rows], dtype=float)
        err = np.abs(np.stack([vals - cis[:, 0], cis[:, 1] - vals]))
        colors = [f"C{i % 10}" for i in range(len(rows))]
        ax.barh(y, np.nan_to_num(vals), xerr=np.nan_to_num(err), color=colors, alpha=0.8, capsize=2)
        mean = table["mean"][key]
        if mean is not None:
            ax.axvline(mean, color="k", linestyle="--", linewidth=1, label=f"mean {mean:.3f}")
            ax.legend(loc="lower right", fontsize=8)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(names, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(f"{title} ({table['clips']} clips, 95% bootstrap CI)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_report(directory: Path, plots: Path, stem: str, table: dict[str, Any], title: str) -> dict[str, Path]:
    """Write `<stem>.json`, `<stem>.md` under `directory` and `<stem>.png` under `plots`."""
    paths = {"json": directory / f"{stem}.json", "md": directory / f"{stem}.md", "png": plots / f"{stem}.png"}
    atomic.write_text(paths["json"], json.dumps(table, indent=2) + "\n")
    atomic.write_text(paths["md"], markdown(table, title))
    bar_chart(table, paths["png"], title)
    return paths
