"""k-fold cross-validation over the PercePiano source's folds (`pianox perception cv`).

Runs the experiment once per fold (`--set source.fold=k`, k = 0 .. num_folds - 1; a fold whose
run already finished is reused) and aggregates into `<output_dir>/<name>-cv-<hash8>/`:

    cv_results.json / .md    per-fold validation and test metrics, their mean and standard
                             deviation over folds, and two pooled tables with bootstrap CIs:
                             pooled validation (every validation clip predicted by the one fold
                             model that did not train on it — but whose checkpoint and early
                             stopping were chosen on those very clips, so it is optimistic and
                             labelled so) and the test split, which no fold trained or selected
                             on, rated by the mean of the fold models: the unbiased figure
    predictions/oof.json, predictions/test.json   the pooled predictions (for `compare`)
    plots/cv_oof.png, plots/cv_test.png

Every fold's train, validation and test splits are checked to share no performer / excerpt
(`splits.check_source`) before anything trains (and again by each run's `finish`); the
validation sets of different folds must also be disjoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox import atomic
from pianox.errors import ConfigError, DataError

from .dimensions import resolve_groups
from .predict import summary_metrics
from .report import cell, read_predictions, results_table, write_predictions, write_report


POOLED_VALIDATION = ("pooled validation folds (optimistic: each fold's checkpoint was chosen on "
                     "these clips; the test split is the unbiased figure)")


def fold_experiments(path: str | Path, overrides: Sequence[str], folds: Sequence[int] | None = None
                     ) -> tuple[Any, list[tuple[int, Any]]]:
    """(base experiment, [(fold, experiment with source.fold = fold)]) for a perception experiment."""
    from pianox.config import load_experiment

    base = load_experiment(path, list(overrides))
    if base.stages["task"].kind != "perception":
        raise ConfigError(f"{path}: [task] kind = {base.stages['task'].kind!r}; cross-validation "
                          f"is for perception experiments")
    src = base.stages["source"].config
    if not hasattr(src, "num_folds") or not hasattr(src, "fold"):
        raise ConfigError(f"{path}: [source] kind = {base.stages['source'].kind!r} has no folds "
                          f"(fold / num_folds)")
    chosen = list(range(src.num_folds)) if folds is None else list(folds)
    bad = [k for k in chosen if not 0 <= k < src.num_folds]
    if bad:
        raise ConfigError(f"fold {bad[0]} is outside 0..{src.num_folds - 1} ([source] num_folds)")
    return base, [(k, load_experiment(path, [*overrides, f"source.fold={k}"])) for k in chosen]


def run_folds(path: str | Path, overrides: Sequence[str] = (), *, folds: Sequence[int] | None = None,
              force: bool = False, quiet: bool = False) -> Path:
    """Train every fold (reusing finished runs unless `force`) and aggregate; returns the CV dir."""
    from pianox.runner import ensure_run

    from .splits import check_source

    base, experiments = fold_experiments(path, overrides, folds)
    for k, exp in experiments:  # a leaky split fails before anything trains
        check_source(exp.stages["source"].build())
    runs = [(k, ensure_run(exp, f"fold {k}", force=force, quiet=quiet)) for k, exp in experiments]
    out = Path(base.run.output_dir) / f"{base.run.name}-cv-{base.hash()}"
    aggregate(runs, out, resolve_groups(base.stages["task"].config.groups),
              n_boot=base.stages["task"].config.bootstrap, seed=base.run.seed)
    return out


def _mean_sd(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = sorted({k for r in rows for k in r})
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if k in r], dtype=float)
        out[k] = {"mean": float(np.nanmean(vals)), "sd": float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else 0.0}
    return out


def aggregate(runs: Sequence[tuple[int, Path]], out: Path, groups: Sequence[tuple[str, Sequence[int]]], *,
              n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Pool the finished fold runs `[(fold, run dir)]` into `out` (see module doc)."""
    folds, oof_clips, oof_pred, oof_target, tests = [], [], [], [], []
    owner: dict[str, int] = {}
    for k, root in runs:
        entry: dict[str, Any] = {"fold": k, "run": str(root)}
        for split in ("validation", "test"):
            file = root / "predictions" / f"{split}.json"
            if not file.exists():
                continue
            got = read_predictions(file)
            if got["target"] is None:
                continue
            entry[split] = summary_metrics(got["pred"], got["target"], groups)
            if split == "validation":
                for clip in got["clips"]:
                    if clip in owner:
                        raise DataError(f"leakage: clip {clip!r} is validated in folds {owner[clip]} and {k}")
                    owner[clip] = k
                oof_clips += got["clips"]
                oof_pred.append(got["pred"])
                oof_target.append(got["target"])
            else:
                tests.append(got)
        folds.append(entry)
    if not oof_clips:
        raise DataError(f"no validation predictions under the fold runs {[str(r) for _, r in runs]}")
    result: dict[str, Any] = {"folds": folds, "clips_oof": len(oof_clips)}
    for split in ("validation", "test"):
        rows = [f[split] for f in folds if split in f]
        if rows:
            result[f"{split}_over_folds"] = _mean_sd(rows)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    oof_p, oof_t = np.concatenate(oof_pred), np.concatenate(oof_target)
    write_predictions(out / "predictions" / "oof.json", "oof", oof_clips, oof_p, oof_t)
    result["oof"] = results_table(oof_p, oof_t, groups, n_boot=n_boot, seed=seed, split=POOLED_VALIDATION)
    result["oof"]["selection_bias"] = True
    write_report(out, out / "plots", "cv_oof", result["oof"], f"{out.name}: {POOLED_VALIDATION}")
    if tests:
        clips = tests[0]["clips"]
        if any(t["clips"] != clips for t in tests):
            raise DataError("the fold runs rated different test clips; the test split must not depend on the fold")
        pred = np.mean([t["pred"] for t in tests], axis=0)
        write_predictions(out / "predictions" / "test.json", "test", clips, pred, tests[0]["target"])
        result["test_ensemble"] = results_table(pred, tests[0]["target"], groups, n_boot=n_boot, seed=seed,
                                                split="test (mean of the fold models)")
        write_report(out, out / "plots", "cv_test", result["test_ensemble"], f"{out.name}: test, fold ensemble")
    atomic.write_text(out / "cv_results.json", json.dumps(result, indent=2) + "\n")
    atomic.write_text(out / "cv_results.md", _markdown(result, out.name))
    return result


