"""The experiment and its baselines on the same data and split (`pianox perception baselines`).

Each baseline is derived from the main experiment by replacing or updating some of its tables
(`VARIANTS`); source, split, segments, task settings and [run] stay the same, so all models
rate the same test clips. The command trains what is not trained yet (finished runs are
reused), then compares the main model with each baseline on the test split (`report.compare`:
paired permutation test on per-clip squared errors, paired bootstrap of mean Pearson) and
writes `<output_dir>/<name>-baselines-<hash8>/baselines.{json,md}`.

    scratch      the same encoder and training protocol without `[model] init` (random init)
    cnn          a 4-block `cnn` (8-64 channels; log-mel CNN, `cnn.py`) trained fully, 12 epochs
    handcrafted  `handcrafted` librosa descriptors + `ffn` (clip statistics -> MLP), trained
                 fully, 40 epochs
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Sequence

from pianox import atomic
from pianox.errors import ConfigError

REPLACE = "__replace__"

VARIANTS: dict[str, dict[str, Any]] = {
    "scratch": {"model": {"init": ""}},
    "cnn": {"model": {REPLACE: True, "kind": "cnn", "channels": [8, 16, 32, 64], "dim": 64},
            "task": {"pool": "mean", "cache_states": False},
            "train": {"freeze": "full", "lr": 1e-3, "head_lr": 0.0, "layer_decay": 1.0, "epochs": 12}},
    "handcrafted": {"features": {REPLACE: True, "kind": "handcrafted"},
                    "model": {REPLACE: True, "kind": "ffn"},
                    "task": {"pool": "mean", "cache_states": False},
                    "train": {"freeze": "full", "lr": 1e-3, "head_lr": 0.0, "layer_decay": 1.0,
                              "epochs": 40, "cache_features": True, "augment": {REPLACE: True}}},
}
"""Baseline name -> table updates (a table with REPLACE is replaced instead of updated)."""


def derive(raw: dict[str, Any], variant: str) -> dict[str, Any]:
    """A deep copy of the raw experiment tables `raw` with `variant`'s updates applied (see `VARIANTS`)."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown baseline {variant!r}; known: {', '.join(VARIANTS)}")
    out = copy.deepcopy(raw)
    for table, update in VARIANTS[variant].items():
        _merge(out, table, dict(update))
    return out


def _merge(node: dict[str, Any], key: str, update: dict[str, Any]) -> None:
    if update.pop(REPLACE, False):
        node[key] = {}
    target = node.setdefault(key, {})
    for k, v in update.items():
        if isinstance(v, dict):
            _merge(target, k, dict(v))
        else:
            target[k] = v


def experiments(path: str | Path, overrides: Sequence[str], variants: Sequence[str]) -> list[tuple[str, Any]]:
    """[(name, Experiment)]: "main" first, then each variant. The `--set` overrides are applied
    to the main experiment's tables before the variants are derived, so e.g. a `model.init`
    override reaches the main model but not the scratch, cnn or handcrafted baselines."""
    from pianox.config import experiment_from_dict, load_toml, parse_override

    path = Path(path)
    raw, lines = load_toml(path)
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {p!r} is a value, not a table")
        node[parts[-1]] = value
    raw.setdefault("run", {}).setdefault("name", path.stem)
    out = [("main", experiment_from_dict(raw, file=str(path), lines=lines, default_name=path.stem, path=path))]
    if out[0][1].stages["task"].kind != "perception":
        raise ConfigError(f"{path}: baselines are for perception experiments")
    for v in variants:
        derived = derive(raw, v)
        derived["run"]["name"] = f"{raw['run']['name']}-{v}"
        out.append((v, experiment_from_dict(derived, file=f"{path} (baseline {v})", default_name=path.stem,
                                            path=path)))
    return out


def run_baselines(path: str | Path, overrides: Sequence[str] = (), *, variants: Sequence[str] | None = None,
                  force: bool = False, quiet: bool = False, split: str = "test") -> Path:
    """Train the main experiment and its baselines (reusing finished runs) and compare them."""
    from pianox.runner import ensure_run

    from .report import align, compare, read_predictions

    chosen = list(VARIANTS) if variants is None else list(variants)
    runs: dict[str, Path] = {}
    exps = experiments(path, overrides, chosen)
    for name, exp in exps:
        runs[name] = ensure_run(exp, name, force=force, quiet=quiet)
    main_exp = exps[0][1]
    out = Path(main_exp.run.output_dir) / f"{main_exp.run.name}-baselines-{main_exp.hash()}"
    result: dict[str, Any] = {"split": split, "runs": {k: str(v) for k, v in runs.items()}, "models": {},
                              "comparisons": {}}
    preds = {k: read_predictions(v / "predictions" / f"{split}.json") for k, v in runs.items()}
    for name, root in runs.items():
        table = json.loads((root / "perception_results.json").read_text(encoding="utf-8"))
        result["models"][name] = {k: table[k] for k in ("clips", "mean", "audible", "groups")}
        if name != "main":
            pred, base, target = align(preds["main"], preds[name], f"main vs {name}")
            result["comparisons"][name] = compare(pred, base, target)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "baselines.json", json.dumps(result, indent=2) + "\n")
    atomic.write_text(out / "baselines.md", markdown(result, out.name))
    return out


def markdown(result: dict[str, Any], title: str) -> str:
    """The comparison as Markdown: one row per model, one per paired test."""
    from .report import cell

    lines = [f"# {title}", "", f"{result['split']} split; 95% bootstrap intervals over clips.", "",
             "| model | clips | mean Pearson | mean R² | audible Pearson | run |", "|---|---|---|---|---|---|"]
    for name, m in result["models"].items():
        lines.append(f"| {name} | {m['clips']} | {cell(m['mean']['pearson'], m['mean'].get('pearson_ci'))} | "
                     f"{cell(m['mean']['r2'], m['mean'].get('r2_ci'))} | "
                     f"{cell(m['audible']['pearson'], m['audible'].get('pearson_ci'))} | {result['runs'][name]} |")
    lines += ["", "| main vs | MSE diff (main - baseline) | permutation p | Δ mean Pearson [CI] | p (main > baseline) "
                  "| Δ audible Pearson [CI] | p |", "|---|---|---|---|---|---|---|"]
    for name, c in result["comparisons"].items():
        pb, pa = c["pearson"], c["pearson_audible"]
        lines.append(f"| {name} | {c['mse_diff']:+.5f} | {c['p']:.4g} | {pb['diff']:+.3f} [{pb['low']:+.3f}, "
                     f"{pb['high']:+.3f}] | {pb['p_greater']:.4g} | {pa['diff']:+.3f} [{pa['low']:+.3f}, "
                     f"{pa['high']:+.3f}] | {pa['p_greater']:.4g} |")
    return "\n".join(lines) + "\n"
