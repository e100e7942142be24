"""Notation round trip against rendered held-out works: notes -> MusicXML -> music21 -> score.

    uv run python -m pianox_transcription.notation.evaluate [--works 41] [--seed 0]
        [--seconds 30] [--figure docs/notation_excerpt.png] [--figure-work SLUG] [--json results.json]

Each test-split work of the score catalogue (`pianox.holdout.work_split`, reserved works never)
is performed for about `seconds` (groundtruth.performed_excerpt); the true performed notes go
through the whole pipeline (notate -> MusicXML bytes), the file is parsed back with music21,
and its notes are compared with the original score's:

    pitch          written notes matched one to one to played notes of the same pitch whose
                   onset is within `TOLERANCE` s of the written note's time under pianox's beat
                   map (recall: of the original's notes, a unison of two voices counted once as
                   a piano plays it; precision: of pianox's)
    onset          matched notes whose onset in quarter notes equals the original's under one
                   linear map per work, level x original + shift, the level from {1/2, 2/3, 1,
                   3/2, 2} and the shift chosen to agree most (a score written at twice the
                   note values, or with another pickup, is consistently, not randomly, off)
    level          works whose chosen level is 1 (the written beat is the original's)
    duration       matched notes whose written length equals level x the original's
    hand           matched notes on the staff of their original hand (groundtruth doc)
    metre          bar length equal to level x the original's and simple/compound alike;
                   "time signature" asks the same signature
    downbeat       original barlines (that have notes after them) that are pianox barlines
    key            written key signature equal to the original's
    tempo error    |written - played| / played quarter notes per minute, median over works

A second pass feeds the same notes with their offsets extended through the sustain pedal
(what a transcriber reports), to measure the voice cap on pedalled lengths; the baseline
(baseline.py) is music21's import of the played notes as the 120-bpm MIDI a transcriber
writes, scored the same way. Every figure is a mean over works with a 95 % bootstrap
interval over works (the tempo error: the median).
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .groundtruth import Excerpt, performed_excerpt
from .musicxml import musicxml_bytes
from .notate import Notation, notate
from .quantize import TPB

TOLERANCE = 0.1
LEVELS = (0.5, 2.0 / 3.0, 1.0, 1.5, 2.0)
COLUMNS = {"played": "pianox, played notes", "pedalled": "pianox, pedal-extended notes",
           "baseline": "baseline: music21 import of 120-bpm MIDI"}
METRICS = ("pitch_recall", "pitch_precision", "onset", "level", "duration", "hand", "metre",
           "time_signature", "downbeat", "key", "tempo_error")


def parse_back(data: bytes) -> np.ndarray:
    """`(M, 4)` notes of a MusicXML document read by music21: onset ql, length ql (tie chains
    merged, per pitch: music21's stripTies leaves tied chords of three or more pieces split),
    MIDI pitch, staff (0 upper)."""
    from music21 import converter

    return score_rows(converter.parseData(data.decode("utf-8"), format="musicxml"))


def score_rows(score) -> np.ndarray:
    """`parse_back`'s rows of a music21 Score."""
    rows: list[list[float]] = []
    for s, part in enumerate(score.parts):
        events = []
        for x in part.recurse().notes:
            at = float(x.getOffsetInHierarchy(part))
            for note in (x.notes if x.isChord else [x]):
                tie = note.tie.type if note.tie is not None else (x.tie.type if x.tie is not None else None)
                events.append((at, float(x.quarterLength), note.pitch.midi, tie))
        open_: dict[int, int] = {}
        for at, length, midi, tie in sorted(events, key=lambda e: e[0]):
            row = open_.pop(midi, None)
            if row is not None and tie in ("stop", "continue") and abs(rows[row][0] + rows[row][1] - at) < 1e-6:
                rows[row][1] += length
            else:
                rows.append([at, length, midi, s])
                row = len(rows) - 1
            if tie in ("start", "continue"):
                open_[midi] = row
    return np.asarray(rows, np.float64).reshape(-1, 4)


def _match(truth_t: np.ndarray, truth_p: np.ndarray, ours_t: np.ndarray, ours_p: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one (truth, ours) pairs of equal pitch, nearest in time first, within TOLERANCE."""
    pairs = []
    for p in np.unique(truth_p):
        a, b = np.flatnonzero(truth_p == p), np.flatnonzero(ours_p == p)
        if not len(b):
            continue
        d = np.abs(truth_t[a][:, None] - ours_t[b][None, :])
        used_a, used_b = set(), set()
        for i, j in zip(*np.unravel_index(np.argsort(d, axis=None), d.shape)):
            if d[i, j] > TOLERANCE:
                break
            if i not in used_a and j not in used_b:
                used_a.add(i), used_b.add(j)
                pairs.append((int(a[i]), int(b[j])))
    return pairs


def _level(ours: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(level, shift, fraction) of the map ours = level x truth + shift agreeing most."""
    best = (1.0, 0.0, -1.0)
    for level in LEVELS:
        d = np.round((ours - level * truth) * 48) / 48
        values, counts = np.unique(d, return_counts=True)
        frac = counts.max() / len(d)
        if frac > best[2] + 1e-9:
            best = (level, float(values[np.argmax(counts)]), float(frac))
    return best


def _one_key_once(ex: Excerpt) -> Excerpt:
    """`ex` with each unison of the original (one pitch, one onset: two voices, one key on a
    piano) kept once, its longest note."""
    order = np.lexsort((-ex.duration_ql, ex.onset_ql, ex.notes[:, 2]))
    first = np.ones(len(order), bool)
    first[1:] = (np.diff(ex.notes[order, 2]) != 0) | (np.diff(ex.onset_ql[order]) != 0)
    keep = np.sort(order[first])
    return replace(ex, notes=ex.notes[keep], onset_ql=ex.onset_ql[keep], duration_ql=ex.duration_ql[keep],
                   hand=ex.hand[keep])


@dataclass(frozen=True)
class Written:
    """A score read back, as the metrics need it (quarter notes from its start)."""

    rows: np.ndarray          # (M, 4) onset ql, length ql, MIDI pitch, staff (0 upper)
    seconds: np.ndarray       # (M,) each row's onset in the performance's time (s)
    time_signature: str
    bar_lines: np.ndarray     # barlines, ql
    fifths: int
    qpm: float                # written tempo, quarter notes per minute


def metrics(ex: Excerpt, w: Written) -> dict:
    """The metrics of the module doc for one excerpt and its written score."""
    ex = _one_key_once(ex)
    ours = w.rows
    pairs = _match(ex.notes[:, 0], ex.notes[:, 2], w.seconds, ours[:, 2])
    ti = np.array([p[0] for p in pairs], np.int64)
    oi = np.array([p[1] for p in pairs], np.int64)
    level, shift, onset = _level(ours[oi, 0], ex.onset_ql[ti]) if len(pairs) else (1.0, 0.0, 0.0)
    num, den = (int(x) for x in w.time_signature.split("/"))
    compound = den == 8 and num % 3 == 0
    true_bar = float(np.median(np.diff(ex.bar_starts)))
    true_compound = ex.time_signature in ("6/8", "9/8", "12/8")
    lines = ex.bar_starts[ex.bar_starts <= ex.onset_ql.max()] * level + shift
    return {
        "pitch_recall": len(pairs) / max(1, len(ex.notes)),
        "pitch_precision": len(pairs) / max(1, len(ours)),
        "onset": onset,
        "level": float(abs(level - 1.0) < 1e-9),
        "duration": float(np.mean(np.abs(ours[oi, 1] - level * ex.duration_ql[ti]) < 1e-6)) if len(pairs) else 0.0,
        "hand": float(np.mean(ours[oi, 3] == ex.hand[ti])) if len(pairs) else 0.0,
        "metre": float(abs(num * 4.0 / den - level * true_bar) < 1e-6 and compound == true_compound),
        "time_signature": float(w.time_signature == ex.time_signature),
        "downbeat": float(np.mean([np.min(np.abs(w.bar_lines - x)) < 1e-6 for x in lines])),
        "key": float(w.fifths == ex.fifths),
        "tempo_error": abs(w.qpm - ex.qpm) / ex.qpm,
    }


def score_excerpt(ex: Excerpt, notes: np.ndarray | None = None) -> tuple[dict, Notation, np.ndarray]:
    """(metrics, notation, parsed-back notes) of one excerpt through pianox; `notes` replaces
    its played notes (same order) as the pipeline's input."""
    n = notate(ex.notes if notes is None else notes)
    ours = parse_back(musicxml_bytes(n, ex.slug))
    q = 1.5 if n.metre.compound else 1.0
    w = Written(rows=ours, seconds=n.seconds(ours[:, 0] / q * TPB), time_signature=n.metre.time_signature,
                bar_lines=n.bar_lines() / TPB * q, fifths=n.key.fifths, qpm=n.bpm * q)
    return metrics(ex, w), n, ours


def held_out_works(count: int | None = None, seed: int = 0) -> list:
    """`count` test-split catalogue works (all when None) in a seeded order; never reserved ones."""
    from pianox.holdout import is_reserved_work, work_split
    from pianox_synth.scores import CATALOGUE

    works = [w for w in CATALOGUE if work_split(w.corpus_path) == "test" and not is_reserved_work(w.corpus_path)]
    order = np.random.default_rng(seed).permutation(len(works))
    return [works[i] for i in order[:count]]


def evaluate_notation(count: int | None = None, seed: int = 0, seconds: float = 30.0) -> dict:
    """Per-work metrics and summaries (mean, or median for the tempo error, with a 95 % CI over
    works) of `COLUMNS`: pianox on the played and on the pedal-extended notes, and the baseline
    (see module doc)."""
    from pianox.midi import apply_sustain

    from ..compare import bootstrap_ci
    from .baseline import baseline_written

    works = held_out_works(count, seed)
    rows: dict[str, dict[str, dict]] = {name: {} for name in COLUMNS}
    for i, work in enumerate(works):
        ex = performed_excerpt(work, seed * 1000 + i, seconds)
        rows["played"][work.slug] = score_excerpt(ex)[0]
        rows["pedalled"][work.slug] = score_excerpt(ex, apply_sustain(ex.notes, ex.pedal))[0]
        rows["baseline"][work.slug] = metrics(ex, baseline_written(ex))
    out: dict = {"seed": seed, "works": len(works), "seconds": seconds, "per_work": rows, "summary": {}}
    for name, per_work in rows.items():
        summary = {}
        for k in METRICS:
            vals = [m[k] for m in per_work.values()]
            stat = float(np.median(vals)) if k == "tempo_error" else float(np.mean(vals))
            summary[k] = {"value": stat, "ci": bootstrap_ci(vals, seed) if k != "tempo_error" else None}
        out["summary"][name] = summary
    return out


def markdown(results: dict) -> str:
    """The summary as a Markdown table, one column per input / method (`COLUMNS`)."""
    head = (f"{results['works']} test-split works, ~{results['seconds']:.0f} s each, seed {results['seed']}; "
            "mean over works [95 % bootstrap CI]\n\n| metric | " + " | ".join(COLUMNS.values()) + " |\n|---"
            + "|---" * len(COLUMNS) + "|\n")
    body = io.StringIO()
    for k in METRICS:
        cells = []
        for name in COLUMNS:
            s = results["summary"][name][k]
            ci = f" [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]" if s["ci"] else " (median)"
            cells.append(f"{s['value']:.3f}{ci}")
        body.write(f"| {k.replace('_', ' ')} | " + " | ".join(cells) + " |\n")
    return head + body.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pianox_transcription.notation.evaluate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--works", type=int, default=None, help="how many test works (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--figure", type=Path, default=None, help="PNG of one excerpt, original vs pianox")
    ap.add_argument("--figure-work", default=None, help="catalogue slug of the pictured work (default: the first)")
    ap.add_argument("--json", type=Path, default=None, help="write all per-work numbers here")
    args = ap.parse_args(argv)
    results = evaluate_notation(args.works, args.seed, args.seconds)
    print(markdown(results))
    if args.json:
        from pianox.atomic import write_text

        write_text(args.json, json.dumps(results, indent=1))
    if args.figure:
        from .figure import excerpt_figure

        works = held_out_works(args.works, args.seed)
        i = next((k for k, w in enumerate(works) if w.slug == args.figure_work), 0)
        ex = performed_excerpt(works[i], args.seed * 1000 + i, args.seconds)
        excerpt_figure(ex, *score_excerpt(ex)[1:], args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
