"""`FrontSpec`: one front-end configuration, shared by the compiled core and the torch reference.

Lengths are in samples, frequencies in Hz. `kaldi_fbank` and `melspectrogram` translate their
users' keywords (torchaudio's and librosa's) into a FrontSpec; `frontend.compute` runs it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

FRAMINGS = ("kaldi_snip", "kaldi_reflect", "center", "valid")
PAD_MODES = ("constant", "reflect", "edge", "symmetric")
WINDOWS = ("hann", "hamming", "povey", "rectangular", "blackman")
MEL_SCALES = ("kaldi", "htk", "slaney")
MEL_NORMS = ("none", "slaney", "p")
LOGS = ("none", "log", "db")
ENERGIES = ("none", "first", "last")
FLOAT32_EPS = 1.1920928955078125e-07
"""Kaldi's floor on mel energies and frame energies: numeric_limits<float>::epsilon()."""


@dataclass(frozen=True)
class FrontSpec:
    """Every knob of the front end; see csrc/frontend.hpp for the meaning of each field.

    framing: "kaldi_snip" (frames that fit), "kaldi_reflect" (Kaldi snip_edges=False),
    "center" (librosa center=True, padded by n_fft // 2 with pad_mode), "valid" (center=False).
    log: "none", "log" (ln max(x, floor)) or "db" (10 log10 max(x, floor) - 10 log10 max(ref,
    floor), against the example's peak when ref_max, floored at peak - top_db unless None).
    Output (B, T, F) with F = n_mels (+1 with an energy column), or (B, N, patch**2) patches.
    """

    win_length: int
    hop_length: int
    n_fft: int
    framing: str
    sample_rate: float
    n_mels: int
    fmin: float
    fmax: float
    pad_mode: str = "constant"
    window: str = "hann"
    periodic: bool = False
    blackman_coeff: float = 0.42
    dither: float = 0.0
    seed: int = 0
    remove_dc: bool = False
    preemphasis: float = 0.0
    power: float = 2.0
    mel_scale: str = "kaldi"
    mel_norm: str = "none"
    mel_norm_p: float = 1.0
    log: str = "log"
    floor: float = FLOAT32_EPS
    ref: float = 1.0
    ref_max: bool = False
    top_db: float | None = None
    energy: str = "none"
    raw_energy: bool = True
    energy_floor: float = 1.0
    subtract_mean: bool = False
    mean: float = 0.0
    std: float = 1.0
    patch: int = 0
    fstride: int = 16
    tstride: int = 16

    def __post_init__(self) -> None:
        for key, allowed in (("framing", FRAMINGS), ("pad_mode", PAD_MODES), ("window", WINDOWS),
                             ("mel_scale", MEL_SCALES), ("mel_norm", MEL_NORMS), ("log", LOGS),
                             ("energy", ENERGIES)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key}={getattr(self, key)!r} is not one of {', '.join(allowed)}")
        if self.win_length < 1 or self.hop_length < 1:
            raise ValueError(f"frame length and hop must be >= 1 sample, got {self.win_length} and {self.hop_length}")
        if self.n_fft < self.win_length:
            raise ValueError(f"n_fft={self.n_fft} must be >= the window length {self.win_length}")
        if not (self.power > 0 and math.isfinite(self.power)):
            raise ValueError(f"power must be > 0, got {self.power}")
        if self.log != "none" and not (self.floor >= 1.1754943508222875e-38 and math.isfinite(self.floor)):
            raise ValueError(f"the log floor (amin / eps) must be a positive normal float32, got {self.floor}")
        if self.top_db is not None and self.top_db < 0:
            raise ValueError(f"top_db must be >= 0 or None, got {self.top_db}")
        if not (self.ref > 0 and math.isfinite(self.ref)):
            raise ValueError(f"ref must be > 0, got {self.ref}")
        if not 0 <= self.seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed}")
        if self.dither < 0:
            raise ValueError(f"dither must be >= 0, got {self.dither}")
        if self.std == 0 or not (math.isfinite(self.std) and math.isfinite(self.mean)):
            raise ValueError(f"normalisation needs a finite mean and a finite non-zero std, got {self.mean}, {self.std}")
        if self.patch < 0 or (self.patch and (self.fstride < 1 or self.tstride < 1)):
            raise ValueError(f"patch={self.patch}, fstride={self.fstride}, tstride={self.tstride}: need patch >= 0, strides >= 1")
        if self.log == "db" and self.energy != "none":
            raise ValueError("a log-energy column cannot be combined with dB output")

    @property
    def features(self) -> int:
        """F: mel bands plus the optional energy column."""
        return self.n_mels + (self.energy != "none")

    def geometry(self, num_samples: int) -> tuple[int, int]:
        """(T, first_start): frame count and the sample index where frame 0's window starts."""
        win, hop, n_fft, s = self.win_length, self.hop_length, self.n_fft, num_samples
        if self.framing == "kaldi_snip":
            return (1 + (s - win) // hop if s >= win else 0), 0
        if self.framing == "kaldi_reflect":
            return (s + hop // 2) // hop, hop // 2 - win // 2
        if self.framing == "center":
            padded = s + 2 * (n_fft // 2)
            return (1 + (padded - n_fft) // hop if padded >= n_fft else 0), -(n_fft // 2) + (n_fft - win) // 2
        return (1 + (s - n_fft) // hop if s >= n_fft else 0), (n_fft - win) // 2

    def num_frames(self, num_samples: int) -> int:
        """T for a waveform of `num_samples` samples."""
        return self.geometry(num_samples)[0]

    def to_core(self) -> Any:
        """The equivalent `pianox._core.FrontendConfig` (raises ImportError without the core)."""
        from pianox import _core

        cfg = _core.FrontendConfig()
        for key, value in asdict(self).items():
            if key == "top_db":
                value = -1.0 if value is None else float(value)
            setattr(cfg, key, value)
        return cfg
