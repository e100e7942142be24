"""Long audio: cut it into segments, and join the segments' notes back without duplicates.

A note sounding across a boundary appears in two segments: open (no NOTE_OFF) in the first,
in the tie section of the second. `stitch` extends the first instead of starting a new note,
so it is neither duplicated nor dropped. As in MT3, a tied pitch with no open note before it
is ignored, and an open note that the next segment does not tie ends at the boundary.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pianox.midi import merge_intervals

from .sequence import Segment


def segment_starts(duration: float, segment_seconds: float) -> list[float]:
    """Start times (s) of the back-to-back segments covering `[0, duration)` (at least one)."""
    count = max(1, math.ceil(duration / segment_seconds - 1e-9))
    return [round(k * segment_seconds, 9) for k in range(count)]


def stitch(segments: Sequence[Segment], starts: Sequence[float], tolerance: float = 1e-6
           ) -> tuple[np.ndarray, np.ndarray]:
    """Join segments that start at `starts` (s) into `(N, 4)` notes and `(K, 2)` pedal intervals
    in absolute seconds, sorted by onset then pitch.

    Ties only join a segment to the one ending exactly where it starts (within `tolerance` s);
    after a gap, open notes simply end where their segment ends.
    """
    if len(segments) != len(starts):
        raise ValueError(f"{len(segments)} segments but {len(starts)} start times")
    rows: list[list[float]] = []
    pedal: list[np.ndarray] = []
    carry: dict[int, int] = {}  # pitch -> row of a note open at the previous segment's end
    prev_end = None
    for seg, start in sorted(zip(segments, starts), key=lambda x: x[1]):
        if prev_end is None or abs(prev_end - start) > tolerance:
            carry = {}
        next_carry: dict[int, int] = {}
        for (on, off, pitch, vel), tied, is_open in zip(seg.notes, seg.tied, seg.open):
            p = int(pitch)
            if tied:
                row = carry.pop(p, None)
                if row is None:
                    continue
                rows[row][1] = start + off
            else:
                row = len(rows)
                rows.append([start + on, start + off, pitch, vel])
            if is_open:
                next_carry[p] = row
        carry = next_carry
        prev_end = start + seg.duration
        if len(seg.pedal):
            pedal.append(seg.pedal + start)
    notes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))] if len(notes) else notes
    pedal_iv = merge_intervals(np.concatenate(pedal)) if pedal else np.zeros((0, 2))
    return notes, pedal_iv
