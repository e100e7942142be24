"""The PercePiano twin's ground truth: performers as parameter profiles, ratings as functions.

Each performance parameter is normalised to [0, 1] over `RANGES`; each of PercePiano's 19
dimensions is a fixed, documented function of those features (`latent`, also tabulated in
docs/percepiano_twin.md) with 0 meaning the dimension's first pole ("Stable" in
Timing_Stable_Unstable). Simulated raters then score the latent value on PercePiano's 7-point
scale with a personal bias and noise, and the label is the mean rating / 7 — exactly how
PercePiano's `label_2round_mean_reg_19_with0_rm_highstd0.json` was computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np

from .perform import PerformanceParams

RANGES: dict[str, tuple[float, float]] = {
    "tempo": (0.75, 1.3), "tempo_drift": (0.0, 0.08), "rubato": (0.0, 0.3),
    "timing_jitter": (0.0, 0.04), "articulation": (0.45, 1.1), "velocity_mean": (35.0, 100.0),
    "velocity_range": (0.0, 1.0), "phrase_arc": (0.0, 1.0), "voice_balance": (-2.0, 14.0),
    "pedal": (0.0, 1.0), "pedal_clean": (0.0, 1.0), "brightness": (-1.0, 1.0),
    "wrong_notes": (0.0, 0.06),
}
"""Parameter -> (value of feature 0, value of feature 1)."""

RATERS = 10
"""Size of the simulated rater pool."""
RATERS_PER_CLIP = 6
RATER_BIAS = 0.05
"""Standard deviation of a rater's fixed per-dimension bias (latent units)."""
RATER_NOISE = 0.07
"""Standard deviation of one rating's noise (latent units; 1/6 = one scale point)."""


def features(p: PerformanceParams) -> dict[str, float]:
    """Normalised parameters in [0, 1] (see `RANGES`)."""
    values = asdict(p)
    return {k: float(np.clip((values[k] - lo) / (hi - lo), 0.0, 1.0))
            for k, (lo, hi) in RANGES.items()}


Formula = Callable[[dict[str, float], float], float]

# f = normalised features, minor = 1.0 for a work in a minor key else 0.0
FORMULAS: tuple[tuple[str, Formula], ...] = (
    ("Timing_Stable_Unstable",
     lambda f, m: 0.6 * f["timing_jitter"] + 0.25 * f["tempo_drift"] + 0.15 * f["rubato"]),
    ("Articulation_Short_Long", lambda f, m: f["articulation"]),
    ("Articulation_Soft_cushioned_Hard_solid",
     lambda f, m: 0.6 * f["velocity_mean"] + 0.4 * f["brightness"]),
    ("Pedal_Sparse/dry_Saturated/wet", lambda f, m: f["pedal"]),
    ("Pedal_Clean_Blurred",
     lambda f, m: 0.3 * f["pedal"] + 0.7 * f["pedal"] * (1 - f["pedal_clean"])),
    ("Timbre_Even_Colorful",
     lambda f, m: 0.4 * f["velocity_range"] + 0.3 * f["voice_balance"] + 0.3 * f["phrase_arc"]),
    ("Timbre_Shallow_Rich",
     lambda f, m: 0.4 * f["pedal"] + 0.3 * f["voice_balance"] + 0.3 * (1 - f["brightness"])),
    ("Timbre_Bright_Dark", lambda f, m: 1 - f["brightness"]),
    ("Timbre_Soft_Loud", lambda f, m: f["velocity_mean"]),
    ("Dynamic_Sophisticated/mellow_Raw/crude",
     lambda f, m: 0.5 * f["velocity_mean"] + 0.3 * f["brightness"] + 0.2 * (1 - f["phrase_arc"])),
    ("Dynamic_Little_dynamic_range_Large_dynamic_range",
     lambda f, m: 0.7 * f["velocity_range"] + 0.3 * f["phrase_arc"]),
    ("Music_Making_Fast_paced_Slow_paced", lambda f, m: 1 - f["tempo"]),
    ("Music_Making_Flat_Spacious",
     lambda f, m: 0.5 * f["rubato"] + 0.3 * f["phrase_arc"] + 0.2 * f["pedal"]),
    ("Music_Making_Disproportioned_Balanced",
     lambda f, m: 1 - (0.5 * f["wrong_notes"] + 0.3 * f["timing_jitter"]
                       + 0.2 * abs(2 * f["voice_balance"] - 1))),
    ("Music_Making_Pure_Dramatic/expressive",
     lambda f, m: 0.4 * f["velocity_range"] + 0.4 * f["rubato"] + 0.2 * f["phrase_arc"]),
    ("Emotion_&_Mood_Optimistic/pleasant_Dark",
     lambda f, m: 0.35 * (1 - f["tempo"]) + 0.25 * (1 - f["brightness"]) + 0.4 * m),
    ("Emotion_&_Mood_Low_Energy_High_Energy",
     lambda f, m: 0.5 * f["velocity_mean"] + 0.5 * f["tempo"]),
    ("Emotion_&_Mood_Honest_Imaginative",
     lambda f, m: 0.5 * f["rubato"] + 0.3 * f["velocity_range"] + 0.2 * f["tempo_drift"]),
    ("Interpretation_Unsatisfactory/doubtful_Convincing",
     lambda f, m: 1 - (0.5 * f["wrong_notes"] + 0.3 * f["timing_jitter"]
                       + 0.2 * abs(2 * f["tempo"] - 1))),
)


