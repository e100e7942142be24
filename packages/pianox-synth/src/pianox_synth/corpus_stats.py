"""Statistics of a rendered piano corpus and of the work catalogue, as tables and a figure.

    python -m pianox_synth.corpus_stats CORPUS [--png docs/piano_corpus.png] [--json stats.json]
    python -m pianox_synth.corpus_stats --catalogue

For a corpus written by `pianox data synth piano` (read through its MAESTRO index, its MIDI
files and `piano-corpus.json`): works, études, hours, notes; per-pitch and per-velocity
histograms; the polyphony distribution (keys down, sampled every 10 ms of time with at least
one key down); the share of time with the sustain pedal down; hours and files per SoundFont
and split. The figure has one panel for each. `--catalogue` prints the works of
`scores.PIANO_CATALOGUE` and their minutes at the reference tempi, by composer and genre. Both print
Markdown tables, the form docs/data.md shows them in.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

import numpy as np

FRAME = 0.01
"""Seconds between polyphony samples."""


def corpus_stats(root: Path) -> dict[str, Any]:
    """The statistics of the piano corpus at `root` (see module doc) as plain numbers."""
    from pianox.midi import read_notes, read_pedal
    from pianox.sources.maestro import MaestroSource

    from .piano_corpus import INDEX

    recs, _ = MaestroSource.read_index(root)
    facts = json.loads((root / INDEX).read_text(encoding="utf-8"))
    pitch = np.zeros(128, dtype=np.int64)
    velocity = np.zeros(128, dtype=np.int64)
    polyphony = np.zeros(64, dtype=np.int64)
    by_cell: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    works, etudes, notes_total, pedal_s, music_s, audio_s = set(), set(), 0, 0.0, 0.0, 0.0
    for rec in recs:
        fact = facts[rec.audio.relative_to(root).as_posix()]
        notes = read_notes(rec.midi)
        pedal = read_pedal(rec.midi)
        (etudes if fact["kind"] == "etude" else works).add(fact["work"])
        notes_total += len(notes)
        np.add.at(pitch, notes[:, 2].astype(int), 1)
        np.add.at(velocity, notes[:, 3].astype(int), 1)
        grid = np.arange(0.0, notes[:, 1].max(), FRAME)
        down = np.zeros(len(grid), dtype=np.int64)
        for on, off in notes[:, :2]:
            down[int(np.ceil(on / FRAME)):int(np.ceil(off / FRAME))] += 1
        np.add.at(polyphony, np.minimum(down[down > 0], 63), 1)
        end = max(float(notes[:, 1].max()), float(pedal[:, 1].max()) if len(pedal) else 0.0)
        music_s += end
        pedal_s += float(np.sum(np.minimum(pedal[:, 1], end) - pedal[:, 0])) if len(pedal) else 0.0
        audio_s += rec.duration
        cell = by_cell[(fact["soundfont"], rec.split)]
        cell[0] += 1
        cell[1] += rec.duration / 3600
    return {"files": len(recs), "works": len(works), "etudes": len(etudes),
            "hours": audio_s / 3600, "music_hours": music_s / 3600, "notes": notes_total,
            "pedalled_share": pedal_s / max(music_s, 1e-9),
            "pitch_histogram": pitch.tolist(), "velocity_histogram": velocity.tolist(),
            "polyphony_histogram": polyphony.tolist(),
            "by_soundfont_split": [{"soundfont": sf, "split": split, "files": int(n), "hours": h}
                                   for (sf, split), (n, h) in sorted(by_cell.items())]}


def catalogue_table() -> list[dict[str, Any]]:
    """Works of `scores.PIANO_CATALOGUE` and minutes at their reference tempi, by composer and
    genre (parses any work not yet in the score cache)."""
    from .piano_corpus import genre_of
    from .scores import PIANO_CATALOGUE, load_score

    cells: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for work in PIANO_CATALOGUE:
        score = load_score(work)
        cell = cells[(work.composer, genre_of(work))]
        cell[0] += 1
        cell[1] += float(score.measure_starts[-1] - score.measure_starts[0]) * 60 / work.qpm / 60
    return [{"composer": c, "genre": g, "works": int(n), "minutes": m}
            for (c, g), (n, m) in sorted(cells.items(), key=lambda kv: -kv[1][1])]


def markdown(stats: dict[str, Any]) -> str:
    """The corpus statistics as the Markdown tables of docs/data.md."""
    pitch = np.array(stats["pitch_histogram"])
    vel = np.array(stats["velocity_histogram"])
    poly = np.array(stats["polyphony_histogram"], dtype=float)
    poly_share = poly / max(poly.sum(), 1)
    keys = np.flatnonzero(pitch)
    lines = [
        "| files | works | études | hours of audio (of music) | notes | keys played | "
        "velocities | pedal down |",
        "|---|---|---|---|---|---|---|---|",
        f"| {stats['files']} | {stats['works']} | {stats['etudes']} | {stats['hours']:.2f} "
        f"({stats['music_hours']:.2f}) | {stats['notes']} | {len(keys)} ({keys.min()}..{keys.max()}) | "
        f"{np.flatnonzero(vel).min()}..{np.flatnonzero(vel).max()} | "
        f"{100 * stats['pedalled_share']:.0f} % of the time |",
        "",
        "| keys down | " + " | ".join(str(k) for k in range(1, 11)) + " | > 10 |",
        "|---|" + "---|" * 11,
        "| share of time | " + " | ".join(f"{100 * poly_share[k]:.1f} %" for k in range(1, 11))
        + f" | {100 * poly_share[11:].sum():.1f} % |",
        "",
        "| SoundFont | split | files | hours |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c['soundfont']} | {c['split']} | {c['files']} | {c['hours']:.2f} |"
              for c in stats["by_soundfont_split"]]
    return "\n".join(lines)


def figure(stats: dict[str, Any], path: Path) -> None:
    """A 2 x 2 figure: pitch and velocity histograms, polyphony, hours per SoundFont and split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    pitch = np.array(stats["pitch_histogram"])
    ax[0, 0].bar(np.arange(21, 109), pitch[21:109], width=1.0, color="tab:blue")
    ax[0, 0].set(title="notes per key (A0 = 21 .. C8 = 108)", xlabel="MIDI pitch", ylabel="notes",
                 yscale="log")
    vel = np.array(stats["velocity_histogram"])
    ax[0, 1].bar(np.arange(128), vel, width=1.0, color="tab:orange")
    ax[0, 1].set(title="notes per velocity", xlabel="MIDI velocity", ylabel="notes")
    poly = np.array(stats["polyphony_histogram"], dtype=float)
    k = np.arange(1, 13)
    ax[1, 0].bar(k, 100 * poly[1:13] / max(poly.sum(), 1), color="tab:green")
    ax[1, 0].set(title=f"keys down (pedal down {100 * stats['pedalled_share']:.0f} % of the time)",
                 xlabel="keys held at once", ylabel="% of time with a key down")
    cells = stats["by_soundfont_split"]
    fonts = sorted({c["soundfont"] for c in cells})
    bottom = np.zeros(len(fonts))
    for split, colour in (("train", "tab:blue"), ("validation", "tab:orange"), ("test", "tab:red")):
        hours = np.array([sum(c["hours"] for c in cells if c["soundfont"] == f and c["split"] == split)
                          for f in fonts])
        ax[1, 1].bar(fonts, hours, bottom=bottom, label=split, color=colour)
        bottom += hours
    ax[1, 1].set(title=f"{stats['hours']:.1f} h: {stats['works']} works, {stats['etudes']} études",
                 ylabel="hours")
    ax[1, 1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pianox_synth.corpus_stats",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, help="a corpus from `pianox data synth piano`")
    parser.add_argument("--png", type=Path, help="write the figure here")
    parser.add_argument("--json", type=Path, help="write the statistics here")
    parser.add_argument("--catalogue", action="store_true", help="the catalogue table")
    args = parser.parse_args(argv)
    if args.catalogue:
        rows = catalogue_table()
        print("| composer | genre | works | minutes |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['composer']} | {r['genre']} | {r['works']} | {r['minutes']:.0f} |")
        print(f"| **all** | | **{sum(r['works'] for r in rows)}** | "
              f"**{sum(r['minutes'] for r in rows):.0f}** |")
    if args.corpus is not None:
        stats = corpus_stats(args.corpus)
        print(markdown(stats))
        if args.png:
            figure(stats, args.png)
        if args.json:
            args.json.write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
