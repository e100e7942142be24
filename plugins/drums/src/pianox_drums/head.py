"""The drum head: encoder token states -> per-frame onset logits and velocities per class.

Patch tokens are averaged over the frequency axis of the encoder's grid, giving one state per
time patch (frame tokens, `patch = "frame"`, already have one per `frame_width` frames). A 1-D
convolution over time adds local context; a linear layer then predicts, for every time patch,
the onset logits and velocities of the `r = tstride` feature frames that patch stands for
("sub-frame" upsampling: learned, exact for frame tokens), centred in the patch's span. Frames
the patches do not cover (the edges of overlapping patches) repeat their nearest prediction.
The output runs at the features' frame rate (100 frames/s for `kaldi` and `mel` defaults).

Encoders without a patch grid (one token per frame, e.g. the `dummy` model) are used as they
are: r = 1, no prefix tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class TokenGeometry:
    """How token states map to feature frames: prefix tokens, patch width and time stride
    (frames), frequency patches per time step, and the first frame a patch's prediction stands
    for (`offset`)."""

    prefix: int
    patch_width: int
    stride: int
    freq_patches: int = 1

    @property
    def offset(self) -> int:
        return max(0, (self.patch_width - self.stride) // 2)


def token_geometry(model: Any) -> TokenGeometry:
    """The `TokenGeometry` of an encoder: the AST's patch grid, or one token per frame."""
    if all(hasattr(model, a) for a in ("patch_shape", "stride", "num_prefix_tokens")):
        freq_patches = int(model.grid(int(model.patch_shape[1]))[0])
        return TokenGeometry(int(model.num_prefix_tokens), int(model.patch_shape[1]), int(model.stride[1]),
                             freq_patches)
    return TokenGeometry(0, 1, 1, 1)


class DrumHead(nn.Module):
    """`forward(states (B, P + N, D), num_frames T) -> (onset logits (B, T, C), velocity (B, T, C))`.

    Velocities are in [0, 1] (MIDI velocity / 127). The buffers `positive_frames` (C,) and
    `seen_frames` () count target frames seen in training (see `targets.positive_weights`);
    they travel with the checkpoint so a resumed run weighs its loss as before.
    """

    def __init__(self, dim: int, num_classes: int, geometry: TokenGeometry, context_kernel: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.geometry = geometry
        self.num_classes = num_classes
        self.context = (nn.Conv1d(dim, dim, context_kernel, padding=context_kernel // 2)
                        if context_kernel > 0 else None)
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(dim, geometry.stride * 2 * num_classes)
        self.register_buffer("positive_frames", torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer("seen_frames", torch.zeros((), dtype=torch.float64))

    def time_states(self, states: torch.Tensor) -> torch.Tensor:
        """(B, P + Fp * Tp, D) token states (frequency-major) -> (B, Tp, D), averaged over the
        Fp frequency patches. No sizes are read from the batch, so exports stay dynamic."""
        g = self.geometry
        return states[:, g.prefix:].unflatten(1, (g.freq_patches, -1)).mean(dim=1)

    def forward(self, states: torch.Tensor, num_frames: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.time_states(states)
        if self.context is not None:
            x = x + F.gelu(self.context(x.transpose(1, 2))).transpose(1, 2)
        out = self.proj(self.drop(x))  # (B, Tp, r * 2C)
        g, C = self.geometry, self.num_classes
        out = out.unflatten(-1, (g.stride, 2 * C)).flatten(1, 2).transpose(1, 2)  # (B, 2C, Tp * r)
        # Replicate-pad past both ends, then crop: no branch on the (symbolic) frame count.
        out = F.pad(out, (g.offset, g.patch_width + g.stride), mode="replicate")[:, :, :num_frames]
        out = out.transpose(1, 2).float()
        return out[..., :C], torch.sigmoid(out[..., C:])


class DrumNet(nn.Module):
    """Encoder + head as one module for inference and ONNX export:
    `forward(features (B, T, F)) -> (onset probabilities (B, T, C), velocity (B, T, C))`."""

    def __init__(self, model: nn.Module, head: DrumHead):
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.model(features)
        logits, velocity = self.head(states, features.shape[1])
        return torch.sigmoid(logits), velocity
