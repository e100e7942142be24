"""Hand-crafted audio descriptors per frame (features plugin `handcrafted`), via librosa.

(B, S) waveform at `sample_rate` -> (B, T, 16) frame descriptors at sample_rate / hop_length
frames per second (centred frames: T = 1 + S // hop_length), each scaled to a range of a few
units so that one network can read them all:

    0  loudness          RMS in dB / 20 (floor -100 dB)
    1  onset strength    log(1 + spectral flux of the log-mel), librosa.onset.onset_strength
    2  centroid          log2(spectral centroid / 1 kHz)
    3  bandwidth         log2(spectral bandwidth / 1 kHz)
    4  rolloff           log2(85% roll-off frequency / 1 kHz)
    5  flatness          log10(spectral flatness)
    6-12 contrast        spectral contrast of 7 octave bands, dB / 20
    13 zero crossings    zero-crossing rate x 10
    14 local tempo       librosa.feature.tempo(aggregate=None) in BPM / 120 (tempogram of the
                         onset envelope, so a slowly varying tempo estimate per frame)
    15 onset density     detected onsets per second in a 2 s window, / 10

Clip-level statistics (means, spreads, ranges) are left to the model (`ffn`), which sees the
padding mask. Computed on the CPU with numpy; use `[train] cache_features = true`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

DESCRIPTORS: tuple[str, ...] = (
    "loudness", "onset_strength", "centroid", "bandwidth", "rolloff", "flatness",
    *(f"contrast_{i}" for i in range(7)), "zero_crossings", "local_tempo", "onset_density")


class HandcraftedFeatures:
    """Frame-level librosa descriptors (see module doc): (B, S) -> (B, T, 16)."""

    name: ClassVar[str] = "handcrafted"

    @dataclass
    class Config:
        sample_rate: int = 16000
        """Waveform sample rate in Hz."""
        n_fft: int = 1024
        """STFT size in samples."""
        hop_length: int = 160
        """Hop in samples (160 at 16 kHz: 100 frames/s, as the log-mel front ends)."""
        n_mels: int = 64
        """Mel bands of the onset-strength envelope."""
        density_seconds: float = 2.0
        """Window of the onset-density descriptor, seconds."""

        def validate(self) -> None:
            if self.sample_rate < 1000 or self.n_fft < 64 or not 0 < self.hop_length <= self.n_fft:
                raise ValueError("need sample_rate >= 1000, n_fft >= 64 and 0 < hop_length <= n_fft")
            if self.n_mels < 8 or self.density_seconds <= 0:
                raise ValueError("need n_mels >= 8 and density_seconds > 0")

    def __init__(self, config: "HandcraftedFeatures.Config | None" = None):
        self.config = config if config is not None else self.Config()
        self.sample_rate = int(self.config.sample_rate)
        self.num_bins = len(DESCRIPTORS)
        self.frame_rate = self.sample_rate / self.config.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames for `num_samples` samples (centred frames)."""
        return 1 + int(num_samples) // self.config.hop_length

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) float32 waveform -> (B, 1 + S // hop_length, 16) descriptors."""
        if not isinstance(waveform, torch.Tensor) or waveform.dim() != 2:
            raise ValueError(f"handcrafted: expected a (B, S) waveform tensor, got {tuple(getattr(waveform, 'shape', ()))}")
        y = waveform.detach().float().cpu().numpy()
        out = np.stack([self.describe(row) for row in y]) if len(y) else \
            np.zeros((0, self.num_frames(y.shape[1]), self.num_bins), np.float32)
        return torch.from_numpy(out)

    def describe(self, y: np.ndarray) -> np.ndarray:
        """(S,) float32 mono -> (T, 16) descriptors of one clip."""
        import librosa

        c, sr = self.config, self.sample_rate
        y = np.ascontiguousarray(y, dtype=np.float32)
        frames = self.num_frames(len(y))
        if len(y) < c.n_fft:  # librosa needs one full window; the extra frames are cut below
            y = np.pad(y, (0, c.n_fft - len(y)))
        spec = np.abs(librosa.stft(y, n_fft=c.n_fft, hop_length=c.hop_length, center=True))
        power = spec ** 2
        rms = librosa.feature.rms(S=spec, frame_length=c.n_fft)[0]
        mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=c.n_mels)
        onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel, ref=1.0), sr=sr, hop_length=c.hop_length)
        tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=c.hop_length, aggregate=None)
        peaks = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=c.hop_length, units="frames")
        hits = np.zeros(len(onset))
        hits[peaks[peaks < len(hits)]] = 1.0
        window = max(1, int(round(c.density_seconds * self.frame_rate)))
        density = np.convolve(hits, np.ones(window), mode="same") / c.density_seconds

        def khz(x: np.ndarray) -> np.ndarray:
            return np.log2(np.maximum(x, 20.0) / 1000.0)

        rows = [
            librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5, top_db=None) / 20.0,
            np.log1p(onset),
            khz(librosa.feature.spectral_centroid(S=spec, sr=sr)[0]),
            khz(librosa.feature.spectral_bandwidth(S=spec, sr=sr)[0]),
            khz(librosa.feature.spectral_rolloff(S=spec, sr=sr)[0]),
            np.log10(np.maximum(librosa.feature.spectral_flatness(S=spec)[0], 1e-6)),
            *(librosa.feature.spectral_contrast(S=spec, sr=sr, fmin=100.0, n_bands=6) / 20.0),
            librosa.feature.zero_crossing_rate(y, frame_length=c.n_fft, hop_length=c.hop_length)[0] * 10.0,
            tempo / 120.0,
            density / 10.0,
        ]
        width = min(len(r) for r in rows)
        out = np.stack([r[:width] for r in rows], axis=1).astype(np.float32)
        if width < frames:
            out = np.pad(out, ((0, frames - width), (0, 0)), mode="edge")
        return np.nan_to_num(out[:frames], nan=0.0, posinf=0.0, neginf=0.0)
