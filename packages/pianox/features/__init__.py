"""The features stage: waveform -> log-mel (-> AST patches), fused in the compiled core.

Functions mirror the APIs users already know: `kaldi_fbank` (torchaudio.compliance.kaldi.fbank),
`melspectrogram` / `power_to_db` (librosa), `patchify` (AST's patch-embedding order), and
fused variants that normalise and patchify in the same pass. Numpy arrays and CPU tensors run
in `pianox._core` (threads, GIL released, zero-copy); other devices, grad-tracking tensors and
builds without the core use the pure-torch reference in `pianox.features.reference`.
The stage plugins (`kaldi`, `mel`) live in `pianox.features.plugins`.
"""

from __future__ import annotations

from .frontend import FeatureInputError, patchify
from .kaldi import kaldi_fbank, kaldi_fbank_patches
from .mel import log_melspectrogram, melspectrogram, melspectrogram_patches, power_to_db
from .spec import FrontSpec

__all__ = [
    "FeatureInputError",
    "FrontSpec",
    "kaldi_fbank",
    "kaldi_fbank_patches",
    "log_melspectrogram",
    "melspectrogram",
    "melspectrogram_patches",
    "patchify",
    "power_to_db",
]
