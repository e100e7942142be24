"""The E-GMD twin: humanised drum grooves rendered on several kits, in E-GMD v1's layout.

Writes `drummer{d}/session{s}/{id}_{style}_{bpm}_{beat_type}_{ts}_{k}.wav` + `.midi` (one pair
per kit, `k` numbering the kits as E-GMD does) and `e-gmd-v1.0.0.csv` with E-GMD's columns.
Sequences are "beat" grooves (8 bars, with fills) or short "fill" sequences (2 bars, the last
one a fill), 60-200 bpm, in 4/4, 3/4 or 6/8, styles rock, funk, hip-hop, jazz, latin, shuffle.
Splits are by sequence: every kit rendering of a sequence shares its split, fixed by the
sequence's identity (`sequence_id`, hashed by pianox.holdout.work_split), so a sequence keeps
its split in twins of any size. The stamp records each kit's preset samples: in TimGM6mb every
kit shares most samples with "Standard", so a held-out kit needs another SoundFont.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pianox.holdout import work_split

from .corpus import (Progress, default_workers, item_rng, run_jobs, staged_corpus, write_csv,
                     write_stamp)
from .grooves import PATTERNS, TEMPO_RANGE, groove, hits_to_midi, sample_drummer
from .kits import KITS, Kit

DEFAULT_MINUTES = 5.0
DRUMMERS = 3
KITS_PER_SEQUENCE = 2
GAIN_DB = -4.0
"""Master gain of drum renders: TimGM6mb's kits peak near full scale at forte."""
COLUMNS = ("drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "duration",
           "split", "midi_filename", "audio_filename", "kit_name")


def sequence_id(seed: int, index: int) -> str:
    """The identity of a generated sequence: its content is a function of (seed, index), and
    the first N sequences of a plan do not depend on its minutes."""
    return f"egmd-twin/seed{seed}/sequence{index}"


def plan(minutes: float, seed: int) -> list[dict[str, Any]]:
    """The sequences to render: drummer, style, tempo, meter, bars, kits, split."""
    total = max(float(minutes), 0.05) * 60.0
    rng = item_rng(seed, "egmd-plan")
    combos = sorted(PATTERNS)
    seqs: list[dict[str, Any]] = []
    spent = 0.0
    while spent < total or len({work_split(sequence_id(seed, s["index"])) for s in seqs}) < 3:
        i = len(seqs) + 1
        style, ts = combos[int(rng.integers(len(combos)))]
        lo, hi = TEMPO_RANGE[style]
        bpm = int(rng.integers(max(60, lo), min(200, hi) + 1))
        fill = rng.random() < 0.2
        bars = 2 if fill else 8
        _, beats, _ = PATTERNS[(style, ts)]
        seconds = bars * beats * 60.0 / bpm + 1.2
        drummer = int(rng.integers(1, DRUMMERS + 1))
        session = 1 + (i - 1) // 8
        first_kit = int(rng.integers(len(KITS)))
        kits = [KITS[(first_kit + k) % len(KITS)] for k in range(KITS_PER_SEQUENCE)]
        seqs.append({"index": i, "style": style, "ts": ts, "bpm": bpm, "bars": bars,
                     "beat_type": "fill" if fill else "beat", "drummer": drummer,
                     "session": session, "kits": kits, "seed": seed})
        spent += seconds * len(kits)
    for seq in seqs:  # fixed per sequence (pianox.holdout), whatever the twin's size
        seq["split"] = work_split(sequence_id(seed, seq["index"]))
    return seqs


def _render(job: dict[str, Any]) -> list[dict[str, Any]]:
    from pianox.audio import write_audio
    from pianox.midi import write_midi

    from .render import render_midi
    from .tone import limit, tilt

    drummer = sample_drummer(item_rng(job["seed"], "drummer", job["drummer"]))
    hits = groove(job["style"], job["ts"], job["bpm"], job["bars"], drummer,
                  item_rng(job["seed"], "egmd", job["index"]), fill_bar=job["beat_type"] == "fill")
    folder = f"drummer{job['drummer']}/session{job['session']}"
    base = f"{job['index']}_{job['style']}_{job['bpm']}_{job['beat_type']}_{job['ts']}"
    rows = []
    for k, kit in enumerate(job["kits"], start=1):
        pm = hits_to_midi(hits, kit.program)
        audio = render_midi(pm, job["sample_rate"], job["soundfont"], gain_db=GAIN_DB + kit.gain_db)
        audio, _ = limit(tilt(audio, job["sample_rate"], kit.tilt))
        stem = f"{folder}/{base}_{k}"
        write_midi(Path(job["root"]) / f"{stem}.midi", pm)
        write_audio(Path(job["root"]) / f"{stem}.wav", audio, job["sample_rate"])
        rows.append({"drummer": f"drummer{job['drummer']}", "session": folder,
                     "id": f"{folder}/{job['index']}", "style": job["style"], "bpm": job["bpm"],
                     "beat_type": job["beat_type"], "time_signature": job["ts"],
                     "duration": round(len(audio) / job["sample_rate"], 6), "split": job["split"],
                     "midi_filename": f"{stem}.midi", "audio_filename": f"{stem}.wav",
                     "kit_name": kit.name})
    return rows


def kit_record(soundfont: str, kit: Kit) -> dict[str, Any]:
    """The stamp's record of a kit: its drum preset's samples (the standard kit's when the
    SoundFont lacks the preset, as the renderer falls back), gain and tilt."""
    from pianox.errors import DataError

    from .soundfont import DRUM_BANK, timbre_record

    try:
        record = timbre_record(soundfont, DRUM_BANK, kit.program)
    except DataError:
        record = timbre_record(soundfont, DRUM_BANK, 0)
    return {**record, "gain_db": kit.gain_db, "tilt": kit.tilt}


def synthesize(out: Path, minutes: float | None = None, sample_rate: int = 16000,
               soundfont: str | None = None, seed: int = 0, jobs: int = 0,
               progress: Progress | None = None, exist_ok: bool = False) -> Path:
    """Render the E-GMD twin into the new folder `out` (see module doc); returns `out`."""
    from .render import resolve_soundfont

    minutes = DEFAULT_MINUTES if minutes is None else minutes
    sf = str(resolve_soundfont(soundfont))
    todo = plan(minutes, seed)
    with staged_corpus(out, exist_ok=exist_ok) as stage:
        for job in todo:
            job.update(root=str(stage), sample_rate=int(sample_rate), soundfont=sf)
        rows = [r for rs in run_jobs(_render, todo, default_workers(jobs, len(todo)), progress)
                for r in rs]
        write_csv(stage / "e-gmd-v1.0.0.csv", COLUMNS, rows)
        write_stamp(stage, "egmd", {"minutes": minutes, "sample_rate": int(sample_rate),
                                    "soundfont": Path(sf).name, "seed": seed}, len(rows),
                    timbres={kit.name: kit_record(sf, kit) for kit in KITS})
    return Path(out)
