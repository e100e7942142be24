"""The evaluation-only corpus: the reserved works, whole, on a held-out piano, all in "test".

    pianox data synth piano --reserved --out DIR [--soundfont fluidr3|PATH] [--no-acoustics]
                            [--seed S] [--jobs N]

Reserved evaluation material (`pianox.holdout`: six music21 works and the FluidR3 SoundFonts)
stands for music and a piano no pianox model has heard. This is the one render that plays it:
every movement of `scores.RESERVED_CATALOGUE` — and nothing else, no catalogue work, no étude —
performed whole by the piano corpus's performance model (`piano_corpus.sample_params`, one
performer per movement drawn from (seed, work)), on one SoundFont (default FluidR3 GM,
Debian's fluid-soundfont-gm), with the piano corpus's acoustics unless `acoustics` is off.

The layout is the piano corpus's (MAESTRO v3: `{year}/PianoX-Reserved_{work}_01.flac` +
`.midi`, `maestro-v3.0.0.csv` / `.json`, `piano-corpus.json`) with every piece in split
"test", whatever its work hash says. The stamp (`pianox-twin.json`) records
`"evaluation_only": true`, the `reserved_works` and `reserved_soundfonts` it holds and the
SoundFont's piano preset with its sample digests (`timbres`), so `pianox eval` can say whether
the evaluated piano's samples are disjoint from the training corpus's. The `maestro` reader
refuses such a corpus as train or validation data (`pianox.holdout.refuse_evaluation_only`).
Deterministic for a seed whatever `jobs` is, and atomic (staging folder, then rename), as the
piano corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pianox.errors import ConfigError
from pianox.holdout import EVALUATION_SPLIT, is_reserved_soundfont

from .corpus import (Progress, default_workers, item_rng, run_jobs, staged_corpus,
                     write_stamp)
from .piano_corpus import PROGRAM, _render, genre_of, place, sample_params, write_index

DEFAULT_SOUNDFONT = "fluidr3"
"""The SoundFont played unless another is given: FluidR3 GM (`render.KNOWN_SOUNDFONTS`)."""
PREFIX = "PianoX-Reserved"
"""File-name prefix of the performances, so a reserved file is recognisable anywhere."""


def plan(seed: int, soundfont: str, acoustics: bool = True,
         max_seconds: float | None = None) -> list[dict[str, Any]]:
    """One performance of each work of `scores.RESERVED_CATALOGUE`, whole (or its first bars
    lasting about `max_seconds` at the performer's tempo: for tests), split "test", on
    `soundfont` (a resolved path)."""
    from .perform import bars_for_seconds
    from .scores import RESERVED_CATALOGUE, load_score

    items = []
    for work in RESERVED_CATALOGUE:
        params = sample_params(item_rng(seed, work.slug, 0))
        bars = None
        if max_seconds is not None:
            score = load_score(work, reserved_ok=True)
            bars = bars_for_seconds(score, 0, max_seconds, params.tempo)
        items.append({"kind": "work", "reserved": True, "work": work,
                      "work_id": work.corpus_path, "first_bar": 0, "num_bars": bars,
                      "params": params, "slug": f"{work.slug}_01", "composer": work.composer,
                      "title": work.title, "genre": genre_of(work), "split": EVALUATION_SPLIT})
    return place(items, seed, [soundfont], acoustics, prefix=PREFIX)


def synthesize(out: Path, sample_rate: int = 16000, soundfont: str | None = None, seed: int = 0,
               jobs: int = 0, progress: Progress | None = None, exist_ok: bool = False,
               acoustics: bool = True, max_seconds: float | None = None) -> Path:
    """Render the evaluation-only corpus into the new folder `out` (see module doc); returns
    `out`. `soundfont`: a path or a name of `render.KNOWN_SOUNDFONTS` (default "fluidr3");
    `max_seconds` cuts each piece to its first bars (tests only; recorded in the stamp)."""
    from .render import resolve_soundfont
    from .scores import RESERVED_CATALOGUE
    from .soundfont import timbre_record

    if max_seconds is not None and not max_seconds > 0:
        raise ConfigError(f"max_seconds must be positive, got {max_seconds}")
    path = str(resolve_soundfont(soundfont or DEFAULT_SOUNDFONT, reserved_ok=True))
    name = Path(path).name
    timbres = {name: timbre_record(path, 0, PROGRAM)}
    todo = plan(seed, path, acoustics, max_seconds)
    with staged_corpus(out, exist_ok=exist_ok) as stage:
        for item in todo:
            item.update(root=str(stage), sample_rate=int(sample_rate))
        rows = run_jobs(_render, todo, default_workers(jobs, len(todo)), progress)
        write_index(stage, rows)
        write_stamp(stage, "piano", {"reserved": True, "sample_rate": int(sample_rate),
                                     "soundfonts": [name], "seed": seed,
                                     "acoustics": bool(acoustics), "splits": [EVALUATION_SPLIT],
                                     "program": PROGRAM, "max_seconds": max_seconds},
                    len(rows), timbres=timbres, evaluation_only=True,
                    reserved_works=[w.corpus_path for w in RESERVED_CATALOGUE],
                    reserved_soundfonts=[name] if is_reserved_soundfont(path) else [])
    return Path(out)
