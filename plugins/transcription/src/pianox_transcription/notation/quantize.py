"""Onsets and ends on a metrical grid chosen per beat.

Positions are integer ticks, `TPB` per beat (24: every grid of `SUBDIVISIONS` divides it).
A time in seconds becomes a fractional beat position by linear interpolation between the
beats (and extrapolation with the edge intervals). Each beat then gets a subdivision s from
`SUBDIVISIONS` (duplets 2, 4, 8 or triplets 3, 6; 1 for a beat of held notes) by a Viterbi
pass over the beats: a beat's cost is the squared timing error of its onset clusters on
that grid (in seconds, against `TIMING_SD`), plus `GRID_COST[s]` (simpler grids first), plus a
heavy cost when two clusters fall on one grid point; changing grid from one beat to the next
costs `SWITCH_COST`, more between duplets and triplets. Onsets snap to their beat's grid; ends
snap to the grid of the beat they fall in, and never before one step after their onset.
"""

from __future__ import annotations

import numpy as np

TPB = 24
"""Ticks per beat."""
SUBDIVISIONS = (1, 2, 3, 4, 6, 8)
GRID_COST = {1: 0.0, 2: 1.0, 3: 2.5, 4: 2.0, 6: 4.5, 8: 4.0}
"""Cost of using each grid on a beat with onsets (a prior for simple rhythms)."""
TIMING_SD = 0.025
"""Expected timing error of an onset in seconds (jitter, chord spread and beat error)."""
SWITCH_COST = 0.3
"""Cost of changing grid between beats within duplets (or triplets); x5 between the two."""
COLLISION_COST = 25.0
LEAD = 1.0 / 8.0
"""An onset up to this fraction of a beat early belongs to the next beat (played early)."""
END_LEAD = 1.0 / 16.0
"""The same for ends."""


def beat_position(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time (seconds) given beat times `(B,)`, B >= 2."""
    t = np.asarray(times, np.float64)
    b = np.asarray(beats, np.float64)
    idx = np.arange(len(b), dtype=np.float64)
    pos = np.interp(t, b, idx)
    early, late = t < b[0], t > b[-1]
    pos[early] = (t[early] - b[0]) / (b[1] - b[0])
    pos[late] = len(b) - 1 + (t[late] - b[-1]) / (b[-1] - b[-2])
    return pos


def _family(s: int) -> int:
    return 0 if s == 1 else (1 if s % 3 else 2)


def choose_grids(positions: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Subdivision per beat `(B,)` for onset-cluster positions (fractional beats), see module doc."""
    nb = len(beats)
    period = np.diff(beats, append=beats[-1] + (beats[-1] - beats[-2]))
    k = np.clip(np.floor(positions + LEAD).astype(np.int64), 0, nb - 1)
    frac = positions - k
    cost = np.zeros((nb, len(SUBDIVISIONS)))
    for j, s in enumerate(SUBDIVISIONS):
        q = np.rint(frac * s) / s
        err = (frac - q) * period[k] / TIMING_SD
        np.add.at(cost[:, j], k, 0.5 * err ** 2)
        slot = k * TPB + np.rint(q * TPB).astype(np.int64)
        _, first, counts = np.unique(slot, return_index=True, return_counts=True)
        np.add.at(cost[:, j], k[first[counts > 1]], (counts[counts > 1] - 1) * COLLISION_COST)
        used = np.zeros(nb, bool)
        used[k[np.abs(q) > 1e-9]] = True
        used[k[np.abs(q - 1.0) < 1e-9]] = True
        cost[used, j] += GRID_COST[s]
    fam = np.array([_family(s) for s in SUBDIVISIONS])
    switch = np.where(fam[:, None] == fam[None, :], SWITCH_COST, 5 * SWITCH_COST)
    switch[(fam[:, None] == 0) | (fam[None, :] == 0)] = SWITCH_COST
    np.fill_diagonal(switch, 0.0)
    total = cost[0].copy()
    back = np.zeros((nb, len(SUBDIVISIONS)), np.int64)
    for b in range(1, nb):
        cand = total[:, None] + switch
        back[b] = np.argmin(cand, axis=0)
        total = cand[back[b], np.arange(len(SUBDIVISIONS))] + cost[b]
    path = [int(np.argmin(total))]
    for b in range(nb - 1, 0, -1):
        path.append(int(back[b, path[-1]]))
    return np.array([SUBDIVISIONS[j] for j in path[::-1]], np.int64)


def snap(positions: np.ndarray, grids: np.ndarray, lead: float = LEAD) -> np.ndarray:
    """Ticks `(N,)` of fractional beat positions, each on the grid of its beat."""
    nb = len(grids)
    k = np.clip(np.floor(positions + lead).astype(np.int64), 0, nb - 1)
    s = grids[k]
    return k * TPB + (np.rint((positions - k) * s) * (TPB // s)).astype(np.int64)


def quantize(notes: np.ndarray, beats: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onset ticks `(N,)`, end ticks `(N,)`, grids `(B,)`) of `(N, 4)` notes with onset-cluster
    indices `clusters` (see beats.onset_clusters) on beat times `beats`. The notes of a cluster
    share one onset; an end is at least one grid step after its onset."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    if len(notes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.ones(len(beats), np.int64)
    times = np.bincount(clusters, notes[:, 0]) / np.bincount(clusters)
    cpos = beat_position(times, beats)
    grids = choose_grids(cpos, beats)
    onset = snap(cpos, grids)[clusters]
    step = TPB // grids[np.clip(onset // TPB, 0, len(grids) - 1)]
    end = snap(beat_position(notes[:, 1], beats), grids, lead=END_LEAD)
    return onset, np.maximum(end, onset + step), grids