def latent(p: PerformanceParams, minor: bool) -> np.ndarray:
    """The 19 noise-free perceptual values in [0, 1] of a performance (PercePiano order)."""
    f = features(p)
    return np.clip(np.array([fn(f, float(minor)) for _, fn in FORMULAS]), 0.0, 1.0)


def rater_biases(seed: int) -> np.ndarray:
    """(RATERS, 19) fixed biases of the rater pool."""
    return np.random.default_rng([seed, 7919]).normal(0.0, RATER_BIAS, (RATERS, len(FORMULAS)))


def rate(value: np.ndarray, biases: np.ndarray, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray]:
    """Simulated 7-point ratings of latent `value` (19,) by `RATERS_PER_CLIP` raters.

    Returns (mean rating / 7, std of rating / 7), both (19,), as PercePiano computes its labels.
    """
    who = rng.choice(len(biases), size=RATERS_PER_CLIP, replace=False)
    noisy = value[None, :] + biases[who] + rng.normal(0.0, RATER_NOISE, (len(who), len(value)))
    scores = np.clip(np.round(1 + 6 * noisy), 1, 7)
    return scores.mean(axis=0) / 7.0, (scores / 7.0).std(axis=0)


@dataclass(frozen=True)
class Profile:
    """A synthetic performer: mean parameters and how much they vary from clip to clip."""

    mean: PerformanceParams
    spread: float = 0.08
    """Per-clip standard deviation of each parameter, as a fraction of its `RANGES` width."""

    def sample(self, rng: np.random.Generator) -> PerformanceParams:
        values = asdict(self.mean)
        for k, (lo, hi) in RANGES.items():
            values[k] = float(np.clip(values[k] + rng.normal(0, self.spread * (hi - lo)), lo, hi))
        return PerformanceParams(**values)


def sample_profile(rng: np.random.Generator) -> Profile:
    """A performer whose habits are drawn from the middle 80% of every range."""
    values = {f.name: f.default for f in fields(PerformanceParams)}
    for k, (lo, hi) in RANGES.items():
        values[k] = float(rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)))
    return Profile(PerformanceParams(**values), spread=float(rng.uniform(0.04, 0.12)))


SCORE_PARAMS = PerformanceParams(
    tempo=1.0, tempo_drift=0.0, rubato=0.0, timing_jitter=0.0, chord_spread=0.0,
    articulation=0.95, velocity_mean=64.0, velocity_range=0.0, phrase_arc=0.0, voice_balance=0.0,
    velocity_noise=0.0, pedal=0.0, pedal_clean=1.0, brightness=0.0, wrong_notes=0.0)
"""The deadpan rendering of the score (PercePiano's "Score" player)."""
