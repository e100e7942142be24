"""Where and how a performance is heard: tuning, room, microphone colour, noise and level.

`sample_acoustics(rng)` draws one `Acoustics` per performance; `tuning_cents` gives the
renderer its per-key detuning (a few cents overall plus a piano-like stretch: bass flat,
treble sharp), so a SoundFont's few sample boundaries do not become features; `apply` adds
the room (Freeverb through Spotify's pedalboard), a microphone/EQ colour (high-pass, low and
high shelves, one peak), noise at a signal-to-noise ratio and a playing level.

Nothing here moves a note in time: the dry signal passes unchanged in time through the
reverb's dry path and the filters are causal biquads (their group delay is under a
millisecond above 100 Hz), so the MIDI labels stay exact. The reverb tail lengthens the
file by `tail_seconds`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Acoustics:
    detune_cents: float = 0.0
    """Whole-instrument detuning (cents)."""
    stretch_cents: float = 0.0
    """Stretch tuning: cents added at C8 and taken away at A0 (quadratic in between)."""
    room_size: float = 0.0
    """pedalboard.Reverb room size (0..1); 0 with `wet` 0 = no room."""
    damping: float = 0.5
    wet: float = 0.0
    """Reverb wet level (linear; the dry level is 1)."""
    highpass_hz: float = 0.0
    """Microphone / rumble high-pass corner (0 = none)."""
    low_shelf_db: float = 0.0
    low_shelf_hz: float = 200.0
    high_shelf_db: float = 0.0
    high_shelf_hz: float = 3000.0
    peak_db: float = 0.0
    peak_hz: float = 1000.0
    peak_q: float = 1.0
    noise_snr_db: float = 0.0
    """Noise level below the signal's RMS (dB); 0 = no noise."""
    noise_colour: float = 0.0
    """0 white .. 1 pink (1/f) noise."""
    peak_dbfs: float = -1.0
    """Peak level of the finished file (dB full scale)."""
    tail_seconds: float = 0.0
    """Silence appended before the room so its tail is heard."""

    def record(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


DRY = Acoustics()
"""No tuning change, no room, no colour, no noise; only the level."""


def sample_acoustics(rng: np.random.Generator) -> Acoustics:
    """One seeded set of acoustics: about one performance in eight stays in a dry close-miked
    setting, the rest get a room from small studio to hall."""
    roomy = rng.random() >= 0.125
    room = rng.uniform(0.15, 0.9) if roomy else 0.0
    return Acoustics(
        detune_cents=rng.uniform(-8.0, 8.0), stretch_cents=rng.uniform(0.0, 25.0),
        room_size=room, damping=rng.uniform(0.2, 0.8),
        wet=rng.uniform(0.05, 0.45) * room / 0.9 if roomy else 0.0,
        highpass_hz=rng.uniform(20.0, 90.0), low_shelf_db=rng.uniform(-6.0, 6.0),
        low_shelf_hz=rng.uniform(80.0, 300.0), high_shelf_db=rng.uniform(-9.0, 5.0),
        high_shelf_hz=rng.uniform(2000.0, 6000.0), peak_db=rng.uniform(-6.0, 6.0),
        peak_hz=float(np.exp(rng.uniform(np.log(200.0), np.log(5000.0)))),
        peak_q=rng.uniform(0.5, 2.0), noise_snr_db=rng.uniform(35.0, 65.0),
        noise_colour=rng.uniform(0.0, 1.0), peak_dbfs=rng.uniform(-18.0, -1.0),
        tail_seconds=1.0 + 2.0 * room)


def tuning_cents(acoustics: Acoustics) -> np.ndarray | None:
    """Per-MIDI-pitch tuning `(128,)` in cents (None when there is none to apply)."""
    if not (acoustics.detune_cents or acoustics.stretch_cents):
        return None
    x = np.clip((np.arange(128) - 64.5) / 43.5, -1.0, 1.0)
    return acoustics.detune_cents + acoustics.stretch_cents * np.sign(x) * x ** 2


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Approximately 1/f noise of unit RMS (Paul Kellet's economy filter on white noise)."""
    from scipy.signal import lfilter

    y = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                [1.0, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(n))
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def apply(y: np.ndarray, sample_rate: int, acoustics: Acoustics,
          rng: np.random.Generator) -> np.ndarray:
    """The performance `(S,)` float32 as heard in `acoustics` (see module doc): `(S + tail,)`
    float32 whose peak is at `peak_dbfs`."""
    import pedalboard as pb

    a = acoustics
    y = np.asarray(y, dtype=np.float32)
    if a.tail_seconds > 0:
        y = np.concatenate([y, np.zeros(int(round(a.tail_seconds * sample_rate)), np.float32)])
    nyquist = 0.45 * sample_rate
    chain = []
    if a.highpass_hz > 0:
        chain.append(pb.HighpassFilter(cutoff_frequency_hz=min(a.highpass_hz, nyquist)))
    if a.low_shelf_db:
        chain.append(pb.LowShelfFilter(cutoff_frequency_hz=min(a.low_shelf_hz, nyquist),
                                       gain_db=a.low_shelf_db))
    if a.peak_db:
        chain.append(pb.PeakFilter(cutoff_frequency_hz=min(a.peak_hz, nyquist), gain_db=a.peak_db,
                                   q=a.peak_q))
    if a.high_shelf_db:
        chain.append(pb.HighShelfFilter(cutoff_frequency_hz=min(a.high_shelf_hz, nyquist),
                                        gain_db=a.high_shelf_db))
    if a.wet > 0:
        chain.append(pb.Reverb(room_size=a.room_size, damping=a.damping, wet_level=a.wet,
                               dry_level=1.0, width=0.0))
    if chain:
        y = pb.Pedalboard(chain)(y[None, :], sample_rate, reset=True)[0]
    y = y.astype(np.float64)
    if a.noise_snr_db > 0 and len(y):
        loud = np.abs(y) > 1e-4 * (np.max(np.abs(y)) + 1e-12)
        rms = float(np.sqrt(np.mean(y[loud] ** 2))) if loud.any() else 0.0
        white = rng.standard_normal(len(y))
        noise = (1 - a.noise_colour) * white + a.noise_colour * _pink(len(y), rng)
        noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
        y = y + noise * rms * 10 ** (-a.noise_snr_db / 20)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y *= 10 ** (a.peak_dbfs / 20) / peak
    return y.astype(np.float32)
