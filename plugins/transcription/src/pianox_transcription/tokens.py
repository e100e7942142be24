"""MT3-style note event vocabulary: notes of one audio segment <-> a token sequence.

A segment of at most `segment_seconds` is written as

    [PEDAL_ON] NOTE_ON(p1) NOTE_ON(p2) ... TIE        the tie section: notes (and the sustain
                                                      pedal) still sounding from before the
                                                      segment, pitches ascending
    TIME(t) [NOTE_OFF(p)...] [PEDAL_*] [VELOCITY(v)] NOTE_ON(p) ...
    TIME(t') ...                                      events in time order
    EOS

TIME(t) is the absolute time inside the segment in `time_step` bins (10 ms): 0 .. time_bins,
strictly increasing. VELOCITY(v) sets the velocity bin of the following note-ons (32 bins
over 0..127) until the next VELOCITY. Onsets lie in bins [0, n) of an n-bin segment, offsets
in (0, n]; a note still sounding at the end simply has no NOTE_OFF (the next segment ties it).

Quantisation (`quantize_notes`) is the canonical form the round trip is exact to: times
rounded to bins, notes at least one bin long, velocities at their bin centres, pitches outside
the piano's 21..108 dropped, and a re-struck pitch ending where its next onset begins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAD, SOS, EOS, TIE = 0, 1, 2, 3
NUM_SPECIAL = 4
MIN_PITCH, MAX_PITCH = 21, 108
NUM_PITCHES = MAX_PITCH - MIN_PITCH + 1
DEFAULT_VELOCITY = 64
"""Velocity of a tied note whose onset lies in no decoded segment (MIDI units)."""


@dataclass(frozen=True)
class Vocabulary:
    """Token id layout for segments of up to `time_bins` bins of `time_step` seconds.

    Ids: PAD 0, SOS 1, EOS 2, TIE 3, then TIME(0..time_bins), VELOCITY(0..velocity_bins-1),
    NOTE_ON(21..108), NOTE_OFF(21..108) and, with `pedal`, PEDAL_ON, PEDAL_OFF.
    """

    time_bins: int = 200
    time_step: float = 0.01
    velocity_bins: int = 32
    pedal: bool = False
    time0: int = field(init=False)
    velocity0: int = field(init=False)
    on0: int = field(init=False)
    off0: int = field(init=False)
    pedal_on: int = field(init=False)
    pedal_off: int = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        if self.time_bins < 1 or self.time_step <= 0 or not 1 <= self.velocity_bins <= 128:
            raise ValueError(f"bad vocabulary: time_bins={self.time_bins}, time_step={self.time_step}, "
                             f"velocity_bins={self.velocity_bins}")
        set_ = object.__setattr__
        set_(self, "time0", NUM_SPECIAL)
        set_(self, "velocity0", self.time0 + self.time_bins + 1)
        set_(self, "on0", self.velocity0 + self.velocity_bins)
        set_(self, "off0", self.on0 + NUM_PITCHES)
        set_(self, "pedal_on", self.off0 + NUM_PITCHES if self.pedal else -1)
        set_(self, "pedal_off", self.pedal_on + 1 if self.pedal else -1)
        set_(self, "size", self.off0 + NUM_PITCHES + (2 if self.pedal else 0))

    @classmethod
    def for_segment(cls, segment_seconds: float, time_step: float = 0.01, velocity_bins: int = 32,
                    pedal: bool = False) -> "Vocabulary":
        """The vocabulary whose TIME tokens cover segments of `segment_seconds`."""
        return cls(int(round(segment_seconds / time_step)), time_step, velocity_bins, pedal)

    # ---- token ids ---------------------------------------------------------------------------
    def time(self, t: int) -> int:
        return self.time0 + int(t)

    def velocity(self, b: int) -> int:
        return self.velocity0 + int(b)

    def note_on(self, pitch: int) -> int:
        return self.on0 + int(pitch) - MIN_PITCH

    def note_off(self, pitch: int) -> int:
        return self.off0 + int(pitch) - MIN_PITCH

    def kind(self, token: int) -> str:
        """"pad" | "sos" | "eos" | "tie" | "time" | "velocity" | "on" | "off" | "pedal_on" | "pedal_off"."""
        token = int(token)
        if token < NUM_SPECIAL:
            return ("pad", "sos", "eos", "tie")[token]
        if token < self.velocity0:
            return "time"
        if token < self.on0:
            return "velocity"
        if token < self.off0:
            return "on"
        if token < self.off0 + NUM_PITCHES:
            return "off"
        if token == self.pedal_on:
            return "pedal_on"
        if token == self.pedal_off:
            return "pedal_off"
        raise ValueError(f"token {token} is outside the vocabulary of {self.size}")

    def value(self, token: int) -> int:
        """The payload of a token: time bin, velocity bin or MIDI pitch (0 for the others)."""
        kind = self.kind(token)
        base = {"time": self.time0, "velocity": self.velocity0, "on": self.on0 - MIN_PITCH,
                "off": self.off0 - MIN_PITCH}.get(kind)
        return int(token) - base if base is not None else 0

    # ---- velocity bins -----------------------------------------------------------------------
    def velocity_bin(self, velocity: np.ndarray | float) -> np.ndarray:
        """MIDI velocity (0..127) -> bin index 0..velocity_bins-1."""
        v = np.clip(np.asarray(velocity, dtype=np.float64), 0, 127)
        return np.minimum((v * self.velocity_bins // 128).astype(np.int64), self.velocity_bins - 1)

    def bin_velocity(self, b: np.ndarray | int) -> np.ndarray:
        """Bin index -> the MIDI velocity at its centre (>= 1)."""
        width = 128 / self.velocity_bins
        return np.maximum(np.floor((np.asarray(b, dtype=np.float64) + 0.5) * width), 1.0)


def quantize_notes(notes: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """The canonical quantised form of `(N, 4)` notes (onset s, offset s, pitch, velocity).

    Times snap to `time_step` bins (rounding), offsets to at least one bin after the onset,
    velocities to bin centres; pitches outside 21..108 are dropped. Of two notes of one pitch
    starting in the same bin the later listed is dropped; a note overlapping the next onset of
    its pitch ends there. Rows come out sorted by onset, then pitch.
    """
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    notes = notes[(notes[:, 2] >= MIN_PITCH) & (notes[:, 2] <= MAX_PITCH)]
    step = vocab.time_step
    on = np.round(notes[:, 0] / step).astype(np.int64)
    off = np.maximum(np.round(notes[:, 1] / step).astype(np.int64), on + 1)
    pitch = np.round(notes[:, 2]).astype(np.int64)
    vel = vocab.bin_velocity(vocab.velocity_bin(notes[:, 3]))
    order = np.lexsort((np.arange(len(on)), pitch, on))
    on, off, pitch, vel = on[order], off[order], pitch[order], vel[order]
    keep = np.ones(len(on), dtype=bool)
    keep[1:] = ~((on[1:] == on[:-1]) & (pitch[1:] == pitch[:-1]))
    on, off, pitch, vel = on[keep], off[keep], pitch[keep], vel[keep]
    by_pitch = np.lexsort((on, pitch))  # consecutive rows of one pitch: clip to the next onset
    same = pitch[by_pitch][1:] == pitch[by_pitch][:-1]
    nxt = np.where(same, on[by_pitch][1:], np.iinfo(np.int64).max)
    off[by_pitch[:-1]] = np.minimum(off[by_pitch[:-1]], nxt)
    return np.stack([on * step, off * step, pitch.astype(np.float64), vel], axis=1).reshape(-1, 4)


def encode(notes: np.ndarray, duration: float, vocab: Vocabulary, pedal: np.ndarray | None = None) -> list[int]:
    """Token ids (without SOS) of the segment `[0, duration)` s holding `notes`.

    `notes` `(N, 4)` are relative to the segment start (onset < 0: still sounding from before;
    offset > duration: sounding after it); `pedal` `(K, 2)` sustain-down intervals likewise
    (used when the vocabulary has pedal tokens). Ends with EOS.
    """
    n = int(round(duration / vocab.time_step))
    if n > vocab.time_bins:
        raise ValueError(f"a segment of {duration:.3f} s needs {n} time bins; the vocabulary has "
                         f"{vocab.time_bins} (segment_seconds too small)")
    q = quantize_notes(notes, vocab)
    bins = np.round(q[:, :2] / vocab.time_step).astype(np.int64)
    events: list[tuple[int, int, int, int]] = []  # (time bin, order, pitch or 0, velocity bin)
    tied = sorted({int(p) for (a, b), p in zip(bins, q[:, 2]) if a < 0 < b})
    for (a, b), p, v in zip(bins, q[:, 2].astype(np.int64), vocab.velocity_bin(q[:, 3])):
        if 0 <= a < n:
            events.append((int(a), 3, int(p), int(v)))
        if max(a, 0) < b <= n:
            events.append((int(b), 0, int(p), 0))
    pedal_tied = False
    if vocab.pedal and pedal is not None:
        for down, up in _pedal_bins(pedal, vocab.time_step):
            if down <= 0 < up:
                pedal_tied = True
            elif 0 < down < n:
                events.append((down, 2, 0, 0))
            if 0 < up <= n:
                events.append((up, 1, 0, 0))
    tokens = ([vocab.pedal_on] if pedal_tied else []) + [vocab.note_on(p) for p in tied] + [TIE]
    current_time, current_vel = None, None
    for t, order, p, v in sorted(events):  # at one time: offs, pedal up, pedal down, ons
        if t != current_time:
            tokens.append(vocab.time(t))
            current_time = t
        if order == 0:
            tokens.append(vocab.note_off(p))
        elif order == 1:
            tokens.append(vocab.pedal_off)
        elif order == 2:
            tokens.append(vocab.pedal_on)
        else:
            if v != current_vel:
                tokens.append(vocab.velocity(v))
                current_vel = v
            tokens.append(vocab.note_on(p))
    tokens.append(EOS)
    return tokens


def _pedal_bins(pedal: np.ndarray, step: float) -> list[tuple[int, int]]:
    """Sustain intervals `(K, 2)` s -> disjoint (down, up) bin pairs: rounded, empty ones
    dropped, overlapping or touching ones merged."""
    bins = np.round(np.asarray(pedal, dtype=np.float64).reshape(-1, 2) / step).astype(np.int64)
    out: list[tuple[int, int]] = []
    for down, up in sorted(map(tuple, bins[bins[:, 1] > bins[:, 0]])):
        if out and down <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], int(up)))
        else:
            out.append((int(down), int(up)))
    return out
