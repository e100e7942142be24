"""The front end in plain torch ops: the spec the compiled core is tested against, and the path
used on CUDA/MPS tensors, for tensors that require grad, and when the core is missing.

It follows torchaudio.compliance.kaldi.fbank and librosa.feature.melspectrogram step by step
(framing, dither, DC removal, pre-emphasis, window, zero-padded rfft, |X|^power, mel, log/dB,
energy, normalisation, patches) on a batch (B, S) of float32 waveforms on any device.
"""

from __future__ import annotations

import math

import torch

from . import filters
from .spec import FLOAT32_EPS, FrontSpec


def _sample_index(pos: torch.Tensor, n: int, mode: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Indices into a signal of n samples for virtual positions `pos`, and a mask of real samples
    (None when every position maps to a sample). Modes follow numpy.pad; Kaldi's reflection
    (edge sample repeated) is "symmetric"."""
    if mode == "constant":
        inside = (pos >= 0) & (pos < n)
        return pos.clamp(0, n - 1), inside
    if mode == "edge":
        return pos.clamp(0, n - 1), None
    if mode == "symmetric":
        pos = torch.where(pos < 0, -pos - 1, pos) % (2 * n)
        return torch.where(pos >= n, 2 * n - 1 - pos, pos), None
    if n == 1:  # reflect
        return torch.zeros_like(pos), None
    period = 2 * (n - 1)
    pos = pos.abs() % period
    return torch.where(pos >= n, period - pos, pos), None


def frames(spec: FrontSpec, wave: torch.Tensor) -> torch.Tensor:
    """(B, S) -> (B, T, win_length): the samples under each frame's window, padded per `spec`."""
    num_samples = wave.shape[-1]
    count, first = spec.geometry(num_samples)
    pos = (first + spec.hop_length * torch.arange(count, device=wave.device).unsqueeze(1)
           + torch.arange(spec.win_length, device=wave.device).unsqueeze(0))
    mode = "symmetric" if spec.framing == "kaldi_reflect" else spec.pad_mode
    index, inside = _sample_index(pos, num_samples, mode)
    out = wave[:, index]
    return out if inside is None else out * inside


def _log_energy(x: torch.Tensor, energy_floor: float) -> torch.Tensor:
    energy = x.pow(2).sum(-1).clamp(min=FLOAT32_EPS).log()
    return energy if energy_floor == 0.0 else energy.clamp(min=math.log(energy_floor))


def _example_peak(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).amax(dim=1).view(-1, 1, 1)


def frontend(spec: FrontSpec, wave: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, S) float32 waveform -> (B, T, F) features, or (B, N, patch**2) when spec.patch > 0.

    Dither draws from `generator` (a fresh one seeded with spec.seed when None); it is not the
    compiled core's generator, so dithered outputs agree in distribution, not bit for bit.
    """
    x = frames(spec, wave)
    if spec.dither:
        if generator is None:
            generator = torch.Generator(device=wave.device).manual_seed(spec.seed)
        x = x + spec.dither * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if spec.remove_dc:
        x = x - x.mean(dim=-1, keepdim=True)
    energy = _log_energy(x, spec.energy_floor) if spec.energy != "none" and spec.raw_energy else None
    if spec.preemphasis:
        x = x - spec.preemphasis * torch.cat([x[..., :1], x[..., :-1]], dim=-1)
    x = x * filters.window(spec).to(x.device)
    if spec.energy != "none" and not spec.raw_energy:
        energy = _log_energy(x, spec.energy_floor)

    magnitude = torch.fft.rfft(x, n=spec.n_fft).abs()
    power = magnitude.pow(2.0) if spec.power == 2.0 else (magnitude if spec.power == 1.0 else magnitude.pow(spec.power))
    mel = torch.matmul(power, filters.filterbank(spec).to(x.device).T)

    if spec.log == "log":
        mel = mel.clamp(min=spec.floor).log()
    elif spec.log == "db":
        mel = 10.0 * torch.log10(mel.clamp(min=spec.floor)) - 10.0 * math.log10(max(spec.floor, spec.ref))
        if mel.numel():
            if spec.ref_max:
                mel = mel - _example_peak(mel)
            if spec.top_db is not None:
                mel = torch.maximum(mel, _example_peak(mel) - spec.top_db)
    if energy is not None:
        parts = [energy.unsqueeze(-1), mel] if spec.energy == "first" else [mel, energy.unsqueeze(-1)]
        mel = torch.cat(parts, dim=-1)
    if spec.subtract_mean and mel.shape[1]:
        mel = mel - mel.mean(dim=1, keepdim=True)
    if spec.mean != 0.0 or spec.std != 1.0:
        mel = (mel - spec.mean) / spec.std
    if spec.patch:
        return patchify(mel, spec.patch, spec.fstride, spec.tstride)
    return mel


def patchify(spec: torch.Tensor, patch: int = 16, fstride: int = 16, tstride: int = 16) -> torch.Tensor:
    """(B, T, F) -> (B, Nf * Nt, patch**2) exactly as AST's Conv2d patch embedding reads its input.

    AST transposes to (B, 1, F, T) and convolves with kernel `patch`, stride (fstride, tstride):
    tokens run frequency-major over the (Nf, Nt) grid, each patch's values in (freq, time) order.
    """
    batch, num_frames, num_features = spec.shape
    nf = (num_features - patch) // fstride + 1 if num_features >= patch else 0
    nt = (num_frames - patch) // tstride + 1 if num_frames >= patch else 0
    if nf == 0 or nt == 0:
        return spec.new_zeros(batch, 0, patch * patch)
    grid = spec.transpose(1, 2).unsqueeze(1)
    return torch.nn.functional.unfold(grid, kernel_size=patch, stride=(fstride, tstride)).transpose(1, 2)
