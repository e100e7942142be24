"""Forward passes shared by training, evaluation and inference: encoder states, the two heads,
and turning their outputs into per-segment notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .decoder import NoteDecoder
from .frames import FrameHead
from .generate import DecodeOptions, generate
from .grammar import Grammar
from .sequence import Segment, decode
from .tokens import Vocabulary

HEADS = ("seq2seq", "frames", "both")


class TranscriptionHead(nn.Module):
    """The task's trainable part: a note decoder and/or a frame head (None when not used)."""

    def __init__(self, decoder: NoteDecoder | None, frames: FrameHead | None):
        super().__init__()
        self.decoder = decoder
        self.frames = frames


def grid_geometry(model: Any, num_frames: int) -> tuple[int, int]:
    """(frequency patches Fp, time stride in frames) of an encoder: the AST's patch grid, or
    one token per frame for per-frame encoders."""
    if hasattr(model, "grid") and hasattr(model, "stride"):
        return model.grid(num_frames)[0], model.stride[1]
    return 1, 1


def encode(model: Any, features: torch.Tensor, padding_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder states (B, N, D) of features (B, T, F) and their (B, N) bool mask (True = real)."""
    states = model(features, padding_mask=padding_mask)
    token_mask = getattr(model, "token_mask", None)
    mask = token_mask(padding_mask) if callable(token_mask) else padding_mask
    return states, mask.to(torch.bool)


def frame_logits(model: Any, head: TranscriptionHead, states: torch.Tensor, num_frames: int
                 ) -> dict[str, torch.Tensor]:
    """The frame head's logits, each (B, T, 88), from encoder states (B, N, D)."""
    if hasattr(model, "to_grid"):
        grid = model.to_grid(states, num_frames)  # (B, Fp, Tp, D)
    else:
        grid = states[:, None]  # per-frame encoder: (B, 1, T, D)
    return head.frames(grid, num_frames)


def frame_posteriors(logits: dict[str, torch.Tensor]) -> np.ndarray:
    """(B, 4, T, 88) float32 sigmoid posteriors (onset, frame, offset, velocity)."""
    probs = torch.stack([torch.sigmoid(logits[k].float()) for k in ("onset", "frame", "offset", "velocity")], 1)
    return probs.cpu().numpy()


def decode_segments(decoder: NoteDecoder, states: torch.Tensor, mask: torch.Tensor, vocab: Vocabulary,
                    durations: list[float], options: DecodeOptions, constrained: bool = True
                    ) -> tuple[list[list[int]], list[Segment]]:
    """Generate each segment's tokens from encoder states (B, N, D) and read them into Segments.

    `durations` are the segments' lengths in seconds (their TIME tokens stop there)."""
    bins = torch.tensor([int(round(d / vocab.time_step)) for d in durations], device=states.device)
    factory = None
    if constrained:
        def factory(rows: int) -> Grammar:  # rows = segments x beams, beams of a segment adjacent
            return Grammar(vocab, rows, bins.repeat_interleave(rows // len(durations)), states.device)
    tokens = generate(decoder, states, mask, options, factory)
    return tokens, [decode(t, vocab, d) for t, d in zip(tokens, durations)]
