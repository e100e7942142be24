"""Token sequences -> notes: strict validation and decoding of one segment.

`validate` states the grammar every generated sequence obeys (the constrained decoder in
`grammar.py` enforces the same rules step by step); `decode` reads a sequence into a
`Segment`, skipping what the grammar forbids so that even unconstrained output decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tokens import DEFAULT_VELOCITY, EOS, PAD, SOS, Vocabulary


@dataclass
class Segment:
    """Notes decoded from one segment, times relative to its start (seconds).

    `notes` `(N, 4)` onset, offset, pitch, velocity. `tied[i]`: note i came from the tie
    section (onset before the segment; its onset is 0 and its velocity unknown). `open[i]`:
    no NOTE_OFF before EOS (its offset is the segment end). `pedal` `(K, 2)` sustain intervals
    with `pedal_tied` / `pedal_open` meaning the same for the pedal's first / last interval.
    """

    notes: np.ndarray
    tied: np.ndarray
    open: np.ndarray
    duration: float
    pedal: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    pedal_tied: bool = False
    pedal_open: bool = False


def validate(tokens: list[int] | np.ndarray, vocab: Vocabulary, duration: float | None = None) -> str | None:
    """None when `tokens` (without SOS; PAD after EOS allowed) is a valid segment, else the
    first violation as "position i: reason".

    Rules: tie section of ascending NOTE_ONs (an optional leading PEDAL_ON) ended by TIE;
    then TIME tokens strictly increasing and within the segment; VELOCITY only inside a time
    step and followed by NOTE_ON; NOTE_ON needs a velocity and a free pitch and an onset bin
    before the segment's last; NOTE_OFF needs a sounding pitch started at an earlier time;
    pedal tokens alternate (an up after an earlier down); EOS (not after VELOCITY) ends the
    sequence, followed only by PAD.
    """
    n = vocab.time_bins if duration is None else int(round(duration / vocab.time_step))
    tie, time, vel, pedal, pedal_time, prev = True, -1, False, False, -1, None
    last_tie_pitch = -1
    started: dict[int, int] = {}  # sounding pitch -> onset bin (-1 for tied notes)
    ended = False
    for i, tok in enumerate(int(t) for t in tokens):
        if ended:
            if tok != PAD:
                return f"position {i}: token {tok} after EOS"
            continue
        if not 0 <= tok < vocab.size or tok in (PAD, SOS):
            return f"position {i}: token {tok} is not an event"
        kind, value = vocab.kind(tok), vocab.value(tok)
        if prev == "velocity" and kind != "on":
            return f"position {i}: VELOCITY must be followed by NOTE_ON, got {kind}"
        if tie:
            if kind == "tie":
                tie = False
            elif kind == "on" and value > last_tie_pitch:
                started[value], last_tie_pitch = -1, value
            elif kind == "pedal_on" and i == 0:
                pedal, pedal_time = True, -1
            else:
                return f"position {i}: {kind} in the tie section"
        elif kind == "time":
            if not time < value <= n:
                return f"position {i}: TIME({value}) after TIME({time}) in a {n}-bin segment"
            time = value
        elif kind == "eos":
            ended = True
        elif time < 0:
            return f"position {i}: {kind} before the first TIME"
        elif kind == "velocity":
            if time >= n:
                return f"position {i}: VELOCITY at the segment's end"
            vel = True
        elif kind == "on":
            if not vel or value in started or time >= n:
                return f"position {i}: NOTE_ON({value}) without velocity, sounding, or at the end"
            started[value] = time
        elif kind == "off":
            if started.get(value, time) >= time:
                return f"position {i}: NOTE_OFF({value}) of a pitch not sounding since before TIME({time})"
            del started[value]
        elif kind in ("pedal_on", "pedal_off"):
            if pedal == (kind == "pedal_on") or (kind == "pedal_off" and pedal_time >= time):
                return f"position {i}: {kind} while the pedal is {'down' if pedal else 'up'} since TIME({pedal_time})"
            pedal, pedal_time = not pedal, time
        else:
            return f"position {i}: {kind} in the body"
        prev = kind
    return None if ended else "the sequence has no EOS"


def decode(tokens: list[int] | np.ndarray, vocab: Vocabulary, duration: float) -> Segment:
    """Read a segment's tokens (without SOS) into a `Segment`; invalid events are skipped.

    Notes still sounding at EOS (or at the end of the tokens) end at `duration` and are open.
    """
    step = vocab.time_step
    n = int(round(duration / step))
    rows: list[list[float]] = []
    tied_rows: list[bool] = []
    sounding: dict[int, int] = {}  # pitch -> row index
    pedal_rows: list[list[float]] = []
    pedal_down: float | None = None
    pedal_tied = False
    tie, time, vel = True, -1, None
    for tok in (int(t) for t in tokens):
        if tok == EOS:
            break
        if not 0 <= tok < vocab.size or tok in (PAD, SOS):
            continue
        kind, value = vocab.kind(tok), vocab.value(tok)
        if tie:
            if kind == "tie":
                tie = False
            elif kind == "on" and value not in sounding:
                sounding[value] = len(rows)
                rows.append([0.0, np.nan, value, DEFAULT_VELOCITY])
                tied_rows.append(True)
            elif kind == "pedal_on" and pedal_down is None:
                pedal_down, pedal_tied = 0.0, True
            continue
        if kind == "time" and time < value <= n:
            time = value
        elif time < 0:
            continue
        elif kind == "velocity":
            vel = value
        elif kind == "on" and vel is not None and value not in sounding and time < n:
            sounding[value] = len(rows)
            rows.append([time * step, np.nan, value, float(vocab.bin_velocity(vel))])
            tied_rows.append(False)
        elif kind == "off" and value in sounding:
            row = rows[sounding[value]]
            if tied_rows[sounding[value]] or row[0] < time * step - step / 2:
                row[1] = time * step
                del sounding[value]
        elif kind == "pedal_on" and pedal_down is None:
            pedal_down = time * step
        elif kind == "pedal_off" and pedal_down is not None and pedal_down < time * step:
            pedal_rows.append([pedal_down, time * step])
            pedal_down = None
    notes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    is_open = np.isnan(notes[:, 1])
    notes[is_open, 1] = n * step
    if pedal_down is not None:
        pedal_rows.append([pedal_down, n * step])
    order = np.lexsort((notes[:, 2], notes[:, 0]))
    return Segment(notes=notes[order], tied=np.asarray(tied_rows, dtype=bool)[order], open=is_open[order],
                   duration=n * step, pedal=np.asarray(pedal_rows, dtype=np.float64).reshape(-1, 2),
                   pedal_tied=pedal_tied, pedal_open=pedal_down is not None)
