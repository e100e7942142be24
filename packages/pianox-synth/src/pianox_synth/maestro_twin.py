"""The MAESTRO twin: piano performances of real scores in MAESTRO v3's layout.

Writes `{year}/MIDI-Twin_{work}_{n}.wav` + `.midi` (the MIDI holds exactly the notes and pedal
that were rendered) and `maestro-v3.0.0.csv` / `.json` with MAESTRO's columns. Splits are by
work (MAESTRO's own rule) and fixed per work: `pianox.holdout.work_split` of the corpus path,
the same in every twin whatever its size or seed. Each work gets one or more performances
(different tempo, dynamics, pedalling) of an excerpt of at most `MAX_PIECE_SECONDS`. Reserved
evaluation works are not in the catalogue, and the reserved SoundFonts are refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from pianox.holdout import work_split

from .corpus import (Progress, default_workers, item_rng, run_jobs, staged_corpus, write_csv,
                     write_json, write_stamp)
from .perform import PerformanceParams, bars_for_seconds, perform
from .scores import CATALOGUE, load_score, work_order
from .soundfont import timbre_record

PIANO_TIMBRE = "piano"
"""The stamp's name of the one preset every performance of a maestro twin is played on."""

DEFAULT_MINUTES = 5.0
MAX_PIECE_SECONDS = 90.0
MAX_PERFORMANCES = 4
COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename",
           "audio_filename", "duration")


def sample_params(rng: np.random.Generator) -> PerformanceParams:
    """A plausible concert performance: moderate rubato, dynamics and pedal."""
    return PerformanceParams(
        tempo=rng.uniform(0.9, 1.1), tempo_drift=rng.uniform(0.01, 0.05),
        rubato=rng.uniform(0.03, 0.15), timing_jitter=rng.uniform(0.004, 0.015),
        chord_spread=rng.uniform(0.002, 0.008), articulation=rng.uniform(0.75, 1.0),
        velocity_mean=rng.uniform(50, 80), velocity_range=rng.uniform(0.3, 0.8),
        phrase_arc=rng.uniform(0.1, 0.5), voice_balance=rng.uniform(3, 10),
        velocity_noise=rng.uniform(2, 6), pedal=rng.uniform(0.3, 0.8),
        pedal_clean=rng.uniform(0.8, 1.0), pedal_lag=rng.uniform(0.03, 0.1),
        brightness=rng.uniform(-0.3, 0.3))


def plan(minutes: float, seed: int) -> list[dict[str, Any]]:
    """The performances to render: work, bars, parameters, split, year and file stem.

    Works are taken in a seeded order, each given about total / max(3, total / 90 s) seconds
    (split over up to `MAX_PERFORMANCES` performances when the work is shorter), until the
    requested minutes are covered by at least three works.
    """
    total = max(float(minutes), 0.05) * 60.0
    order = work_order(seed, "maestro-plan")
    per_work = total / max(3, math.ceil(total / MAX_PIECE_SECONDS))
    works: list[list[dict[str, Any]]] = []
    remaining = total
    for idx in order:
        if remaining <= 0 and len(works) >= 3:
            break
        work = CATALOGUE[idx]
        score = load_score(work)
        length = min(float(score.measure_starts[-1] - score.measure_starts[0]) * 60 / work.qpm,
                     MAX_PIECE_SECONDS)
        count = int(np.clip(round(per_work / length), 1, MAX_PERFORMANCES))
        excerpt = min(length, per_work / count)
        jobs = []
        for k in range(count):
            stem_rng = item_rng(seed, work.slug, k)
            params = sample_params(stem_rng)
            first = 0 if k == 0 else int(stem_rng.integers(0, max(1, score.num_bars // 2)))
            year = int(stem_rng.choice([2004, 2006, 2008, 2009, 2011, 2013, 2014, 2015, 2017,
                                        2018]))
            jobs.append({"work": work, "first_bar": first, "params": params, "year": year,
                         "num_bars": bars_for_seconds(score, first, excerpt, params.tempo),
                         "stem": f"{year}/MIDI-Twin_{work.slug}_{k + 1:02d}", "seed": seed})
        works.append(jobs)
        remaining -= count * excerpt
    for jobs in works:
        for job in jobs:
            job["split"] = work_split(job["work"].corpus_path)
    return [job for jobs in works for job in jobs]


def _render(job: dict[str, Any]) -> dict[str, Any]:
    from pianox.audio import write_audio
    from pianox.midi import write_midi

    from .render import render_performance

    work = job["work"]
    perf = perform(load_score(work), job["params"], item_rng(job["seed"], job["stem"], "perform"),
                   job["first_bar"], job["num_bars"])
    audio, factor = render_performance(perf, job["sample_rate"], job["soundfont"],
                                       program=job.get("program", 0))
    root = Path(job["root"])
    write_midi(root / f"{job['stem']}.midi", perf.midi())
    write_audio(root / f"{job['stem']}.wav", audio, job["sample_rate"])
    return {"canonical_composer": work.composer, "canonical_title": work.title,
            "split": job["split"], "year": job["year"], "midi_filename": f"{job['stem']}.midi",
            "audio_filename": f"{job['stem']}.wav",
            "duration": round(len(audio) / job["sample_rate"], 6), "limiter": factor,
            "params": asdict(perf.params)}


def synthesize(out: Path, minutes: float | None = None, sample_rate: int = 16000,
               soundfont: str | None = None, seed: int = 0, jobs: int = 0,
               progress: Progress | None = None, exist_ok: bool = False, program: int = 0) -> Path:
    """Render the MAESTRO twin into the new folder `out` (see module doc); returns `out`.

    `program` renders every performance on another General MIDI piano program (the same
    performances and labels: a held-out timbre for the same pieces)."""
    from .render import resolve_soundfont

    minutes = DEFAULT_MINUTES if minutes is None else minutes
    sf = str(resolve_soundfont(soundfont))
    todo = plan(minutes, seed)
    with staged_corpus(out, exist_ok=exist_ok) as stage:
        for job in todo:
            job.update(root=str(stage), sample_rate=int(sample_rate), soundfont=sf, program=int(program))
        rows = run_jobs(_render, todo, default_workers(jobs, len(todo)), progress)
        rows.sort(key=lambda r: (r["canonical_composer"], r["canonical_title"],
                                 r["audio_filename"]))
        index = [{c: r[c] for c in COLUMNS} for r in rows]
        write_csv(stage / "maestro-v3.0.0.csv", COLUMNS, index)
        write_json(stage / "maestro-v3.0.0.json",
                   {c: {str(i): r[c] for i, r in enumerate(index)} for c in COLUMNS})
        write_json(stage / "twin-performances.json",
                   {r["audio_filename"]: {"params": r["params"], "limiter": r["limiter"]}
                    for r in rows})
        write_stamp(stage, "maestro", {"minutes": minutes, "sample_rate": int(sample_rate),
                                       "soundfont": Path(sf).name, "seed": seed,
                                       "program": int(program)}, len(rows),
                    timbres={PIANO_TIMBRE: timbre_record(sf, 0, int(program))})
    return Path(out)
