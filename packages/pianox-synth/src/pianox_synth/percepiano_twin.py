"""The PercePiano twin: excerpts of real scores played by synthetic performers, with ratings.

Writes PercePiano's files: `label_2round_mean_reg_19_with0_rm_highstd0.json` (key -> 19 mean
ratings in [0, 1] + performer index), `label_2round_std_reg_19_with0_rm_highstd0.json`,
`audio/{key}.wav`, `midi/{key}.mid`, and `twin-params.json` (each key's parameters, features
and noise-free latent values: the ground truth a model can be probed against). Keys are
`{work}_{N}bars_{player}_{segment}`; player "Score" is the deadpan rendering, players
1..P are performer profiles (see `perception_model`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import (Progress, default_workers, item_rng, run_jobs, staged_corpus, write_json,
                     write_stamp)
from .perception_model import (SCORE_PARAMS, features, latent, rate, rater_biases,
                               sample_profile)
from .perform import perform
from .scores import CATALOGUE, load_score, work_order

DEFAULT_MINUTES = 4.0
LABEL_FILE = "label_2round_mean_reg_19_with0_rm_highstd0.json"
STD_FILE = "label_2round_std_reg_19_with0_rm_highstd0.json"
MIN_SEGMENTS = 6
"""Enough excerpts for a 4-fold piece split plus a test set."""
SEGMENTS_PER_WORK = 3
CLIP_SECONDS = 12.0
"""Longest excerpt at reference tempo: the largest of 16/8/4 bars that fits, else 4 bars."""


def _excerpt_bars(score, first_bar: int) -> int:
    per_bar = np.diff(score.measure_starts) * 60.0 / score.work.qpm
    for n in (16, 8, 4):
        fits = first_bar + n <= score.num_bars
        if fits and per_bar[first_bar:first_bar + n].sum() <= CLIP_SECONDS:
            return n
    return 4


def plan(minutes: float, seed: int, performers: int = 0) -> list[dict[str, Any]]:
    """Clips to render: work, bars, segment number, player and parameters.

    `performers = 0` picks 4 below 10 minutes, else 10 (enough for PercePiano's 4-fold
    performer split); every excerpt is played by every performer and by "Score".
    """
    total = max(float(minutes), 0.05) * 60.0
    performers = performers or (4 if minutes < 10 else 10)
    profiles = [sample_profile(item_rng(seed, "performer", i)) for i in range(1, performers + 1)]
    # only works outside the piano corpus's train split: no encoder pretrained on the train
    # works has heard a PercePiano twin piece (see docs/data.md, "Splits")
    order = work_order(seed, "percepiano-plan", ("validation", "test"))
    segments: list[tuple[Any, int, int, int]] = []
    seconds = 0.0
    for idx in order:
        work = CATALOGUE[idx]
        score = load_score(work)
        first = 0
        for segment in range(1, SEGMENTS_PER_WORK + 1):
            bars = _excerpt_bars(score, first)
            if first + bars > score.num_bars:
                break
            segments.append((work, first, bars, segment))
            seconds += float(score.measure_starts[first + bars] - score.measure_starts[first]) \
                * 60.0 / work.qpm * (performers + 1)
            first += bars
            if seconds >= total and len(segments) >= MIN_SEGMENTS:
                break
        if seconds >= total and len(segments) >= MIN_SEGMENTS:
            break
    jobs = []
    for work, first, bars, segment in segments:
        for player in ["Score"] + [str(i) for i in range(1, performers + 1)]:
            key = f"{work.slug}_{bars}bars_{player}_{segment}"
            params = SCORE_PARAMS if player == "Score" else \
                profiles[int(player) - 1].sample(item_rng(seed, "clip", key))
            jobs.append({"key": key, "work": work, "first_bar": first, "num_bars": bars,
                         "player": player, "params": params, "seed": seed})
    return jobs


def _render(job: dict[str, Any]) -> dict[str, Any]:
    from pianox.audio import write_audio
    from pianox.midi import write_midi

    from .render import render_performance

    score = load_score(job["work"])
    perf = perform(score, job["params"], item_rng(job["seed"], job["key"], "perform"),
                   job["first_bar"], job["num_bars"])
    audio, factor = render_performance(perf, job["sample_rate"], job["soundfont"])
    root = Path(job["root"])
    write_midi(root / "midi" / f"{job['key']}.mid", perf.midi())
    write_audio(root / "audio" / f"{job['key']}.wav", audio, job["sample_rate"])
    return {"key": job["key"], "minor": score.minor, "limiter": factor,
            "seconds": len(audio) / job["sample_rate"]}


def labels(jobs: list[dict[str, Any]], minor: dict[str, bool], seed: int
           ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, Any]]:
    """(mean labels, std labels, ground truth) for rendered clips, in PercePiano's format.

    The performer index (20th number) numbers players in order of first appearance over the
    sorted keys, as PercePiano's label script does over its rating table.
    """
    biases = rater_biases(seed)
    players: dict[str, int] = {}
    means, stds, truth = {}, {}, {}
    for job in sorted(jobs, key=lambda j: j["key"]):
        key = job["key"]
        value = latent(job["params"], minor[key])
        mean, std = rate(value, biases, item_rng(seed, "raters", key))
        index = players.setdefault(job["player"], len(players))
        means[key] = [float(x) for x in mean] + [index]
        stds[key] = [float(x) for x in std]
        truth[key] = {"params": asdict(job["params"]), "features": features(job["params"]),
                      "latent": [float(x) for x in value], "player": job["player"]}
    return means, stds, truth


def synthesize(out: Path, minutes: float | None = None, sample_rate: int = 16000,
               soundfont: str | None = None, seed: int = 0, jobs: int = 0,
               progress: Progress | None = None, exist_ok: bool = False,
               performers: int = 0) -> Path:
    """Render the PercePiano twin into the new folder `out` (see module doc); returns `out`."""
    from .render import resolve_soundfont

    minutes = DEFAULT_MINUTES if minutes is None else minutes
    sf = str(resolve_soundfont(soundfont))
    todo = plan(minutes, seed, performers)
    with staged_corpus(out, exist_ok=exist_ok) as stage:
        for job in todo:
            job.update(root=str(stage), sample_rate=int(sample_rate), soundfont=sf)
        done = run_jobs(_render, todo, default_workers(jobs, len(todo)), progress)
        means, stds, truth = labels(todo, {d["key"]: d["minor"] for d in done}, seed)
        for d in done:
            truth[d["key"]]["limiter"] = d["limiter"]
        write_json(stage / LABEL_FILE, means)
        write_json(stage / STD_FILE, stds)
        write_json(stage / "twin-params.json", truth)
        write_stamp(stage, "percepiano",
                    {"minutes": minutes, "sample_rate": int(sample_rate), "seed": seed,
                     "soundfont": Path(sf).name, "performers": performers or None}, len(done))
    return Path(out)
