"""Shared pieces of the transcription tests: a small vocabulary and a random-weight decoder."""

from __future__ import annotations

import pytest
import torch

from pianox_transcription.decoder import NoteDecoder
from pianox_transcription.tokens import Vocabulary


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.for_segment(0.5, pedal=True)


@pytest.fixture(scope="module")
def decoder(vocab) -> NoteDecoder:
    torch.manual_seed(0)
    return NoteDecoder(vocab.size, memory_dim=24, dim=32, layers=2, heads=4, hidden=64, dropout=0.0,
                       max_tokens=96).eval()
