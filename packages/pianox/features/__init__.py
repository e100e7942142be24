"""The features stage: waveform -> log-mel (-> AST patches), fused in the compiled core.

Functions mirror the APIs users already know: `kaldi_fbank` (torchaudio.compliance.kaldi.fbank),
`melspectrogram` / `power_to_db` (librosa), `patchify` (AST's patch-embedding order), and
fused variants that normalise and patchify in the same pass. Numpy arrays and CPU tensors run
in `pianox._core` (threads, GIL released, zero-copy); other devices, grad-tracking tensors and
builds without the core use the pure-torch reference in `pianox.features.reference`.
The stage plugins (`KaldiFeatures`, `MelFeatures`) live in `pianox.features.plugins`.

Names are imported on first use (PEP 562), so `import pianox.features` imports no torch:

    from pianox.features import kaldi_fbank, KaldiFeatures
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "FeatureInputError": "frontend", "patchify": "frontend",
    "kaldi_fbank": "kaldi", "kaldi_fbank_patches": "kaldi",
    "log_melspectrogram": "mel", "melspectrogram": "mel", "melspectrogram_patches": "mel", "power_to_db": "mel",
    "FrontSpec": "spec",
    "KaldiFeatures": "plugins", "MelFeatures": "plugins",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
