"""Data augmentation that keeps targets aligned: time stretch, pitch shift, gain, EQ, noise,
mixup, SpecAugment masks.

`AugmentConfig` is the `[train.augment]` table; every augmentation is off by default. All
randomness comes from the `numpy.random.Generator` passed in, so a seed fixes the result.

Waveform transforms (`apply_waveform(y, sr, targets, rng, config)`), in this order:

    stretch  phase-vocoder time stretch (STFT, Hann window of ~32 ms, hop 1/4): the audio
             lasts `factor` times as long at the same pitch; note times, pedal intervals and
             drum-hit times are multiplied by `factor`
    pitch    shift by an integer number of semitones: phase-vocoder stretch by 2^(n/12)
             followed by resampling back to the original length; note pitches move by n
             (notes leaving 0..127 are dropped); drum hits and ratings are unchanged
    gain     a random gain in +-`gain_db` dB
    eq       a random smooth equaliser (zero phase): a spectral tilt plus `eq_bands` bell
             bands on a log-frequency axis, each up to +-`eq_db` dB; it changes the timbre
             (another piano, drum kit or microphone) and none of the targets
    noise    white noise at a signal-to-noise ratio drawn in [noise_snr_min, noise_snr_max] dB

Targets understood: "notes" (N, 4) onset s, offset s, pitch, velocity; "pedal" (K, 2) seconds;
"hits" (N, 3) time s, class, velocity. Other entries pass through unchanged.

Batch transforms: `apply_mixup` blends pairs of examples and their regression targets
(ratings); `apply_features` draws SpecAugment frequency and time masks on (B, T, F) features.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np


@dataclass
class AugmentConfig:
    stretch_prob: float = 0.0
    """Probability of a time stretch."""
    stretch_min: float = 0.8
    """Smallest stretch factor (output duration / input duration)."""
    stretch_max: float = 1.2
    pitch_prob: float = 0.0
    """Probability of a pitch shift."""
    pitch_max: int = 2
    """Largest shift in semitones; a nonzero shift in [-pitch_max, pitch_max] is drawn."""
    gain_prob: float = 0.0
    gain_db: float = 6.0
    """Largest gain change in dB (either way)."""
    eq_prob: float = 0.0
    """Probability of a random equaliser curve (see the module doc)."""
    eq_db: float = 6.0
    """Largest gain of the tilt and of each band, dB."""
    eq_bands: int = 3
    """Bell bands of the curve, each 1/3 to 2 octaves wide."""
    noise_prob: float = 0.0
    noise_snr_min: float = 10.0
    """Lowest signal-to-noise ratio of added white noise, dB."""
    noise_snr_max: float = 40.0
    mixup_prob: float = 0.0
    """Probability that an example of a batch is blended with another (regression targets)."""
    mixup_alpha: float = 0.4
    """Blend weights are drawn from Beta(alpha, alpha)."""
    freq_mask_prob: float = 0.0
    """Probability that an example gets frequency masks."""
    freq_masks: int = 2
    freq_mask_width: int = 8
    """Widest frequency mask, in feature bins."""
    time_mask_prob: float = 0.0
    time_masks: int = 2
    time_mask_width: int = 20
    """Widest time mask, in frames."""

    def validate(self) -> None:
        """ValueError for out-of-range settings (called by pianox.schema.build)."""
        for name in ("stretch_prob", "pitch_prob", "gain_prob", "eq_prob", "noise_prob", "mixup_prob",
                     "freq_mask_prob", "time_mask_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} = {getattr(self, name)} is not a probability")
        if not 0.25 <= self.stretch_min <= self.stretch_max <= 4.0:
            raise ValueError("need 0.25 <= stretch_min <= stretch_max <= 4")
        if not 0 <= self.pitch_max <= 12:
            raise ValueError("pitch_max must be in 0..12 semitones")
        if not 0.0 <= self.eq_db <= 24.0 or not 0 <= self.eq_bands <= 16:
            raise ValueError("need 0 <= eq_db <= 24 dB and 0 <= eq_bands <= 16")
        if self.noise_snr_min > self.noise_snr_max:
            raise ValueError("noise_snr_min must be <= noise_snr_max")
        if self.mixup_alpha <= 0:
            raise ValueError("mixup_alpha must be positive")
        if min(self.freq_masks, self.freq_mask_width, self.time_masks, self.time_mask_width) < 0:
            raise ValueError("mask counts and widths must be >= 0")

    def active(self) -> bool:
        """True when any augmentation has a non-zero probability."""
        return any(getattr(self, f"{name}_prob") for name in WAVEFORM_AUGMENTS + OTHER_AUGMENTS)

    def waveform_active(self) -> list[str]:
        """Names of the waveform augmentations switched on (they change the audio, so they
        cannot run on cached features)."""
        return [name for name in WAVEFORM_AUGMENTS if getattr(self, f"{name}_prob")]


WAVEFORM_AUGMENTS = ("stretch", "pitch", "gain", "eq", "noise")
"""Augmentations applied to the waveform (`apply_waveform`), each with a `<name>_prob` field."""
OTHER_AUGMENTS = ("mixup", "freq_mask", "time_mask")
"""Augmentations of targets (mixup, done by tasks) and features (SpecAugment)."""


# -- signal processing --------------------------------------------------------------------

def _fft_size(sample_rate: int) -> int:
    return int(2 ** round(np.log2(0.032 * sample_rate)))


def _stft(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    pad = np.pad(y.astype(np.float64), (n_fft // 2, n_fft // 2 + hop))
    frames = 1 + (len(pad) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(pad[idx] * np.hanning(n_fft + 1)[:-1], axis=1).T  # (F, T)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    total = n_fft + hop * (len(frames) - 1)
    out = np.zeros(total)
    norm = np.zeros(total)
    for t, frame in enumerate(frames):
        out[t * hop: t * hop + n_fft] += frame
        norm[t * hop: t * hop + n_fft] += window ** 2
    out = out / np.maximum(norm, 1e-8)
    out = out[n_fft // 2:]
    return np.pad(out, (0, max(0, length - len(out))))[:length]


def time_stretch(y: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Phase-vocoder time stretch of float audio `(S,)`: the result lasts `factor` times as long
    (`round(S * factor)` samples) at the same pitch."""
    if factor == 1.0:
        return np.asarray(y, dtype=np.float32)
    n_fft = _fft_size(sample_rate)
    hop = n_fft // 4
    spec = _stft(np.asarray(y), n_fft, hop)
    steps = np.arange(0, spec.shape[1] - 1, 1.0 / factor)
    spec = np.concatenate([spec, np.zeros((spec.shape[0], 1))], axis=1)
    i = steps.astype(int)
    alpha = steps - i
    mag = (1 - alpha) * np.abs(spec[:, i]) + alpha * np.abs(spec[:, i + 1])
    expected = 2 * np.pi * hop * np.arange(spec.shape[0]) / n_fft
    dphase = np.angle(spec[:, i + 1]) - np.angle(spec[:, i]) - expected[:, None]
    dphase -= 2 * np.pi * np.round(dphase / (2 * np.pi))
    advance = expected[:, None] + dphase
    phase = np.angle(spec[:, :1]) + np.concatenate(
        [np.zeros((spec.shape[0], 1)), np.cumsum(advance[:, :-1], axis=1)], axis=1)
    out = _istft(mag * np.exp(1j * phase), n_fft, hop, int(round(len(y) * factor)))
    return out.astype(np.float32)


