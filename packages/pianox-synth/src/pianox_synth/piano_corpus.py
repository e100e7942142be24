"""The piano corpus: works and études, several SoundFonts and rooms, in MAESTRO v3's layout.

    pianox data synth piano --out DIR --hours H --soundfont A --soundfont B ... --jobs N --seed S

Material: performances of the music21 works of `scores.PIANO_CATALOGUE` (excerpts of at most
`MAX_EXCERPT_SECONDS`, taken in a seeded order, later passes over the catalogue starting at
other bars with other performers) and generated études (`etudes`, a share `etude_share` of
the hours). Every performance draws its performer (`sample_params`), its SoundFont (dealt in
turn over the `soundfonts` given, so each plays about the same share) and, unless `acoustics`
is off, its tuning, room, microphone colour, noise and level (`acoustics.sample_acoustics`)
from `(seed, its file name)`, so the bytes written do not depend on `jobs`.

Layout: `{year}/PianoX_{work}_{n}.flac` + `.midi` (the MIDI holds exactly the notes and
pedal that were rendered, on MIDI's 1/960 s grid), `maestro-v3.0.0.csv` / `.json` with
MAESTRO's columns (split = `pianox.holdout.work_split` of the work id: the music21 corpus
path, or `etudes.etude_id`), `piano-corpus.json` (per file: work id, genre, SoundFont,
performer and acoustics, note count, pedalled seconds) and the stamp `pianox-twin.json`, which
records each SoundFont's piano preset (sample digests) and how many samples each pair of
them shares. Reserved works are not in the catalogue; the FluidR3 SoundFonts are refused
(`pianox_synth.reserved_corpus` is the evaluation-only render that plays them).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox.errors import ConfigError
from pianox.holdout import work_split

from .corpus import (Progress, item_rng, run_jobs, staged_corpus, write_csv, write_json,
                     write_stamp)
from .maestro_twin import COLUMNS
from .perform import PerformanceParams, bars_for_seconds, one_key_one_note, perform

INDEX = "piano-corpus.json"
"""Per-file facts (work, genre, SoundFont, performer, acoustics, counts) beside the index."""
DEFAULT_HOURS = 1.0
DEFAULT_ETUDE_SHARE = 0.25
MAX_EXCERPT_SECONDS = 120.0
MIN_EXCERPT_SECONDS = 20.0
PROGRAM = 0
"""General MIDI program played: Acoustic Grand Piano, bank 0, in every SoundFont."""
MIDI_GRID = 960.0
"""Ticks per second of the MIDI written (480 per beat at 120 bpm): times are rounded to it
before rendering, so audio and MIDI hold the same times."""
YEARS = (2004, 2006, 2008, 2009, 2011, 2013, 2014, 2015, 2017, 2018)
SPLITS = ("train", "validation", "test")


def sample_params(rng: np.random.Generator) -> PerformanceParams:
    """A performer for a music21 work: the maestro twin's ranges, widened, plus dynamic
    wander, louder rising lines and pedalling at harmony changes (most of the time)."""
    return PerformanceParams(
        tempo=rng.uniform(0.8, 1.2), tempo_drift=rng.uniform(0.01, 0.08),
        rubato=rng.uniform(0.0, 0.25), timing_jitter=rng.uniform(0.003, 0.02),
        chord_spread=rng.uniform(0.002, 0.012), articulation=rng.uniform(0.5, 1.05),
        velocity_mean=rng.uniform(40, 90), velocity_range=rng.uniform(0.3, 1.0),
        phrase_arc=rng.uniform(0.1, 0.8), voice_balance=rng.uniform(2, 14),
        velocity_noise=rng.uniform(2, 8), pedal=rng.uniform(0.2, 0.95),
        pedal_clean=rng.uniform(0.7, 1.0), pedal_lag=rng.uniform(0.03, 0.12),
        brightness=rng.uniform(-0.4, 0.4), dynamic_wander=rng.uniform(4, 20),
        high_loud=rng.uniform(0, 8), pedal_harmony=bool(rng.random() < 0.75))


def genre_of(work) -> str:
    """The genre a catalogue work is listed under in docs/data.md."""
    if work.genre:
        return work.genre
    if work.title.startswith("Chorale"):
        return "chorale (4 voices)"
    if "Quartet" in work.title:
        return "string quartet (piano reduction)"
    return "keyboard"


def _work_items(seconds: float, seed: int, splits: Sequence[str]) -> list[dict[str, Any]]:
    """Excerpts of catalogue works, in a seeded order, until `seconds` are covered and every
    split of `splits` has a work (the order starts with one work of each); later passes over
    the catalogue play other excerpts (other bars, another performer)."""
    from .scores import PIANO_CATALOGUE, load_score, work_order

    order = work_order(seed, "piano-corpus", tuple(splits), PIANO_CATALOGUE)
    items: list[dict[str, Any]] = []
    covered = 0.0
    for k in itertools.count():
        for idx in order:
            if covered >= seconds and len(items) >= len(splits):
                return items
            work = PIANO_CATALOGUE[idx]
            score = load_score(work)
            rng = item_rng(seed, work.slug, k)
            params = sample_params(rng)
            first = 0 if k == 0 else int(rng.integers(0, max(1, score.num_bars - 2)))
            length = float(score.measure_starts[-1] - score.measure_starts[first]) * 60 / (
                work.qpm * params.tempo)
            if length < MIN_EXCERPT_SECONDS / 2 and k > 0:
                continue  # a short work is played whole in the first pass only
            share = seconds / len(splits) if len(items) < len(splits) else seconds - covered
            excerpt = min(length, MAX_EXCERPT_SECONDS, max(share, MIN_EXCERPT_SECONDS))
            bars = bars_for_seconds(score, first, excerpt, params.tempo)
            items.append({"kind": "work", "work": work, "work_id": work.corpus_path,
                          "first_bar": first, "num_bars": bars, "params": params,
                          "slug": f"{work.slug}_{k + 1:02d}", "composer": work.composer,
                          "title": work.title, "genre": genre_of(work)})
            covered += excerpt
        if k > 50:  # pragma: no cover - a catalogue this small cannot fill the hours
            raise ConfigError(f"the catalogue cannot fill {seconds / 3600:.1f} h")
    return items


def _etude_items(seconds: float, splits: Sequence[str]) -> list[dict[str, Any]]:
    """Études 0, 1, 2, ... (the same in every corpus) whose split is asked for, until
    `seconds` are covered."""
    from .etudes import COMPOSER, GENRE, etude_id, etude_seconds, etude_slug

    items, covered = [], 0.0
    for index in itertools.count():
        if covered >= seconds:
            return items
        if work_split(etude_id(index)) not in splits:
            continue
        items.append({"kind": "etude", "index": index, "work_id": etude_id(index),
                      "slug": etude_slug(index), "composer": COMPOSER,
                      "title": f"Étude {index:05d}", "genre": GENRE})
        covered += etude_seconds(index)
    return items


def plan(hours: float, seed: int, soundfonts: Sequence[str], etude_share: float = DEFAULT_ETUDE_SHARE,
         acoustics: bool = True, splits: Sequence[str] = SPLITS) -> list[dict[str, Any]]:
    """The performances to render (see module doc), each a dict with its work id, split,
    file stem, SoundFont path and acoustics."""
    total = max(float(hours), 1e-3) * 3600.0
    etude_seconds = total * etude_share
    # The whole corpus's plan, then only the performances of `splits`: a held-out timbre's test
    # set (`--splits test`) plays exactly the test performances of the corpus of the same hours
    # and seed, whatever SoundFont renders them.
    items = _work_items(total - etude_seconds, seed, SPLITS) + (
        _etude_items(etude_seconds, SPLITS) if etude_share > 0 else [])
    for item in items:
        item["split"] = work_split(item["work_id"])
    items = [item for item in items if item["split"] in splits]
    return place(items, seed, soundfonts, acoustics)


def place(items: list[dict[str, Any]], seed: int, soundfonts: Sequence[str], acoustics: bool,
          prefix: str = "PianoX") -> list[dict[str, Any]]:
    """Give each planned item (in place) its year folder, file stem `{year}/{prefix}_{slug}`,
    SoundFont (dealt in turn over `soundfonts`) and acoustics, all drawn from (seed, slug)."""
    from .acoustics import DRY, sample_acoustics

    for i, item in enumerate(items):
        rng = item_rng(seed, item["slug"], "corpus")
        item["year"] = int(rng.choice(YEARS))
        item["stem"] = f"{item['year']}/{prefix}_{item['slug']}"
        item["soundfont"] = soundfonts[(i + seed) % len(soundfonts)]
        item["acoustics"] = sample_acoustics(rng) if acoustics else DRY
        item["seed"] = seed
    return items


def quantize(times: np.ndarray) -> np.ndarray:
    """Times rounded to the MIDI file's grid (`MIDI_GRID` ticks per second)."""
    return np.round(np.asarray(times, dtype=np.float64) * MIDI_GRID) / MIDI_GRID


