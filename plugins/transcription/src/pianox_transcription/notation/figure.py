"""A picture of one excerpt: the original score against pianox's, as piano rolls over beats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .groundtruth import Excerpt
from .notate import Notation
from .quantize import TPB

COLOURS = ("tab:blue", "tab:orange")
"""Right hand / upper staff, left hand / lower staff."""


def excerpt_figure(ex: Excerpt, n: Notation, ours: np.ndarray, path: str | Path, bars: int = 6) -> Path:
    """Save a two-panel PNG: the first `bars` bars of the original (written onsets and lengths
    in quarter notes, coloured by hand, barlines dashed) above pianox's parsed-back MusicXML
    (`ours`: onset ql, length ql, pitch, staff), each with its own barlines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pianox.atomic import atomic_path

    q = 1.5 if n.metre.compound else 1.0
    truth = np.stack([ex.onset_ql, ex.duration_ql, ex.notes[:, 2], ex.hand], axis=1)
    panels = ((f"original score ({ex.time_signature}, key signature {ex.fifths:+d})", truth, ex.bar_starts),
              (f"pianox ({n.metre.time_signature}, key signature {n.key.fifths:+d}, "
               f"{round(n.bpm * q)} quarter notes per minute)", ours, n.bar_lines() / TPB * q))
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5))
    for ax, (title, rows, lines) in zip(axes, panels):
        end = lines[min(bars, len(lines) - 1)]  # `bars` bars (a pickup counts as one)
        keep = rows[:, 0] < end
        for on, dur, pitch, staff in rows[keep]:
            ax.barh(pitch, min(dur, end - on), left=on, height=0.8, color=COLOURS[int(staff)],
                    edgecolor="black", linewidth=0.3)
        for x in lines[lines <= end]:
            ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("MIDI pitch")
        ax.set_xlim(min(rows[keep, 0].min(), lines[0]) - 0.25, end + 0.25)
    axes[-1].set_xlabel("quarter notes from the score's start (blue: right hand / upper staff, "
                        "orange: left hand / lower staff)")
    fig.suptitle(f"{ex.slug}: performed notes -> pianox MusicXML -> music21", fontsize=11)
    fig.tight_layout()
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return p
