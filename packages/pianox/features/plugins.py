"""The features-stage plugins: `kaldi` (AST-compatible Kaldi fbank) and `mel` (librosa log-mel).

Both map a (B, S) float32 waveform batch at `sample_rate` to (B, T, F) float32 features at
`frame_rate` frames per second through the fused front end (compiled core on CPU tensors, so
they run inside DataLoader workers; the torch reference on other devices). `target_frames > 0`
pads or crops every example to that many frames, as AST's feature extractor does.

A batch holds waveforms of different lengths zero-padded to the longest. Given `lengths`
(samples per example), each example's frames past its own natural count (`num_frames`) are
replaced by the plugin's pad value, so an example's features do not depend on what it is
batched with; `num_frames` is the natural count clamped to target_frames, which is what the
engine's padding mask marks as real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np
import torch

from ..errors import ConfigError
from . import filters
from .frontend import FeatureInputError, compute
from .kaldi import _kaldi_spec
from .mel import _mel_spec
from .spec import FrontSpec


def _build_spec(kind: str, config: Any, make: Any) -> FrontSpec:
    """Build and validate (filterbank included) a spec, naming the plugin and key on failure."""
    for key in ("threads", "target_frames"):
        if getattr(config, key) < 0:
            raise ConfigError(f"[features] kind = {kind!r}: {key} must be >= 0, got {getattr(config, key)}")
    try:
        spec = make()
        filters.filterbank(spec)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[features] kind = {kind!r}: {exc}") from None
    return spec


def _as_batch(waveform: torch.Tensor) -> torch.Tensor:
    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(waveform)
    if not isinstance(waveform, torch.Tensor) or waveform.ndim != 2:
        shape = tuple(getattr(waveform, "shape", ()))
        raise FeatureInputError(f"features expect a (B, S) float32 waveform batch, got {type(waveform).__name__} {shape}")
    return waveform


def _fit(features: torch.Tensor, target: int, pad_value: Union[float, torch.Tensor]) -> torch.Tensor:
    """Crop or pad (B, T, F) to (B, target, F); pad_value is a scalar or a (B,) tensor."""
    frames = features.shape[1]
    if target <= 0 or frames == target:
        return features
    if frames > target:
        return features[:, :target]
    pad = features.new_empty(features.shape[0], target - frames, features.shape[2])
    pad.copy_(torch.as_tensor(pad_value, dtype=features.dtype, device=features.device).reshape(-1, 1, 1).expand_as(pad))
    return torch.cat([features, pad], dim=1)


def _pad_tails(features: torch.Tensor, frames: list[int], pad_value: Any) -> torch.Tensor:
    """(B, T, F) with frames[i:] of row i set to pad_value(row i's real frames) — in place."""
    for i, n in enumerate(frames):
        if n < features.shape[1]:
            features[i, n:] = pad_value(features[i, :n])
    return features


def _lengths(lengths: Any, batch: int) -> list[int] | None:
    if lengths is None:
        return None
    values = [int(n) for n in (lengths.tolist() if hasattr(lengths, "tolist") else lengths)]
    if len(values) != batch:
        raise FeatureInputError(f"lengths has {len(values)} entries for a batch of {batch} waveforms")
    return values


class KaldiFeatures:
    """AST's front end: 128-bin Kaldi log-mel fbank (hanning window, 25/10 ms, no dither, no
    energy) of the raw waveform, normalised as (x - mean) / (2 * std) with AudioSet statistics.

    Identical to transformers' ASTFeatureExtractor / the AST repository's torchaudio call; with
    target_frames the padding frames hold what AST pads with ((0 - mean) / (2 std)).
    """

    name: ClassVar[str] = "kaldi"

    @dataclass
    class Config:
        sample_rate: int = 16000
        """Waveform sample rate in Hz."""
        num_mel_bins: int = 128
        frame_length: float = 25.0
        """Window length in milliseconds."""
        frame_shift: float = 10.0
        """Hop in milliseconds."""
        window_type: str = "hanning"
        low_freq: float = 20.0
        high_freq: float = 0.0
        """Upper band edge in Hz; <= 0 is an offset from Nyquist (Kaldi's convention)."""
        preemphasis_coefficient: float = 0.97
        dither: float = 0.0
        snip_edges: bool = True
        normalize: bool = True
        """Apply AST's (x - mean) / (2 * std)."""
        mean: float = -4.2677393
        std: float = 4.5689974
        target_frames: int = 0
        """Pad/crop every example to this many frames (0 keeps the natural length)."""
        threads: int = 0
        """Core threads per call (0: torch.get_num_threads(), which is 1 in DataLoader workers)."""

    def __init__(self, config: "KaldiFeatures.Config | None" = None):
        self.config = config if config is not None else self.Config()
        c = self.config
        self.spec = _build_spec(self.name, c, lambda: _kaldi_spec(
            0.42, c.dither, 1.0, c.frame_length, c.frame_shift, c.high_freq, False, c.low_freq, c.num_mel_bins,
            c.preemphasis_coefficient, True, True, True, float(c.sample_rate), c.snip_edges, False, False, True,
            True, 1.0, c.window_type, 0, mean=c.mean if c.normalize else 0.0,
            std=2.0 * c.std if c.normalize else 1.0))
        self.sample_rate = int(c.sample_rate)
        self.num_bins = int(c.num_mel_bins)
        self.frame_rate = self.sample_rate / self.spec.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Real frames of a waveform of `num_samples` samples (clamped to target_frames)."""
        natural = self.spec.num_frames(num_samples)
        return min(natural, self.config.target_frames) if self.config.target_frames else natural

    def __call__(self, waveform: torch.Tensor, lengths: Any = None) -> torch.Tensor:
        """(B, S) float32 waveform -> (B, T, num_mel_bins) normalised log-mel; with `lengths`
        (B,) samples, each row's frames past its own length hold the pad value."""
        wave = _as_batch(waveform)
        pad = (0.0 - self.spec.mean) / self.spec.std
        features = _fit(compute(self.spec, wave, self.config.threads or None), self.config.target_frames, pad)
        sizes = _lengths(lengths, wave.shape[0])
        if sizes is None:
            return features
        return _pad_tails(features, [self.num_frames(n) for n in sizes], lambda real: pad)


class MelFeatures:
    """librosa-compatible mel spectrogram (Slaney or HTK mel, periodic window, centred frames),
    compressed to dB (librosa.power_to_db per example), natural log, or left linear, then
    optionally normalised as (x - mean) / std. Padding frames hold each example's minimum.
    """

    name: ClassVar[str] = "mel"

    @dataclass
    class Config:
        sample_rate: int = 16000
        n_fft: int = 1024
        hop_length: int = 160
        win_length: int = 0
        """Window length in samples (0: n_fft)."""
        window: str = "hann"
        center: bool = True
        pad_mode: str = "constant"
        power: float = 2.0
        n_mels: int = 128
        fmin: float = 0.0
        fmax: float = 0.0
        """Upper band edge in Hz (0: sample_rate / 2)."""
        htk: bool = False
        norm: Union[str, float] = "slaney"
        """"slaney", "none", or a p > 0 for p-norm filters."""
        log: str = "db"
        """"db" (power_to_db), "log" (ln max(x, amin)) or "none"."""
        ref: float = 1.0
        amin: float = 1e-10
        top_db: float = 80.0
        """dB range kept below each example's peak (negative: no floor)."""
        mean: float = 0.0
        std: float = 1.0
        target_frames: int = 0
        threads: int = 0

    def __init__(self, config: "MelFeatures.Config | None" = None):
        self.config = config if config is not None else self.Config()
        c = self.config
        if c.log not in ("db", "log", "none"):
            raise ConfigError(f"[features] kind = 'mel': log={c.log!r} is not one of db, log, none")
        norm = None if c.norm == "none" else c.norm
        self.spec = _build_spec(self.name, c, lambda: _mel_spec(
            c.sample_rate, c.n_fft, c.hop_length, c.win_length or None, c.window, c.center, c.pad_mode, c.power,
            c.n_mels, c.fmin, c.fmax or None, c.htk, norm, log=c.log, ref=c.ref, amin=c.amin,
            top_db=c.top_db if c.top_db >= 0 and c.log == "db" else None, mean=c.mean, std=c.std))
        self.sample_rate = int(c.sample_rate)
        self.num_bins = int(c.n_mels)
        self.frame_rate = self.sample_rate / self.spec.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Real frames of a waveform of `num_samples` samples (clamped to target_frames)."""
        natural = self.spec.num_frames(num_samples)
        return min(natural, self.config.target_frames) if self.config.target_frames else natural

    def __call__(self, waveform: torch.Tensor, lengths: Any = None) -> torch.Tensor:
        """(B, S) float32 waveform -> (B, T, n_mels) mel features; with `lengths` (B,)
        samples, each row's frames past its own length hold that row's minimum."""
        wave = _as_batch(waveform)
        sizes = _lengths(lengths, wave.shape[0])
        if sizes is not None:
            features = self._features(wave)
            frames = [min(self.num_frames(n), features.shape[1]) for n in sizes]
            return _pad_tails(features, frames, lambda real: real.min() if real.numel() else 0.0)
        return self._features(wave)

    def _features(self, wave: torch.Tensor) -> torch.Tensor:
        if self.spec.framing == "valid" and wave.shape[-1] < self.spec.n_fft:
            raise FeatureInputError(f"waveforms of {wave.shape[-1]} samples are shorter than n_fft={self.spec.n_fft} "
                                    "(center=False)")
        features = compute(self.spec, wave, self.config.threads or None)
        if self.config.target_frames <= features.shape[1] or features.shape[1] == 0:
            return _fit(features, self.config.target_frames, 0.0)
        return _fit(features, self.config.target_frames, features.flatten(1).amin(dim=1))
