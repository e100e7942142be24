"""Two staves by hand: a split of each chord with pitch continuity and hand-span limits.

The notes starting together (one onset tick) are sorted by pitch and cut once: those below
the cut go to the left hand (lower staff), the rest to the right. Every cut of every chord is
scored, in time order, against the state so far (a greedy pass, no look-ahead):

    continuity   distance of each new note from its hand's running pitch centre
                 (an exponential average, starting at G4 for the right hand, C3 for the left)
    span         a hand spanning more than `SPAN` semitones, counting the notes it still holds
                 down, or holding more than five notes, is heavily penalised
    crossing     a right-hand note below a held left-hand note (or the reverse) is penalised
    register     right-hand notes below G3 and left-hand notes above A4 cost a little
    balance      a chord split more unevenly than one note apart costs a little
    busy hand    new notes for a hand holding keys down while the other is free cost more

Held notes count for the span, crossing and busy-hand costs, so a chord struck while the
other hand sustains keeps to its side; a new note within `LINE` semitones of a held one is
that line moving on (legato, or a length the pedal stretched), not a second busy-hand note.

The weights were set on training-split works (pianox.holdout): the hand of the original
score's parts (groundtruth doc) is found for 93 % of the notes of two-part keyboard works
and 85 % of four-part chorales and quartets, where the convention (soprano and alto in the
right hand) and a pianist's hands part more often.
"""

from __future__ import annotations

import numpy as np

from .voices import LINE

HOME = (67.0, 48.0)
"""Starting pitch centres of the right and left hands (G4, C3)."""
SPAN = 14
"""Semitones a hand spans freely (a ninth)."""
SPAN_COST = 2.0
"""Cost per semitone beyond SPAN."""
CROSS_COST = 6.0
CONTINUITY = 1.0 / 6.0
"""Cost per semitone from the hand's centre."""
REGISTER = ((55, 1.0 / 3.0), (69, 1.0 / 3.0))
"""(right hand's floor, cost per semitone below), (left hand's ceiling, cost per semitone above)."""
BALANCE = 0.5
"""Cost per note of imbalance beyond one between the hands' new notes (four-part writing puts
two voices in each hand)."""
BUSY = 2.0
"""Cost per new note given to a hand holding keys down while the other hand holds none."""
MEMORY = 0.8
"""Weight of the old centre when a hand plays new notes."""


def _cost(new: tuple[np.ndarray, np.ndarray], held: tuple[np.ndarray, np.ndarray],
          centre: list[float]) -> float:
    right, left = new
    cost = CONTINUITY * (np.abs(right - centre[0]).sum() + np.abs(left - centre[1]).sum())
    cost += BALANCE * max(0, abs(len(right) - len(left)) - 1)
    for hand in (0, 1):  # a hand holding keys down while the other is free is the less likely,
        if len(new[hand]) and len(held[hand]) and not len(held[1 - hand]):  # unless the line moves on
            gap = np.abs(new[hand][:, None] - held[hand][None, :]).min(axis=1)
            cost += BUSY * float((gap > LINE).sum())
    cost += REGISTER[0][1] * np.maximum(0.0, REGISTER[0][0] - right).sum()
    cost += REGISTER[1][1] * np.maximum(0.0, left - REGISTER[1][0]).sum()
    for hand in (0, 1):
        both = np.concatenate([new[hand], held[hand]])
        if len(both):
            cost += SPAN_COST * max(0.0, float(both.max() - both.min()) - SPAN)
            cost += 20.0 * max(0, len(both) - 5)
    if len(right) and len(held[1]) and held[1].max() > right.min():
        cost += CROSS_COST
    if len(left) and len(held[0]) and held[0].min() < left.max():
        cost += CROSS_COST
    return float(cost)


def split_hands(pitch: np.ndarray, onset: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Staff of each note `(N,)`: 0 the right hand (upper staff), 1 the left (lower), from MIDI
    `pitch` and quantised `onset` / `end` ticks `(N,)` (see module doc)."""
    pitch = np.asarray(pitch, np.float64)
    onset, end = np.asarray(onset), np.asarray(end)
    staff = np.zeros(len(pitch), np.int64)
    centre = list(HOME)
    done = np.zeros(len(pitch), bool)
    for t in np.unique(onset):
        idx = np.flatnonzero(onset == t)
        idx = idx[np.argsort(pitch[idx], kind="stable")]
        holding = np.flatnonzero(done & (end > t))
        held = (pitch[holding[staff[holding] == 0]], pitch[holding[staff[holding] == 1]])
        p = pitch[idx]
        costs = [_cost((p[j:], p[:j]), held, centre) for j in range(len(p) + 1)]
        j = int(np.argmin(costs))
        staff[idx[:j]] = 1
        done[idx] = True
        for hand, notes in ((0, p[j:]), (1, p[:j])):
            if len(notes):
                centre[hand] = MEMORY * centre[hand] + (1.0 - MEMORY) * float(notes.mean())
    return staff
