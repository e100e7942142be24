"""Runs a `FrontSpec` on a batch of waveforms: the compiled core for numpy arrays and CPU tensors,
the torch reference elsewhere. Returns the input's array type.

Input must already be float32 and C-contiguous: converting would silently copy (and float64
input usually means the caller forgot a cast), so anything else is a `FeatureInputError` (a
ValueError) that says what to do. Without the compiled core the torch reference runs instead,
with one warning per process.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Union

import numpy as np
import torch

from ..errors import AudioError
from . import reference
from .spec import FrontSpec

Array = Union[np.ndarray, torch.Tensor]


class FeatureInputError(AudioError, ValueError):
    """An array the front end cannot use: wrong type, dtype, layout or shape, empty or non-finite."""


@functools.lru_cache(maxsize=1)
def core() -> Any:
    """The compiled `pianox._core` module, or None (after one warning) when it cannot be imported."""
    try:
        from pianox import _core
    except ImportError as exc:
        warnings.warn(f"pianox._core is not available ({exc}); the front end falls back to the pure-torch "
                      "reference (slower, same results)", RuntimeWarning, stacklevel=3)
        return None
    return _core


@functools.lru_cache(maxsize=64)
def _core_config(spec: FrontSpec) -> Any:
    return spec.to_core()


def default_threads() -> int:
    """Threads for the core: torch's intra-op setting (1 inside DataLoader workers)."""
    return max(1, torch.get_num_threads())


def check_waveform(wave: Any, name: str = "waveform") -> None:
    """Raise FeatureInputError unless `wave` is a non-empty float32 C-contiguous numpy array or tensor."""
    if isinstance(wave, torch.Tensor):
        dtype_ok, contiguous = wave.dtype == torch.float32, wave.is_contiguous()
        cast = ".float()"
    elif isinstance(wave, np.ndarray):
        dtype_ok, contiguous = wave.dtype == np.float32, wave.flags.c_contiguous
        cast = ".astype(np.float32)"
    else:
        raise FeatureInputError(f"{name} must be a numpy array or a torch tensor, got {type(wave).__name__}")
    if not dtype_ok:
        raise FeatureInputError(f"{name} must be float32, got {wave.dtype}; convert it explicitly with {cast}")
    if not contiguous:
        raise FeatureInputError(f"{name} must be C-contiguous; use np.ascontiguousarray / .contiguous() first")
    if 0 in tuple(wave.shape):
        raise FeatureInputError(f"{name} is empty (shape {tuple(wave.shape)})")


def _check_finite(wave: torch.Tensor) -> None:
    bad = ~torch.isfinite(wave)
    if bool(bad.any()):
        b, i = (int(v) for v in bad.nonzero()[0])
        kind = "NaN" if bool(torch.isnan(wave[b, i])) else "inf"
        raise FeatureInputError(f"waveform contains {kind} at [{b}, {i}]")


def use_reference(wave: Array) -> bool:
    """True when `wave` goes to the torch reference: a device or grad-tracking tensor, or no core."""
    if isinstance(wave, torch.Tensor) and (wave.device.type != "cpu" or wave.requires_grad):
        return True
    return core() is None


def compute(spec: FrontSpec, wave: Array, threads: int | None = None) -> Array:
    """Run `spec` on a (B, S) float32 batch -> (B, T, F) (or (B, N, patch**2)), same array type.

    `threads` <= 0 or None: torch.get_num_threads(). Raises FeatureInputError for unusable input and
    ValueError for a configuration the filterbank or framing rejects.
    """
    check_waveform(wave)
    if wave.ndim != 2:
        raise FeatureInputError(f"waveform must be (B, S), got shape {tuple(wave.shape)}")
    batch, samples = wave.shape
    if samples < spec.win_length and batch > samples:
        raise FeatureInputError(f"waveform of shape {tuple(wave.shape)} looks like (samples, channels): time must be "
                                "the last axis, e.g. pass waveform.T (made contiguous)")
    if use_reference(wave):
        tensor = torch.from_numpy(wave) if isinstance(wave, np.ndarray) else wave
        _check_finite(tensor.detach())
        out = reference.frontend(spec, tensor)
        return out.numpy() if isinstance(wave, np.ndarray) else out
    n_threads = threads if threads is not None and threads > 0 else default_threads()
    try:
        out = core().frontend(wave.detach() if isinstance(wave, torch.Tensor) else wave, _core_config(spec), n_threads)
    except ValueError as exc:
        if str(exc).startswith("waveform"):
            raise FeatureInputError(str(exc)) from None
        raise
    return torch.from_numpy(out) if isinstance(wave, torch.Tensor) else out


def patchify(spec: Array, patch: int = 16, fstride: int = 16, tstride: int = 16, threads: int | None = None) -> Array:
    """(B, T, F) features -> (B, Nf * Nt, patch**2) tokens in AST's patch-embedding order.

    Token i_f * Nt + i_t holds frames [i_t tstride, i_t tstride + patch) and features
    [i_f fstride, i_f fstride + patch), flattened (feature, frame)-major, so that
    `patchify(x) @ W.reshape(D, -1).T + b` equals AST's Conv2d(1, D, patch, (fstride, tstride))
    applied to x.transpose(1, 2).unsqueeze(1), flattened and transposed. Nf = (F - patch) //
    fstride + 1, Nt = (T - patch) // tstride + 1 (0 when shorter than a patch). A single (T, F)
    gives (Nf * Nt, patch**2). Same array type as `spec`.
    """
    if patch < 1 or fstride < 1 or tstride < 1:
        raise ValueError(f"patch, fstride and tstride must be >= 1, got {patch}, {fstride}, {tstride}")
    check_waveform(spec, name="spectrogram")
    if spec.ndim == 2:
        return patchify(spec[None], patch, fstride, tstride, threads)[0]
    if spec.ndim != 3:
        raise FeatureInputError(f"spectrogram must be (B, T, F) or (T, F), got shape {tuple(spec.shape)}")
    if use_reference(spec):
        tensor = torch.from_numpy(spec) if isinstance(spec, np.ndarray) else spec
        out = reference.patchify(tensor, patch, fstride, tstride)
        return out.numpy() if isinstance(spec, np.ndarray) else out
    n_threads = threads if threads is not None and threads > 0 else default_threads()
    out = core().patchify(spec, patch, fstride, tstride, n_threads)
    return torch.from_numpy(out) if isinstance(spec, torch.Tensor) else out