def pitch_shift(y: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Shift float audio `(S,)` by `semitones` keeping its length (stretch, then resample)."""
    if semitones == 0:
        return np.asarray(y, dtype=np.float32)
    import soxr

    ratio = 2.0 ** (semitones / 12.0)
    stretched = time_stretch(y, sample_rate, ratio)
    out = soxr.resample(stretched, sample_rate * ratio, sample_rate, quality="HQ")
    return np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)].astype(np.float32)


def eq_curve(freqs: np.ndarray, max_db: float, bands: int, rng: np.random.Generator
             ) -> np.ndarray:
    """Gain in dB at `freqs` (Hz) of a random smooth curve: a tilt of up to +-`max_db` across
    20 Hz .. the top frequency, plus `bands` Gaussian bells on the log2 frequency axis (centre
    uniform, width 1/3 .. 2 octaves, gain up to +-`max_db`)."""
    top = max(float(freqs[-1]) if len(freqs) else 40.0, 40.0)
    octave = np.log2(np.clip(freqs, 20.0, top) / 20.0)
    span = np.log2(top / 20.0)
    gain = rng.uniform(-max_db, max_db) * (2.0 * octave / span - 1.0)
    for _ in range(bands):
        centre = rng.uniform(0.0, span)
        width = rng.uniform(1.0 / 3.0, 2.0) / 2.0  # the bell's standard deviation, octaves
        gain = gain + rng.uniform(-max_db, max_db) * np.exp(-0.5 * ((octave - centre) / width) ** 2)
    return gain


def random_eq(y: np.ndarray, sample_rate: int, max_db: float, bands: int,
              rng: np.random.Generator) -> np.ndarray:
    """`y` through a random zero-phase equaliser (`eq_curve`), applied in one real FFT."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) < 2 or max_db <= 0:
        return y
    spec = np.fft.rfft(y.astype(np.float64))
    gain = eq_curve(np.fft.rfftfreq(len(y), 1.0 / sample_rate), max_db, bands, rng)
    return np.fft.irfft(spec * 10.0 ** (gain / 20.0), n=len(y)).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`y` plus white noise at `snr_db` dB below the signal's mean power (silence unchanged)."""
    power = float(np.mean(np.square(y, dtype=np.float64))) if len(y) else 0.0
    if power <= 0:
        return np.asarray(y, dtype=np.float32)
    noise = rng.standard_normal(len(y)) * np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (y + noise).astype(np.float32)


# -- targets -------------------------------------------------------------------------------

def stretch_targets(targets: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """Targets with every time (notes, pedal, hits) multiplied by `factor`."""
    out = dict(targets)
    if "notes" in out:
        notes = np.array(out["notes"], dtype=np.float64).reshape(-1, 4)
        notes[:, :2] *= factor
        out["notes"] = notes
    if "pedal" in out:
        out["pedal"] = np.asarray(out["pedal"], dtype=np.float64).reshape(-1, 2) * factor
    if "hits" in out:
        hits = np.array(out["hits"], dtype=np.float64).reshape(-1, 3)
        hits[:, 0] *= factor
        out["hits"] = hits
    return out


def shift_targets(targets: Mapping[str, Any], semitones: int) -> dict[str, Any]:
    """Targets with note pitches moved by `semitones` (notes leaving 0..127 are dropped)."""
    out = dict(targets)
    if "notes" in out:
        notes = np.array(out["notes"], dtype=np.float64).reshape(-1, 4)
        notes[:, 2] += semitones
        out["notes"] = notes[(notes[:, 2] >= 0) & (notes[:, 2] <= 127)]
    return out


# -- entry points used by the engine ------------------------------------------------------

def apply_waveform(y: np.ndarray, sample_rate: int, targets: Mapping[str, Any],
                   rng: np.random.Generator, config: AugmentConfig
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """Augment one float32 waveform `(S,)` and move its targets along (see module doc).

    Returns (waveform, targets); the waveform's length changes only by a time stretch.
    """
    c = config
    y = np.asarray(y, dtype=np.float32)
    out = dict(targets)
    if c.stretch_prob and rng.random() < c.stretch_prob:
        factor = float(rng.uniform(c.stretch_min, c.stretch_max))
        y, out = time_stretch(y, sample_rate, factor), stretch_targets(out, factor)
    if c.pitch_prob and c.pitch_max and rng.random() < c.pitch_prob:
        choices = [s for s in range(-c.pitch_max, c.pitch_max + 1) if s != 0]
        semitones = int(rng.choice(choices))
        y, out = pitch_shift(y, sample_rate, semitones), shift_targets(out, semitones)
    if c.gain_prob and rng.random() < c.gain_prob:
        y = (y * 10.0 ** (rng.uniform(-c.gain_db, c.gain_db) / 20.0)).astype(np.float32)
    if c.eq_prob and rng.random() < c.eq_prob:
        y = random_eq(y, sample_rate, c.eq_db, c.eq_bands, rng)
    if c.noise_prob and rng.random() < c.noise_prob:
        y = add_noise(y, float(rng.uniform(c.noise_snr_min, c.noise_snr_max)), rng)
    return y, out


def apply_mixup(waveforms: Any, targets: Any, rng: np.random.Generator, config: AugmentConfig
                ) -> tuple[Any, Any]:
    """Blend examples of a batch with a random partner: `(B, S)` waveforms and `(B, K)`
    regression targets (numpy arrays or torch tensors) -> the same shapes.

    Each example is mixed with probability `mixup_prob` using a weight lambda ~ Beta(alpha,
    alpha) on itself and 1 - lambda on its partner; the others are returned unchanged.
    """
    batch = len(waveforms)
    if not config.mixup_prob or batch < 2:
        return waveforms, targets
    partner = rng.permutation(batch)
    lam = rng.beta(config.mixup_alpha, config.mixup_alpha, batch)
    lam = np.where(rng.random(batch) < config.mixup_prob, lam, 1.0)
    if hasattr(waveforms, "new_tensor"):  # torch tensors
        import torch

        def weights(like):
            w = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
            return w.view(batch, *([1] * (like.dim() - 1)))

        lw, lt = weights(waveforms), weights(targets)
        idx = torch.as_tensor(partner)
        return (lw * waveforms + (1 - lw) * waveforms[idx.to(waveforms.device)],
                lt * targets + (1 - lt) * targets[idx.to(targets.device)])
    w = np.asarray(waveforms)
    t = np.asarray(targets)
    lw = lam.reshape(batch, *([1] * (w.ndim - 1))).astype(w.dtype)
    lt = lam.reshape(batch, *([1] * (t.ndim - 1))).astype(t.dtype)
    return lw * w + (1 - lw) * w[partner], lt * t + (1 - lt) * t[partner]


def apply_features(x: Any, rng: np.random.Generator, config: AugmentConfig,
                   lengths: Any = None) -> Any:
    """SpecAugment masks on `(B, T, F)` features (numpy array or torch tensor), returns a copy.

    Per example, with `freq_mask_prob` draw `freq_masks` bands of up to `freq_mask_width` bins,
    with `time_mask_prob` draw `time_masks` spans of up to `time_mask_width` frames (inside the
    first `lengths[b]` frames when given); masked cells take the example's mean value.
    """
    c = config
    is_torch = hasattr(x, "clone")
    out = x.clone() if is_torch else np.array(x, copy=True)
    batch, frames, bins = out.shape
    for b in range(batch):
        real = int(lengths[b]) if lengths is not None else frames
        regions = []
        if c.freq_mask_prob and rng.random() < c.freq_mask_prob:
            for _ in range(c.freq_masks):
                w = int(rng.integers(0, min(c.freq_mask_width, bins) + 1))
                f0 = int(rng.integers(0, bins - w + 1))
                regions.append((slice(0, real), slice(f0, f0 + w)))
        if c.time_mask_prob and rng.random() < c.time_mask_prob and real > 0:
            for _ in range(c.time_masks):
                w = int(rng.integers(0, min(c.time_mask_width, real) + 1))
                t0 = int(rng.integers(0, real - w + 1))
                regions.append((slice(t0, t0 + w), slice(0, bins)))
        if regions:
            fill = out[b, :real].mean()
            for ts, fs in regions:
                out[b, ts, fs] = fill
    return out