def performance_of(item: dict[str, Any]):
    """The `perform.Performance` of a planned item, its times on the MIDI grid. Only an item
    of the evaluation-only render (`reserved`, pianox_synth.reserved_corpus) may play a
    reserved work."""
    from .etudes import etude
    from .scores import load_score

    if item["kind"] == "etude":
        perf = etude(item["index"])
    else:
        score = load_score(item["work"], reserved_ok=item.get("reserved", False))
        perf = perform(score, item["params"], item_rng(item["seed"], item["stem"], "perform"),
                       item["first_bar"], item["num_bars"])
    notes = perf.notes.copy()
    notes[:, :2] = quantize(notes[:, :2])
    perf.notes = one_key_one_note(notes, gap=1.0 / MIDI_GRID, min_length=1.0 / MIDI_GRID)
    perf.pedal = quantize(perf.pedal).reshape(-1, 2)
    return perf


def _render(item: dict[str, Any]) -> dict[str, Any]:
    from pianox.audio import write_audio
    from pianox.midi import merge_intervals, write_midi

    from . import acoustics as room
    from .render import render_midi
    from .tone import tilt

    perf = performance_of(item)
    sr = item["sample_rate"]
    a = item["acoustics"]
    midi = perf.midi()
    y = render_midi(midi, sr, item["soundfont"], tuning_cents=room.tuning_cents(a),
                    reserved_ok=item.get("reserved", False))
    y = tilt(y, sr, perf.params.brightness)
    y = room.apply(y, sr, a, item_rng(item["seed"], item["stem"], "room"))
    root = Path(item["root"])
    write_midi(root / f"{item['stem']}.midi", midi)
    write_audio(root / f"{item['stem']}.flac", y, sr)
    pedal = merge_intervals(perf.pedal)
    return {"canonical_composer": item["composer"], "canonical_title": item["title"],
            "split": item["split"], "year": item["year"],
            "midi_filename": f"{item['stem']}.midi", "audio_filename": f"{item['stem']}.flac",
            "duration": round(len(y) / sr, 6),
            "facts": {"work": item["work_id"], "kind": item["kind"], "genre": item["genre"],
                      "soundfont": Path(item["soundfont"]).name, "notes": int(len(perf.notes)),
                      "pedal_seconds": round(float(np.sum(pedal[:, 1] - pedal[:, 0])), 3),
                      "music_seconds": round(perf.seconds, 3), "acoustics": a.record(),
                      "params": asdict(perf.params) if item["kind"] == "work" else None,
                      "sections": perf.meta.get("sections")}}


