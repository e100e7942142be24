"""Mel spectrograms with librosa.feature.melspectrogram's keywords, defaults and output layout.

`melspectrogram(y, ...)` returns (..., n_mels, T) like librosa (a transposed view of the core's
(..., T, n_mels) buffer, no copy). `log_melspectrogram` applies librosa.power_to_db per
waveform (top_db against each example's own peak), fused in the same pass. Input must be
float32 numpy or torch; windows are the scipy names hann, hamming, blackman, boxcar.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .frontend import Array, FeatureInputError, check_waveform, compute
from .spec import FrontSpec

LIBROSA_WINDOWS = {"hann": "hann", "hanning": "hann", "hamming": "hamming", "blackman": "blackman",
                   "boxcar": "rectangular", "rectangular": "rectangular", "ones": "rectangular"}


def _is_max(ref: Any) -> bool:
    return ref in ("max",) or ref is np.max or ref is np.amax or ref is torch.max or ref is torch.amax


def _mel_spec(sr: float, n_fft: int, hop_length: int | None, win_length: int | None, window: str, center: bool,
              pad_mode: str, power: float, n_mels: int, fmin: float, fmax: float | None, htk: bool, norm: Any,
              log: str = "none", ref: float | Callable = 1.0, amin: float = 1e-10, top_db: float | None = None,
              mean: float = 0.0, std: float = 1.0, patch: int = 0, fstride: int = 16,
              tstride: int = 16) -> FrontSpec:
    if not isinstance(window, str) or window not in LIBROSA_WINDOWS:
        raise ValueError(f"window={window!r} is not supported; use one of {', '.join(LIBROSA_WINDOWS)}")
    win_length = n_fft if win_length is None else int(win_length)
    hop_length = win_length // 4 if hop_length is None else int(hop_length)
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length={win_length} must be in (0, n_fft={n_fft}]")
    if hop_length < 1:
        raise ValueError(f"hop_length must be >= 1, got {hop_length}")
    if center and pad_mode not in ("constant", "reflect", "edge", "symmetric"):
        raise ValueError(f"pad_mode={pad_mode!r} is not supported; use constant, reflect, edge or symmetric")
    if norm is None:
        mel_norm, p = "none", 1.0
    elif norm == "slaney":
        mel_norm, p = "slaney", 1.0
    elif isinstance(norm, (int, float)) and not isinstance(norm, bool) and norm > 0:
        mel_norm, p = "p", float(norm)
    else:
        raise ValueError(f"norm={norm!r} must be 'slaney', None or a number > 0")
    ref_max = _is_max(ref)
    if not ref_max and (callable(ref) or isinstance(ref, str)):
        raise ValueError(f"ref={ref!r}: only a number or np.max / torch.max / 'max' is supported")
    if amin <= 0:
        raise ValueError(f"amin must be > 0, got {amin}")
    return FrontSpec(
        win_length=win_length, hop_length=hop_length, n_fft=int(n_fft), framing="center" if center else "valid",
        sample_rate=float(sr), n_mels=int(n_mels), fmin=float(fmin), fmax=float(sr) / 2 if fmax is None else float(fmax),
        pad_mode=pad_mode if center else "constant", window=LIBROSA_WINDOWS[window], periodic=True,
        remove_dc=False, preemphasis=0.0, power=float(power), mel_scale="htk" if htk else "slaney",
        mel_norm=mel_norm, mel_norm_p=p, log=log, floor=float(amin),
        ref=1.0 if ref_max else float(abs(ref)), ref_max=ref_max, top_db=top_db, mean=mean, std=std,
        patch=patch, fstride=fstride, tstride=tstride)


def _run(spec: FrontSpec, y: Any, threads: int | None, layout: str) -> Array:
    """(..., S) -> (..., n_mels, T) ("librosa"), (..., T, n_mels) ("frames") or patches."""
    check_waveform(y, name="y")
    if y.ndim < 1:
        raise FeatureInputError(f"y must have a time axis, got shape {tuple(y.shape)}")
    lead = tuple(y.shape[:-1])
    if spec.framing == "valid" and y.shape[-1] < spec.n_fft:
        raise ValueError(f"n_fft={spec.n_fft} is too large for uncentered analysis of a signal of length {y.shape[-1]}")
    out = compute(spec, y.reshape(-1, y.shape[-1]), threads)
    out = out.reshape(*lead, *out.shape[1:])
    if layout == "librosa":
        return out.transpose(-1, -2) if isinstance(out, torch.Tensor) else np.swapaxes(out, -1, -2)
    return out


def melspectrogram(y: Array, sr: float = 22050, n_fft: int = 2048, hop_length: int | None = 512,
                   win_length: int | None = None, window: str = "hann", center: bool = True,
                   pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False, norm: Any = "slaney", *,
                   threads: int | None = None) -> Array:
    """Mel-scaled spectrogram as librosa.feature.melspectrogram(y=y, ...) computes it.

    `y`: float32 (..., S) at `sr` Hz, numpy or torch -> (..., n_mels, T) of the same type, with
    T = 1 + S // hop_length when centred. Values are sum_k w_mk |X_k|**power, the STFT taken
    with a periodic `window` of win_length (default n_fft) samples zero-padded to n_fft.
    fmin/fmax in Hz (fmax default sr / 2); htk/norm select librosa's mel scale and filter norm.
    hop_length=None means win_length // 4 (librosa.stft's default).
    """
    spec = _mel_spec(sr, n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm)
    return _run(spec, y, threads, "librosa")


def log_melspectrogram(y: Array, sr: float = 22050, n_fft: int = 2048, hop_length: int | None = 512,
                       win_length: int | None = None, window: str = "hann", center: bool = True,
                       pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                       fmax: float | None = None, htk: bool = False, norm: Any = "slaney", *,
                       ref: float | Callable = 1.0, amin: float = 1e-10, top_db: float | None = 80.0,
                       threads: int | None = None) -> Array:
    """librosa.power_to_db(melspectrogram(y, ...), ref, amin, top_db) in one fused pass, in dB.

    Same layout as `melspectrogram` ((..., n_mels, T)). top_db floors each waveform at its own
    peak minus top_db (librosa applied to each waveform separately); ref may be a number or
    np.max / torch.max / "max" (each waveform's peak).
    """
    spec = _mel_spec(sr, n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm,
                     log="db", ref=ref, amin=amin, top_db=top_db)
    return _run(spec, y, threads, "librosa")


def melspectrogram_patches(y: Array, sr: float = 22050, n_fft: int = 2048, hop_length: int | None = 512,
                           win_length: int | None = None, window: str = "hann", center: bool = True,
                           pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                           fmax: float | None = None, htk: bool = False, norm: Any = "slaney", *,
                           log: str = "db", ref: float | Callable = 1.0, amin: float = 1e-10,
                           top_db: float | None = 80.0, mean: float = 0.0, std: float = 1.0, patch: int = 16,
                           fstride: int = 16, tstride: int = 16, threads: int | None = None) -> Array:
    """(Log-)mel spectrogram, normalised as (x - mean) / std, cut into AST patches in one pass.

    log: "db" (as log_melspectrogram), "log" (natural log of max(x, amin)) or "none". Returns
    (..., N, patch**2), equal to patchify of the (..., T, n_mels) features (see `patchify`).
    """
    if log not in ("db", "log", "none"):
        raise ValueError(f"log={log!r} is not one of db, log, none")
    spec = _mel_spec(sr, n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm,
                     log=log, ref=ref, amin=amin, top_db=top_db if log == "db" else None, mean=mean, std=std,
                     patch=patch, fstride=fstride, tstride=tstride)
    return _run(spec, y, threads, "frames")


def power_to_db(S: Array, ref: float | Callable = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> Array:
    """librosa.power_to_db for numpy arrays or torch tensors: 10 log10(max(S, amin) / max(ref, amin)).

    `ref` may be a number or a callable applied to S (e.g. np.max); with top_db the result is
    floored at its maximum minus top_db over the whole array (as librosa). Same type as S.
    """
    if amin <= 0:
        raise ValueError(f"amin must be > 0, got {amin}")
    if top_db is not None and top_db < 0:
        raise ValueError(f"top_db must be >= 0, got {top_db}")
    if isinstance(S, torch.Tensor):
        magnitude = S.abs() if S.is_complex() else S
        ref_value = ref(magnitude) if callable(ref) else abs(ref)
        if isinstance(ref_value, tuple):  # torch.max(x, dim) style results
            ref_value = ref_value[0]
        ref_value = torch.as_tensor(ref_value, dtype=magnitude.dtype, device=magnitude.device)
        log_spec = 10.0 * torch.log10(magnitude.clamp(min=amin)) - 10.0 * torch.log10(ref_value.clamp(min=amin))
        if top_db is not None:
            log_spec = torch.maximum(log_spec, log_spec.max() - top_db)
        return log_spec
    magnitude = np.abs(S) if np.iscomplexobj(S) else np.asarray(S)
    ref_value = ref(magnitude) if callable(ref) else np.abs(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, magnitude))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec
