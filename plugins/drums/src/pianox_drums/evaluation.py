"""Evaluating a drum model (and the band-onset baseline) on the clips of a split.

Each clip is transcribed as a whole in overlapping windows (`inference.Transcriber`), so the same
code scores training segments and full recordings. Thresholds (model) and peak-picking deltas
(baseline) are tuned on one set of clips (validation) and applied unchanged to another (test).
The report holds per-class precision / recall / F1, micro and macro F1 with percentile
bootstrap CIs over clips, the velocity error on reference hits, and a class confusion matrix.

`finish_run` is the task's end-of-run step: tune on validation, write
checkpoints/best/drums_thresholds.json, score the test split into drums_results.json and draw
plots/drums_confusion.png and plots/drums_f1.png.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox import atomic

from .decoding import tune_thresholds
from .metrics import bootstrap_ci, clip_counts, confusion, scores


@dataclass
class Clip:
    """One transcribed clip: reference hits (N, 3), posteriors and velocities (T, C), and the
    baseline's band envelopes (B, T') when it is evaluated."""

    key: str
    reference: np.ndarray
    probs: np.ndarray
    velocity: np.ndarray
    envelopes: np.ndarray | None = None


def collect_clips(transcriber: Any, examples: Sequence[Any], baseline: bool = False) -> tuple[list[Clip], list[int]]:
    """Transcribe every example (its audio at the features' rate); returns the clips and the
    class indices the baseline's bands stand for (empty without `baseline`)."""
    from pianox.batching import load_waveform

    from .baseline import band_envelopes

    names = transcriber.decoding.classes.names
    rate = transcriber.features.sample_rate
    clips, band_classes = [], []
    for e in examples:
        wave = load_waveform(e, rate)
        where = f"{e.audio_path} (example {e.key})" if e.audio_path is not None else f"example {e.key}"
        probs, velocity = transcriber.posteriors(wave, where)
        ref = np.asarray(e.targets["hits"], dtype=np.float64).reshape(-1, 3)
        envs = None
        if baseline:
            envs, band_classes = band_envelopes(wave, rate, names)
        clips.append(Clip(e.key, ref, probs, velocity, envs))
    return clips, band_classes


def tune(clips: Sequence[Clip], transcriber: Any, band_classes: Sequence[int]) -> dict[str, Any]:
    """Per-class thresholds (stored into `transcriber.decoding`) and baseline deltas tuned on
    `clips`; returns the thresholds file content."""
    from .baseline import tune_deltas

    d = transcriber.decoding
    names = d.classes.names
    thresholds, f1 = tune_thresholds([c.probs for c in clips], [c.reference for c in clips], d.frame_rate,
                                     d.min_distance)
    d.thresholds = thresholds
    out: dict[str, Any] = {
        "class_map": d.classes.class_map, "classes": list(names),
        "thresholds": [float(t) for t in thresholds], "min_distance": d.min_distance,
        "tuned_on_clips": len(clips),
        "tuned_f1": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, f1, strict=True)},
    }
    if band_classes and all(c.envelopes is not None for c in clips):
        deltas = tune_deltas([c.envelopes for c in clips], band_classes, [c.reference for c in clips],
                             transcriber.features.sample_rate, len(names))
        out["baseline_deltas"] = {names[c]: float(v) for c, v in zip(band_classes, deltas, strict=True)}
    return out


def _with_ci(counts: np.ndarray, names: Sequence[str], resamples: int) -> dict[str, Any]:
    out: dict[str, Any] = {k: (None if np.isnan(v) else v) for k, v in scores(counts, names).items()}
    if resamples and len(counts):
        present = np.flatnonzero(counts[:, :, 1].sum(axis=0) > 0)
        ci = {"f1_macro": bootstrap_ci(counts, "f1_macro", resamples),
              "f1_micro": bootstrap_ci(counts, "f1_micro", resamples)}
        ci.update({f"f1_{names[c]}": bootstrap_ci(counts, f"f1_{c}", resamples) for c in present})
        out["ci95"] = {k: [float(lo), float(hi)] for k, (lo, hi) in ci.items()}
    return out


