"""The frame head (Onsets and Frames style): encoder time axis -> onset/frame/offset/velocity
posteriors for 88 keys at the features' frame rate, and its targets.

Patch tokens are laid out on the encoder's (Fp, Tp) grid (`to_grid`); the frequency axis is
flattened into each time step's features (so pitch, which lives on that axis, is kept), then
each time patch is expanded into the `tstride` frames it starts ("pixel shuffle" in time:
frame j comes from patch j // tstride at offset j % tstride). Frames after the last full
patch repeat its last frame. Frame tokens (patch = "frame") are the same with Fp = 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pianox.decode import frames_to_notes

from .tokens import MIN_PITCH, NUM_PITCHES

CHANNELS = ("onset", "frame", "offset", "velocity")
PRIOR_LOGITS = (-4.6, -3.0, -4.6, 0.0)
"""Initial output biases: sigmoid gives ~1 % onset/offset and ~5 % frame activity per key and
frame (about what piano music has over 88 keys), so training does not first spend its steps
pushing every posterior down from 0.5."""


class FrameHead(nn.Module):
    """(B, Fp, Tp, D) encoder grid -> {"onset", "frame", "offset", "velocity"} logits, each
    (B, T, 88) at the feature frame rate (T = the input's frames)."""

    def __init__(self, dim: int, freq_patches: int, tstride: int, hidden: int = 256, frame_hidden: int = 128,
                 dropout: float = 0.1):
        super().__init__()
        self.tstride, self.frame_hidden = tstride, frame_hidden
        self.proj = nn.Sequential(nn.Linear(freq_patches * dim, hidden), nn.GELU(), nn.Dropout(dropout))
        self.expand = nn.Linear(hidden, tstride * frame_hidden)
        self.conv = nn.Conv1d(frame_hidden, frame_hidden, kernel_size=5, padding=2)
        self.out = nn.Linear(frame_hidden, len(CHANNELS) * NUM_PITCHES)
        with torch.no_grad():  # start at the events' rarity, not at p = 0.5 for every key and frame
            self.out.bias.view(len(CHANNELS), NUM_PITCHES).copy_(
                torch.tensor(PRIOR_LOGITS, dtype=torch.float32)[:, None].expand(-1, NUM_PITCHES))

    def forward(self, grid: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        B, Fp, Tp, D = grid.shape
        x = self.proj(grid.permute(0, 2, 1, 3).reshape(B, Tp, Fp * D))  # (B, Tp, H)
        x = self.expand(x).view(B, Tp * self.tstride, self.frame_hidden)  # (B, Tp * r, h)
        if x.shape[1] < num_frames:
            x = torch.cat([x, x[:, -1:].expand(B, num_frames - x.shape[1], -1)], dim=1)
        x = F.gelu(x[:, :num_frames])
        x = x + F.gelu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        out = self.out(x).view(B, num_frames, len(CHANNELS), NUM_PITCHES)
        return {name: out[:, :, i] for i, name in enumerate(CHANNELS)}


def note_rolls(notes: np.ndarray, num_frames: int, frame_rate: float, onset_frames: int = 1) -> np.ndarray:
    """Targets (4, T, 88) float32 — onset, frame, offset, velocity — of `(N, 4)` notes whose
    times are seconds from the first frame (onsets < 0: sounding from before).

    Frame j stands for time j / frame_rate. A note covers frames [round(on), round(off)) (at
    least one); its onset marks `onset_frames` frames from round(on), its offset the frame
    round(off); velocity / 127 is written on its onset frames.
    """
    rolls = np.zeros((len(CHANNELS), num_frames, NUM_PITCHES), dtype=np.float32)
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    for on, off, pitch, vel in notes:
        k = int(round(pitch)) - MIN_PITCH
        if not 0 <= k < NUM_PITCHES:
            continue
        a = int(round(on * frame_rate))
        b = max(int(round(off * frame_rate)), a + 1)
        if b <= 0 or a >= num_frames:
            continue
        rolls[1, max(a, 0):min(b, num_frames), k] = 1.0
        if a >= 0:
            rolls[0, a:min(a + onset_frames, num_frames), k] = 1.0
            rolls[3, a:min(a + onset_frames, num_frames), k] = vel / 127.0
        if b < num_frames:
            rolls[2, b, k] = 1.0
    return rolls


def frame_loss(logits: dict[str, torch.Tensor], rolls: torch.Tensor, mask: torch.Tensor,
               positive_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Onsets-and-Frames loss: BCE of onset, frame and offset, plus the squared error of the
    velocity on onset frames. logits: (B, T, 88) each; rolls (B, 4, T, 88); mask (B, T) real.
    `positive_weight` scales the BCE of the (rare) positive onset and offset frames."""
    m = mask[:, :, None].to(rolls.dtype).expand(-1, -1, NUM_PITCHES)
    denom = m.sum().clamp(min=1)
    parts = {}
    for i, name in enumerate(CHANNELS[:3]):
        weight = None if name == "frame" or positive_weight == 1.0 else torch.tensor(positive_weight, device=m.device)
        bce = F.binary_cross_entropy_with_logits(logits[name].float(), rolls[:, i], reduction="none",
                                                 pos_weight=weight)
        parts[name] = (bce * m).sum() / denom
    onset = rolls[:, 0] * m
    vel_err = (torch.sigmoid(logits["velocity"].float()) - rolls[:, 3]) ** 2
    parts["velocity"] = (vel_err * onset).sum() / onset.sum().clamp(min=1)
    total = sum(parts.values())
    return total, {f"{k}_loss": float(v.detach()) for k, v in parts.items()}


def posteriors_to_notes(posteriors: np.ndarray, frame_rate: float, onset_threshold: float = 0.5,
                        frame_threshold: float = 0.5, offset_threshold: float = 0.5, min_frames: int = 1
                        ) -> np.ndarray:
    """(4, T, 88) sigmoid posteriors -> `(N, 4)` notes (seconds from the first frame) through
    `pianox.decode.frames_to_notes`. An offset threshold above 1 ignores the offset channel."""
    on, fr, off, vel = (np.ascontiguousarray(p, dtype=np.float32) for p in posteriors)
    return frames_to_notes(on, fr, frame_rate, offsets=off if offset_threshold <= 1 else None, velocities=vel,
                           onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                           offset_threshold=offset_threshold, min_frames=min_frames, pitch_offset=MIN_PITCH)