def write_index(root: Path, rows: list[dict[str, Any]]) -> None:
    """MAESTRO's `maestro-v3.0.0.csv` / `.json` and the facts file `INDEX` of rendered `rows`
    (`_render`'s), in (composer, title, file) order."""
    rows = sorted(rows, key=lambda r: (r["canonical_composer"], r["canonical_title"],
                                       r["audio_filename"]))
    index = [{c: r[c] for c in COLUMNS} for r in rows]
    write_csv(root / "maestro-v3.0.0.csv", COLUMNS, index)
    write_json(root / "maestro-v3.0.0.json",
               {c: {str(i): r[c] for i, r in enumerate(index)} for c in COLUMNS})
    write_json(root / INDEX, {r["audio_filename"]: r["facts"] for r in rows})


def sample_overlap(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """For each pair of timbre records, how many sample digests they share."""
    out = []
    for (a, ra), (b, rb) in itertools.combinations(sorted(records.items()), 2):
        shared = len(set(ra["samples"]) & set(rb["samples"]))
        out.append({"a": a, "b": b, "shared_samples": shared, "disjoint": shared == 0})
    return out


def synthesize(out: Path, hours: float | None = None, sample_rate: int = 16000,
               soundfonts: Sequence[str] | None = None, seed: int = 0, jobs: int = 0,
               progress: Progress | None = None, exist_ok: bool = False,
               etude_share: float = DEFAULT_ETUDE_SHARE, acoustics: bool = True,
               splits: Sequence[str] = SPLITS, minutes: float | None = None) -> Path:
    """Render the piano corpus into the new folder `out` (see module doc); returns `out`.

    `hours` (or `minutes`) of music, on `soundfonts` (paths or the names of
    `render.KNOWN_SOUNDFONTS`; default TimGM6mb), `jobs` worker processes (0 = one per CPU),
    only the works of `splits` (e.g. ["test"] to render a held-out timbre's test set)."""
    import os

    from .render import resolve_soundfont
    from .soundfont import timbre_record

    if minutes is not None:
        hours = minutes / 60.0
    hours = DEFAULT_HOURS if hours is None else float(hours)
    if not hours > 0:
        raise ConfigError(f"--hours must be positive, got {hours}")
    if not 0.0 <= etude_share <= 1.0:
        raise ConfigError(f"etude share {etude_share} is outside 0..1")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ConfigError(f"splits {list(splits)}: expected some of {', '.join(SPLITS)}")
    paths = [str(resolve_soundfont(s)) for s in (soundfonts or [None])]
    if len(set(paths)) != len(paths):
        raise ConfigError(f"the same SoundFont is given twice: {paths}")
    timbres = {Path(p).name: timbre_record(p, 0, PROGRAM) for p in paths}
    todo = plan(hours, seed, paths, etude_share, acoustics, splits)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    workers = jobs if jobs > 0 else max(1, min(cpus, len(todo) // 4))
    with staged_corpus(out, exist_ok=exist_ok) as stage:
        for item in todo:
            item.update(root=str(stage), sample_rate=int(sample_rate))
        rows = run_jobs(_render, todo, workers, progress)
        write_index(stage, rows)
        overlap = sample_overlap(timbres)
        write_stamp(stage, "piano", {"hours": hours, "sample_rate": int(sample_rate),
                                     "soundfonts": [Path(p).name for p in paths], "seed": seed,
                                     "etude_share": etude_share, "acoustics": bool(acoustics),
                                     "splits": list(splits), "program": PROGRAM},
                    len(rows), timbres=timbres, sample_overlap=overlap,
                    soundfonts_disjoint=all(o["disjoint"] for o in overlap))
    return Path(out)