def score(clips: Sequence[Clip], transcriber: Any, band_classes: Sequence[int] = (),
          baseline_deltas: dict[str, float] | None = None, resamples: int = 1000
          ) -> tuple[dict[str, Any], np.ndarray]:
    """The report of `clips` (see module doc) and the summed (C + 1, C + 1) confusion matrix."""
    from .baseline import band_hits

    d = transcriber.decoding
    names, C = d.classes.names, d.classes.count
    counts, base_counts = [], []
    matrix = np.zeros((C + 1, C + 1), np.int64)
    vel_err: list[float] = []
    for clip in clips:
        est = transcriber.hits(clip.probs, clip.velocity)
        counts.append(clip_counts(clip.reference, est, C))
        matrix += confusion(clip.reference, est, C)
        if len(clip.reference):
            f = np.clip(np.rint(clip.reference[:, 0] * d.frame_rate).astype(int), 0, len(clip.velocity) - 1)
            pred = clip.velocity[f, clip.reference[:, 1].astype(int)] * 127.0
            vel_err.extend(np.abs(pred - clip.reference[:, 2]).tolist())
        if baseline_deltas is not None and clip.envelopes is not None:
            deltas = [baseline_deltas.get(names[c], 0.1) for c in band_classes]
            base = band_hits(clip.envelopes, band_classes, transcriber.features.sample_rate, deltas)
            base_counts.append(clip_counts(clip.reference, base, C))
    stacked = np.stack(counts) if counts else np.zeros((0, C, 3), np.int64)
    report: dict[str, Any] = {
        "clips": len(clips),
        "reference_hits": {n: int(stacked[:, c, 1].sum()) for c, n in enumerate(names)},
        "thresholds": {n: float(t) for n, t in zip(names, d.thresholds, strict=True)},
        "model": _with_ci(stacked, names, resamples),
        "velocity_mae": float(np.mean(vel_err)) if vel_err else None,
    }
    if base_counts:
        report["baseline"] = _with_ci(np.stack(base_counts), names, resamples)
        report["baseline"]["deltas"] = dict(baseline_deltas or {})
    return report, matrix


def write_plots(report: dict[str, Any], matrix: np.ndarray, names: Sequence[str], prefix: Path,
                title: str) -> None:
    """`<prefix>_confusion.png` and `<prefix>_f1.png` of a report."""
    from .plots import plot_confusion, plot_f1

    plot_confusion(matrix, names, prefix.with_name(prefix.name + "_confusion.png"), title)
    systems = {k: report[k] for k in ("model", "baseline") if k in report}
    plot_f1(systems, names, prefix.with_name(prefix.name + "_f1.png"))


def finish_run(task: Any, run: Any) -> None:
    """The drums task's `finish`: tune on validation, report the test split (module doc)."""
    from pianox.checkpoint import load_weights
    from pianox.inference.models import LoadedModel
    from pianox.train.engine import eval_examples

    from . import baseline
    from .inference import THRESHOLDS_FILE, Transcriber, decoding_of, torch_predictor

    cfg, exp = task.config, run.experiment
    best = run.run.checkpoints / "best"
    if not (best / "model.safetensors").is_file():
        run.run.log({"drums": "no checkpoints/best: thresholds not tuned, no drums_results.json"})
        return
    load_weights(best, {"model": run.model, "head": run.head})
    trained = decoding_of(LoadedModel(run.run.path, best, exp, run.stages, run.model, run.head), thresholds=False)
    transcriber = Transcriber(trained.features, torch_predictor(trained.network()), trained.decoding)
    report: dict[str, Any] = {"split": "test"}
    baseline_deltas = None
    band_classes: list[int] = []
    if cfg.tune:
        # thresholds are tuned on validation: a seeded sample when [eval] max_examples is set
        val, _ = eval_examples(run.stages, exp, "validation", during_training=True)
        if val:
            clips, band_classes = collect_clips(transcriber, val, cfg.baseline and baseline.available())
            tuned = tune(clips, transcriber, band_classes)
            baseline_deltas = tuned.get("baseline_deltas")
            atomic.write_text(best / THRESHOLDS_FILE, json.dumps(tuned, indent=2) + "\n")
            report["tuned_on"] = {"split": "validation", "clips": len(clips), "f1": tuned["tuned_f1"]}
    test, scored = eval_examples(run.stages, exp, "test")
    if not test:
        return
    report["scored"] = scored
    clips, band_classes = collect_clips(transcriber, test, cfg.baseline and baseline_deltas is not None)
    result, matrix = score(clips, transcriber, band_classes, baseline_deltas, cfg.bootstrap)
    report.update(result)
    run.run.write_json("drums_results.json", report)
    write_plots(report, matrix, task.classes.names, run.run.plots / "drums", f"{exp.name}: test split")
