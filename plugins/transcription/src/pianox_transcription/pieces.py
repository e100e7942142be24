"""Per-piece evaluation: gather segment predictions by recording and score whole pieces.

Example keys are `<recording>@<start seconds>` (the paired sources' convention); segments of
one recording are put back in time order, their seq2seq notes stitched across boundaries and
their frame posteriors laid end to end on the piece's frame grid, then decoded once — the same
path long-audio inference takes. The reference of a piece is every target note whose onset
lies inside one of its segments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .metrics import mean_metrics, note_metrics
from .sequence import Segment
from .stitch import stitch


def piece_of(key: str) -> tuple[str, float]:
    """(recording, start seconds) of an example key `<recording>@<start>`; other keys are a
    piece of their own starting at 0."""
    name, sep, start = key.rpartition("@")
    try:
        return (name, float(start)) if sep else (key, 0.0)
    except ValueError:  # an "@" not followed by a start time is part of the name
        return key, 0.0


def lay_out(parts: list[tuple[float, np.ndarray]], frame_rate: float) -> np.ndarray:
    """(4, T, 88) posteriors of a piece from (start s, (4, T_i, 88)) segment posteriors.

    Segment i fills frames from round(start_i * frame_rate); frames no segment covers (a
    front end yields slightly fewer frames than a segment lasts) repeat the previous frame's
    frame and velocity posteriors with no onset or offset, so notes run through the gap.
    """
    total = max(int(round(s * frame_rate)) + p.shape[1] for s, p in parts)
    out = np.zeros((4, total, parts[0][1].shape[2]), dtype=np.float32)
    covered = np.zeros(total, dtype=bool)
    for start, post in sorted(parts, key=lambda x: x[0]):
        a = int(round(start * frame_rate))
        out[:, a:a + post.shape[1]] = post
        covered[a:a + post.shape[1]] = True
    for j in np.flatnonzero(~covered):
        if j > 0:
            out[1, j], out[3, j] = out[1, j - 1], out[3, j - 1]
    return out


@dataclass
class Pieces:
    """Accumulates references and predictions of segments, grouped by piece."""

    frame_rate: float
    references: dict[str, list[np.ndarray]] = field(default_factory=lambda: defaultdict(list))
    segments: dict[str, list[tuple[float, Segment]]] = field(default_factory=lambda: defaultdict(list))
    posteriors: dict[str, list[tuple[float, np.ndarray]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, key: str, duration: float, notes: np.ndarray, segment: Segment | None = None,
            posteriors: np.ndarray | None = None) -> None:
        """One segment: its key, length (s), target notes relative to its start, and what the
        heads predicted (a decoded Segment; (4, T, 88) frame posteriors)."""
        piece, start = piece_of(key)
        notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
        inside = notes[(notes[:, 0] >= 0) & (notes[:, 0] < duration)].copy()
        inside[:, :2] += start
        self.references[piece].append(inside)
        if segment is not None:
            self.segments[piece].append((start, segment))
        if posteriors is not None:
            self.posteriors[piece].append((start, posteriors))

    def reference(self, piece: str) -> np.ndarray:
        notes = np.concatenate(self.references[piece])
        return notes[np.lexsort((notes[:, 2], notes[:, 0]))] if len(notes) else notes

    def seq2seq_notes(self, piece: str) -> np.ndarray:
        starts = [s for s, _ in self.segments[piece]]
        return stitch([seg for _, seg in self.segments[piece]], starts)[0]

    def frame_notes(self, piece: str, decode: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        return decode(lay_out(self.posteriors[piece], self.frame_rate))

    def take_posteriors(self) -> dict[str, np.ndarray]:
        """Each piece's (4, T, 88) posteriors laid out once (`lay_out`), by piece name; the
        segments' posteriors are removed as they are laid out, so a split's are held once."""
        out = {}
        for piece in sorted(self.posteriors):
            out[piece] = lay_out(self.posteriors.pop(piece), self.frame_rate)
        return out

    def score(self, estimates: Callable[[str], np.ndarray]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        """(per-piece metrics, their mean) with `estimates(piece)` giving each piece's notes."""
        per_piece = {p: note_metrics(self.reference(p), estimates(p), self.frame_rate) for p in sorted(self.references)}
        return per_piece, mean_metrics(per_piece)