def _markdown(result: dict[str, Any], title: str) -> str:
    lines = [f"# {title}: cross-validation", "",
             "| fold | val Pearson | val R² | val audible r | test Pearson | test R² |", "|---|---|---|---|---|---|"]
    for f in result["folds"]:
        v, t = f.get("validation", {}), f.get("test", {})
        lines.append(f"| {f['fold']} | {v.get('pearson', float('nan')):.3f} | {v.get('r2', float('nan')):.3f} | "
                     f"{v.get('pearson_audible', float('nan')):.3f} | {t.get('pearson', float('nan')):.3f} | "
                     f"{t.get('r2', float('nan')):.3f} |")
    for split in ("validation", "test"):
        agg = result.get(f"{split}_over_folds")
        if agg:
            parts = [f"{k} {agg[k]['mean']:.3f} ± {agg[k]['sd']:.3f}" for k in ("pearson", "r2", "pearson_audible")]
            lines.append(f"\n{split} over folds (mean ± sd): " + ", ".join(parts))
    for key in ("oof", "test_ensemble"):
        t = result.get(key)
        if t:
            m, a = t["mean"], t["audible"]
            lines.append(f"\n{t['split']} ({t['clips']} clips): mean Pearson "
                         f"{cell(m['pearson'], m.get('pearson_ci'))}, mean R² {cell(m['r2'], m.get('r2_ci'))}, "
                         f"audible Pearson {cell(a['pearson'], a.get('pearson_ci'))}; "
                         f"per dimension in {('cv_oof' if key == 'oof' else 'cv_test')}.md")
    return "\n".join(lines) + "\n"

