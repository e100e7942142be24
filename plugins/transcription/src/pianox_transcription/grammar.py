"""Constrained decoding: which tokens may come next, for a batch of partial sequences.

`Grammar` tracks, per sequence, the state `sequence.validate` walks through (tie section or
body, current time bin, velocity set, sounding pitches and their onsets, pedal) as tensors,
and `allowed(remaining)` returns a (B, V) mask of the tokens that keep the sequence valid
*and* completable within the `remaining` tokens (so max length always ends in EOS). Masked
logits never win, so greedy, beam and sampled sequences are all valid.
"""

from __future__ import annotations

import torch

from .tokens import EOS, NUM_PITCHES, PAD, TIE, Vocabulary

_OFF = -2  # onset value of a pitch that is not sounding (tied notes have onset -1)


class Grammar:
    """Per-sequence grammar state for `batch` sequences of segments of `bins` time bins.

    `bins` is an int or a (B,) tensor (the real length of each segment, <= vocab.time_bins).
    """

    def __init__(self, vocab: Vocabulary, batch: int, bins: int | torch.Tensor, device: torch.device | str = "cpu"):
        self.vocab = v = vocab
        dev = torch.device(device)
        self.n = torch.as_tensor(bins, dtype=torch.long, device=dev).expand(batch).clone()
        if bool((self.n > v.time_bins).any()) or bool((self.n < 1).any()):
            raise ValueError(f"segment bins {self.n.tolist()} outside 1..{v.time_bins}")
        self.tie = torch.ones(batch, dtype=torch.bool, device=dev)
        self.first = torch.ones(batch, dtype=torch.bool, device=dev)
        self.last_tie = torch.full((batch,), -1, dtype=torch.long, device=dev)
        self.time = torch.full((batch,), -1, dtype=torch.long, device=dev)
        self.vel = torch.zeros(batch, dtype=torch.bool, device=dev)
        self.prev_vel = torch.zeros(batch, dtype=torch.bool, device=dev)
        self.onset = torch.full((batch, NUM_PITCHES), _OFF, dtype=torch.long, device=dev)
        self.pedal = torch.zeros(batch, dtype=torch.bool, device=dev)
        self.pedal_time = torch.full((batch,), -1, dtype=torch.long, device=dev)
        self.ended = torch.zeros(batch, dtype=torch.bool, device=dev)
        self._bins = torch.arange(v.time_bins + 1, device=dev)
        self._pitches = torch.arange(NUM_PITCHES, device=dev)

    def allowed(self, remaining: int) -> torch.Tensor:
        """(B, V) bool: tokens that may come next when `remaining` tokens (this one included)
        are left before the maximum length."""
        v = self.vocab
        B = self.n.shape[0]
        mask = torch.zeros(B, v.size, dtype=torch.bool, device=self.n.device)
        tie, body = self.tie & ~self.ended, ~self.tie & ~self.ended
        free = self.onset == _OFF  # (B, P)
        timed = body & (self.time >= 0)
        can_onset = timed & (self.time < self.n)
        # tie section: ascending pitches, an optional leading pedal, then TIE (forced near the end)
        tie_room = tie if remaining > 2 else torch.zeros_like(tie)
        mask[:, v.on0:v.off0] |= tie_room[:, None] & (self._pitches[None] > self.last_tie[:, None])
        mask[:, TIE] = tie
        if v.pedal:
            mask[:, v.pedal_on] |= tie_room & self.first
        # body
        mask[:, EOS] = body & ~self.prev_vel
        if remaining > 1:
            nv = body & ~self.prev_vel
            times = (self._bins[None] > self.time[:, None]) & (self._bins[None] <= self.n[:, None])
            mask[:, v.time0:v.velocity0] = nv[:, None] & times
            if remaining > 2:  # VELOCITY needs a NOTE_ON and an EOS after it, and a free pitch
                mask[:, v.velocity0:v.on0] = (nv & can_onset & free.any(dim=1))[:, None]
            mask[:, v.on0:v.off0] |= (can_onset & self.vel)[:, None] & free
            mask[:, v.off0:v.off0 + NUM_PITCHES] = (nv & timed)[:, None] & ~free & (self.onset < self.time[:, None])
            if v.pedal:
                mask[:, v.pedal_on] |= nv & timed & ~self.pedal
                mask[:, v.pedal_off] = nv & timed & self.pedal & (self.pedal_time < self.time)
        if remaining <= 1:
            mask[:, v.time0:] = False
        mask[:, PAD] = self.ended
        return mask

    def advance(self, tokens: torch.Tensor) -> None:
        """Apply the (B,) chosen tokens to every sequence's state."""
        v = self.vocab
        t = tokens.to(self.n.device).long()
        is_time = (t >= v.time0) & (t < v.velocity0)
        is_vel = (t >= v.velocity0) & (t < v.on0)
        is_on = (t >= v.on0) & (t < v.off0)
        is_off = (t >= v.off0) & (t < v.off0 + NUM_PITCHES)
        pitch = torch.where(is_on, t - v.on0, torch.where(is_off, t - v.off0, 0))
        in_tie, in_body = self.tie & ~self.ended, ~self.tie & ~self.ended
        rows = torch.arange(t.shape[0], device=t.device)
        on_value = torch.where(in_tie, -1, self.time)
        self.onset[rows, pitch] = torch.where(is_on, on_value,
                                              torch.where(is_off, _OFF, self.onset[rows, pitch]))
        self.last_tie = torch.where(in_tie & is_on, pitch, self.last_tie)
        self.time = torch.where(in_body & is_time, t - v.time0, self.time)
        self.vel |= in_body & is_vel
        self.prev_vel = in_body & is_vel
        if v.pedal:
            toggled = (t == v.pedal_on) | (t == v.pedal_off)
            self.pedal = torch.where(toggled, t == v.pedal_on, self.pedal)
            self.pedal_time = torch.where(toggled, torch.where(in_tie, -1, self.time), self.pedal_time)
        self.ended |= in_body & (t == EOS)
        self.tie &= ~(t == TIE)
        self.first[:] = False

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the states of rows `index` (beam search reordering), in that order."""
        for name in ("n", "tie", "first", "last_tie", "time", "vel", "prev_vel", "onset", "pedal",
                     "pedal_time", "ended"):
            setattr(self, name, getattr(self, name).index_select(0, index))
