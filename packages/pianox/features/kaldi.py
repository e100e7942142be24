"""Kaldi filterbanks with torchaudio.compliance.kaldi.fbank's keywords, defaults and output.

Differences from torchaudio, all deliberate: input must be float32 (numpy or torch); a
(B, S) batch with B > 1 and channel=-1 gives (B, T, F) (torchaudio would use row 0 only); a
waveform shorter than one frame gives zero frames, as Kaldi does (torchaudio asserts); too
short for min_duration gives (0, F) rather than shape (0,); VTLN (vtln_warp != 1) is not
supported; dither uses pianox's seeded generator, not torch's global one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .frontend import Array, FeatureInputError, check_waveform, compute
from .spec import FrontSpec

KALDI_WINDOWS = {"hanning": "hann", "hamming": "hamming", "povey": "povey", "rectangular": "rectangular",
                 "blackman": "blackman"}


def _kaldi_spec(blackman_coeff: float, dither: float, energy_floor: float, frame_length: float, frame_shift: float,
                high_freq: float, htk_compat: bool, low_freq: float, num_mel_bins: int,
                preemphasis_coefficient: float, raw_energy: bool, remove_dc_offset: bool, round_to_power_of_two: bool,
                sample_frequency: float, snip_edges: bool, subtract_mean: bool, use_energy: bool,
                use_log_fbank: bool, use_power: bool, vtln_warp: float, window_type: str, seed: int,
                mean: float = 0.0, std: float = 1.0, patch: int = 0, fstride: int = 16, tstride: int = 16) -> FrontSpec:
    if vtln_warp != 1.0:
        raise ValueError(f"vtln_warp={vtln_warp}: VTLN warping is not supported (only vtln_warp=1.0)")
    if window_type not in KALDI_WINDOWS:
        raise ValueError(f"window_type={window_type!r} is not one of {', '.join(KALDI_WINDOWS)}")
    if not sample_frequency > 0:
        raise ValueError(f"sample_frequency must be > 0, got {sample_frequency}")
    if not 0.0 <= preemphasis_coefficient <= 1.0:
        raise ValueError(f"preemphasis_coefficient must be in [0, 1], got {preemphasis_coefficient}")
    # torchaudio's arithmetic, so the sample counts agree to the sample.
    window_shift = int(sample_frequency * frame_shift * 0.001)
    window_size = int(sample_frequency * frame_length * 0.001)
    if window_size < 2:
        raise ValueError(f"frame_length={frame_length} ms is {window_size} samples; need at least 2")
    if window_shift < 1:
        raise ValueError(f"frame_shift={frame_shift} ms is {window_shift} samples; need at least 1")
    padded = 1 << (window_size - 1).bit_length() if round_to_power_of_two else window_size
    if padded % 2:
        raise ValueError(f"the padded window size {padded} must be even; use round_to_power_of_two "
                         "or change frame_length")
    if num_mel_bins <= 3:
        raise ValueError(f"num_mel_bins must be > 3, got {num_mel_bins}")
    nyquist = 0.5 * sample_frequency
    return FrontSpec(
        win_length=window_size, hop_length=window_shift, n_fft=padded,
        framing="kaldi_snip" if snip_edges else "kaldi_reflect", sample_rate=float(sample_frequency),
        n_mels=num_mel_bins, fmin=float(low_freq), fmax=float(high_freq + nyquist if high_freq <= 0.0 else high_freq),
        window=KALDI_WINDOWS[window_type], periodic=False, blackman_coeff=blackman_coeff, dither=dither, seed=seed,
        remove_dc=remove_dc_offset, preemphasis=preemphasis_coefficient, power=2.0 if use_power else 1.0,
        mel_scale="kaldi", log="log" if use_log_fbank else "none",
        energy=("last" if htk_compat else "first") if use_energy else "none", raw_energy=raw_energy,
        energy_floor=energy_floor, subtract_mean=subtract_mean, mean=mean, std=std,
        patch=patch, fstride=fstride, tstride=tstride)


def _rows(waveform: Any, channel: int) -> tuple[Array, bool]:
    """(S,), (C, S) -> a (B, S) view and whether the output loses its batch axis."""
    check_waveform(waveform)
    if waveform.ndim == 1:
        return waveform.reshape(1, -1), True
    if waveform.ndim != 2:
        raise FeatureInputError(f"waveform must be (S,) or (C, S), got shape {tuple(waveform.shape)}")
    if channel >= 0:
        if channel >= waveform.shape[0]:
            raise FeatureInputError(f"channel={channel} but the waveform has {waveform.shape[0]} rows")
        return waveform[channel:channel + 1], True
    return waveform, waveform.shape[0] == 1


def _run(spec: FrontSpec, waveform: Any, channel: int, min_duration: float, threads: int | None) -> Array:
    rows, single = _rows(waveform, channel)
    if rows.shape[-1] < min_duration * spec.sample_rate:
        width = spec.features if not spec.patch else spec.patch * spec.patch
        empty = np.zeros((rows.shape[0], 0, width), dtype=np.float32)
        out: Array = torch.from_numpy(empty).to(rows.device) if isinstance(rows, torch.Tensor) else empty
    else:
        out = compute(spec, rows, threads)
    return out[0] if single else out


def kaldi_fbank(waveform: Array, blackman_coeff: float = 0.42, channel: int = -1, dither: float = 0.0,
                energy_floor: float = 1.0, frame_length: float = 25.0, frame_shift: float = 10.0,
                high_freq: float = 0.0, htk_compat: bool = False, low_freq: float = 20.0, min_duration: float = 0.0,
                num_mel_bins: int = 23, preemphasis_coefficient: float = 0.97, raw_energy: bool = True,
                remove_dc_offset: bool = True, round_to_power_of_two: bool = True,
                sample_frequency: float = 16000.0, snip_edges: bool = True, subtract_mean: bool = False,
                use_energy: bool = False, use_log_fbank: bool = True, use_power: bool = True,
                vtln_high: float = -500.0, vtln_low: float = 100.0, vtln_warp: float = 1.0,
                window_type: str = "povey", *, threads: int | None = None, seed: int = 0) -> Array:
    """Kaldi log-mel filterbank features, as torchaudio.compliance.kaldi.fbank computes them.

    `waveform` is float32 (S,) or (1, S) -> (T, F), or (B, S) -> (B, T, F), numpy or torch (the
    same type comes back), in whatever amplitude units it has (nothing is rescaled). Frame
    length/shift are in milliseconds, frequencies in Hz, F = num_mel_bins (+1 with use_energy).
    Values are natural-log mel energies (use_log_fbank) of the power (use_power) spectrum.
    `threads`: cores for the compiled core (default torch.get_num_threads()); `seed`: the
    dither generator's seed. vtln_low/vtln_high only matter for VTLN, which is unsupported.
    """
    spec = _kaldi_spec(blackman_coeff, dither, energy_floor, frame_length, frame_shift, high_freq, htk_compat,
                       low_freq, num_mel_bins, preemphasis_coefficient, raw_energy, remove_dc_offset,
                       round_to_power_of_two, sample_frequency, snip_edges, subtract_mean, use_energy,
                       use_log_fbank, use_power, vtln_warp, window_type, seed)
    return _run(spec, waveform, channel, min_duration, threads)


def kaldi_fbank_patches(waveform: Array, patch: int = 16, fstride: int = 16, tstride: int = 16,
                        mean: float = 0.0, std: float = 1.0, *, channel: int = -1, min_duration: float = 0.0,
                        threads: int | None = None, seed: int = 0, **fbank_kwargs: Any) -> Array:
    """kaldi_fbank, normalised as (x - mean) / std, then cut into AST patches, in one fused pass.

    Returns (N, patch**2) for one waveform or (B, N, patch**2) for a batch, equal to
    `patchify((kaldi_fbank(waveform, **fbank_kwargs) - mean) / std, patch, fstride, tstride)`.
    For AST's own normalisation pass std = 2 * its std (AST divides by twice the std).
    """
    defaults = dict(blackman_coeff=0.42, dither=0.0, energy_floor=1.0, frame_length=25.0, frame_shift=10.0,
                    high_freq=0.0, htk_compat=False, low_freq=20.0, num_mel_bins=23, preemphasis_coefficient=0.97,
                    raw_energy=True, remove_dc_offset=True, round_to_power_of_two=True, sample_frequency=16000.0,
                    snip_edges=True, subtract_mean=False, use_energy=False, use_log_fbank=True, use_power=True,
                    vtln_warp=1.0, window_type="povey")
    unknown = set(fbank_kwargs) - set(defaults) - {"vtln_low", "vtln_high"}
    if unknown:
        raise TypeError(f"kaldi_fbank_patches() got unexpected keyword(s): {', '.join(sorted(unknown))}")
    fbank_kwargs.pop("vtln_low", None)
    fbank_kwargs.pop("vtln_high", None)
    spec = _kaldi_spec(**{**defaults, **fbank_kwargs}, seed=seed, mean=mean, std=std, patch=patch, fstride=fstride,
                       tstride=tstride)
    return _run(spec, waveform, channel, min_duration, threads)
