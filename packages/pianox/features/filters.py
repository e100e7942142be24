"""Analysis windows and mel filterbanks in torch: the reference the compiled core is checked against.

Kaldi's filterbank follows torchaudio.compliance.kaldi.get_mel_banks (triangles in the mel
scale 1127 ln(1 + f/700), the Nyquist bin weighted 0); librosa's follows librosa.filters.mel
(triangles in Hz between mel-spaced edges, htk or Slaney mel, Slaney or p-norm area
normalisation). Both are computed in float64 and returned as float32 (n_mels, n_fft // 2 + 1).
"""

from __future__ import annotations

import math

import torch

from .spec import FrontSpec


def window(spec: FrontSpec) -> torch.Tensor:
    """The (win_length,) float32 analysis window: symmetric (Kaldi) or periodic (scipy fftbins)."""
    n = spec.win_length
    denom = n if spec.periodic else n - 1
    if spec.window == "rectangular" or denom == 0:
        return torch.ones(n, dtype=torch.float32)
    a = 2 * math.pi / denom
    i = torch.arange(n, dtype=torch.float64)
    if spec.window == "hann":
        w = 0.5 - 0.5 * torch.cos(a * i)
    elif spec.window == "hamming":
        w = 0.54 - 0.46 * torch.cos(a * i)
    elif spec.window == "povey":
        w = (0.5 - 0.5 * torch.cos(a * i)).clamp(min=0.0).pow(0.85)
    else:  # blackman
        c = spec.blackman_coeff
        w = c - 0.5 * torch.cos(a * i) + (0.5 - c) * torch.cos(2 * a * i)
    return w.to(torch.float32)


def _kaldi_mel(hz: torch.Tensor | float) -> torch.Tensor:
    return 1127.0 * torch.log(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def kaldi_filterbank(spec: FrontSpec) -> torch.Tensor:
    """Kaldi's (n_mels, n_fft // 2 + 1) triangular filters, as torchaudio builds them."""
    nyquist = 0.5 * spec.sample_rate
    if spec.n_mels < 3:
        raise ValueError(f"kaldi mel filterbank needs num_mel_bins >= 3, got {spec.n_mels}")
    if spec.n_fft % 2:
        raise ValueError(f"kaldi mel filterbank needs an even padded window size, got {spec.n_fft}")
    if not (0.0 <= spec.fmin < nyquist and 0.0 < spec.fmax <= nyquist and spec.fmin < spec.fmax):
        raise ValueError(f"kaldi mel filterbank needs 0 <= low_freq < high_freq <= Nyquist ({nyquist} Hz), "
                         f"got low_freq={spec.fmin} high_freq={spec.fmax}")
    mel_low, mel_high = _kaldi_mel(spec.fmin), _kaldi_mel(spec.fmax)
    delta = (mel_high - mel_low) / (spec.n_mels + 1)
    m = torch.arange(spec.n_mels, dtype=torch.float64).unsqueeze(1)
    left, centre, right = mel_low + m * delta, mel_low + (m + 1) * delta, mel_low + (m + 2) * delta
    mel = _kaldi_mel(spec.sample_rate / spec.n_fft * torch.arange(spec.n_fft // 2, dtype=torch.float64))
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    bins = torch.minimum(up, down).clamp(min=0.0)
    return torch.nn.functional.pad(bins, (0, 1)).to(torch.float32)  # Nyquist bin: weight 0


_SLANEY_STEP = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_STEP
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor, htk: bool) -> torch.Tensor:
    """librosa.hz_to_mel (float64): HTK 2595 log10(1 + f/700), or Slaney's linear/log scale."""
    if htk:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    log_part = _SLANEY_BREAK_MEL + torch.log(hz.clamp(min=_SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return torch.where(hz >= _SLANEY_BREAK_HZ, log_part, hz / _SLANEY_STEP)


def mel_to_hz(mel: torch.Tensor, htk: bool) -> torch.Tensor:
    """librosa.mel_to_hz (float64), the inverse of `hz_to_mel`."""
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    log_part = _SLANEY_BREAK_HZ * torch.exp(_SLANEY_LOG_STEP * (mel - _SLANEY_BREAK_MEL))
    return torch.where(mel >= _SLANEY_BREAK_MEL, log_part, _SLANEY_STEP * mel)


def librosa_filterbank(spec: FrontSpec) -> torch.Tensor:
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm) as (n_mels, n_fft // 2 + 1)."""
    if spec.n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {spec.n_mels}")
    if not (0.0 <= spec.fmin < spec.fmax):
        raise ValueError(f"mel filterbank needs 0 <= fmin < fmax, got fmin={spec.fmin} fmax={spec.fmax}")
    htk = spec.mel_scale == "htk"
    f64 = torch.float64
    lo, hi = hz_to_mel(torch.tensor(spec.fmin, dtype=f64), htk), hz_to_mel(torch.tensor(spec.fmax, dtype=f64), htk)
    points = spec.n_mels + 2
    mels = torch.arange(points, dtype=f64) * ((hi - lo) / (points - 1)) + lo
    mels[-1] = hi
    edges = mel_to_hz(mels, htk)
    freqs = torch.arange(spec.n_fft // 2 + 1, dtype=f64) * (1.0 / (spec.n_fft * (1.0 / spec.sample_rate)))
    ramps = edges.unsqueeze(1) - freqs.unsqueeze(0)
    diff = edges[1:] - edges[:-1]
    lower = -ramps[:-2] / diff[:-1].unsqueeze(1)
    upper = ramps[2:] / diff[1:].unsqueeze(1)
    weights = torch.minimum(lower, upper).clamp(min=0.0).to(torch.float32).to(f64)  # librosa keeps float32
    if spec.mel_norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2])).unsqueeze(1)
    elif spec.mel_norm == "p":
        p = spec.mel_norm_p
        if not p > 0:
            raise ValueError(f"mel norm must be 'slaney', None or a p > 0, got {p}")
        length = weights.abs().amax(dim=1) if math.isinf(p) else weights.abs().pow(p).sum(dim=1).pow(1.0 / p)
        length = torch.where(length < 1.1754943508222875e-38, torch.ones_like(length), length)
        weights = weights / length.unsqueeze(1)
    return weights.to(torch.float32)


def filterbank(spec: FrontSpec) -> torch.Tensor:
    """The (n_mels, n_fft // 2 + 1) float32 filterbank of `spec` (Kaldi or librosa flavour)."""
    return kaldi_filterbank(spec) if spec.mel_scale == "kaldi" else librosa_filterbank(spec)
