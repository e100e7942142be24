"""pianox_synth building blocks: renderer timing and pedal, performance knobs, grooves, tone,
and the PercePiano twin's rating model."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from pianox.midi import notes_to_midi
from pianox.sources.percepiano import DIMENSIONS
from pianox_synth.grooves import CRASH, KICK, TOM_FLOOR, Drummer, groove, hits_to_midi
from pianox_synth.perception_model import FORMULAS, SCORE_PARAMS, latent, rate, rater_biases
from pianox_synth.perform import LEAD_IN, PerformanceParams, perform
from pianox_synth.render import default_soundfont, render_midi
from pianox_synth.scores import CATALOGUE, load_score
from pianox_synth.tone import tilt

SR = 16000


def _rms_db(y: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20))


def test_notes_start_on_their_exact_sample():
    for start in (0.5, 0.73125, 1.0):
        y = render_midi(notes_to_midi(np.array([[start, start + 0.3, 60, 100]])), SR)
        assert np.flatnonzero(np.abs(y) > 1e-6)[0] == round(start * SR)


def test_sustain_pedal_keeps_released_notes_sounding():
    notes = np.array([[0.1, 0.3, 48, 100]])
    dry = render_midi(notes_to_midi(notes), SR, tail_seconds=1.0)
    wet = render_midi(notes_to_midi(notes, pedal=np.array([[0.05, 1.0]])), SR, tail_seconds=0.5)
    window = slice(int(0.6 * SR), int(0.9 * SR))  # 0.3-0.6 s after the key release
    assert _rms_db(wet[window]) > _rms_db(dry[window]) + 20
    # the output ends tail_seconds after the last release: 0.3 s dry, 1.0 s under the pedal
    assert (len(dry), len(wet)) == (round(1.3 * SR) + 1, round(1.5 * SR) + 1)


def test_drums_render_on_the_drum_channel_with_the_kit_program(tmp_path):
    hits = np.array([[0.1, KICK, 110], [0.4, 38, 100]])
    standard = render_midi(hits_to_midi(hits, kit_program=0), SR)
    brush = render_midi(hits_to_midi(hits, kit_program=40), SR)
    piano = render_midi(notes_to_midi(np.array([[0.1, 0.2, KICK, 110], [0.4, 0.5, 38, 100]])), SR)
    assert _rms_db(standard) > -60 and not np.allclose(standard[: len(brush)], brush[: len(standard)])
    assert not np.allclose(standard[:4000], piano[:4000])
    copy = tmp_path / "my kit.sf2"
    shutil.copy(default_soundfont(), copy)
    np.testing.assert_array_equal(render_midi(hits_to_midi(hits), SR, soundfont=copy), standard)


def test_tilt_moves_the_high_band_by_the_asked_gain():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(SR).astype(np.float32)
    spec = lambda y: np.abs(np.fft.rfft(y)) ** 2  # noqa: E731
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    hi, lo = freqs > 5000, freqs < 150

    def gain(amount, band):
        return 10 * np.log10(spec(tilt(noise, SR, amount))[band].sum() / spec(noise)[band].sum())

    assert 4.0 < gain(1.0, hi) < 5.5 and -4.5 < gain(-1.0, hi) < -3.0
    assert abs(gain(1.0, lo)) < 0.5 and abs(gain(-1.0, lo)) < 0.5
    assert np.array_equal(tilt(noise, SR, 0.0), noise)


@pytest.fixture(scope="module")
def chorale():
    return load_score(next(w for w in CATALOGUE if w.slug == "Bach_BWV104.6"))


def test_performance_knobs(chorale):
    rng = lambda: np.random.default_rng(1)  # noqa: E731
    base = PerformanceParams(tempo_drift=0.0, rubato=0.0, timing_jitter=0.0, chord_spread=0.0,
                             velocity_noise=0.0, wrong_notes=0.0)
    plain = perform(chorale, base, rng(), 0, 4)
    fast = perform(chorale, dataclasses.replace(base, tempo=2.0), rng(), 0, 4)
    span = lambda p: p.notes[:, 0].max() - LEAD_IN  # noqa: E731
    assert span(fast) == pytest.approx(span(plain) / 2, rel=1e-6)
    assert plain.notes[:, 0].min() == pytest.approx(LEAD_IN)
    keep = (chorale.onset < chorale.measure_starts[4])
    assert sorted(plain.notes[:, 2]) == sorted(chorale.pitch[keep])
    short = perform(chorale, dataclasses.replace(base, articulation=0.5), rng(), 0, 4)
    np.testing.assert_allclose(short.notes[:, 1] - short.notes[:, 0],
                               np.maximum((plain.notes[:, 1] - plain.notes[:, 0]) * 0.5 / 0.9, 0.04),
                               rtol=1e-6)
    assert len(perform(chorale, dataclasses.replace(base, pedal=0.0), rng(), 0, 4).pedal) == 0
    full = perform(chorale, dataclasses.replace(base, pedal=1.0, pedal_clean=1.0), rng(), 0, 4)
    assert len(full.pedal) == 8  # every half bar of 4 bars, changed cleanly
    blurred = perform(chorale, dataclasses.replace(base, pedal=1.0, pedal_clean=0.0), rng(), 0, 4)
    assert len(blurred.pedal) == 1  # never released: one long interval
    balanced = perform(chorale, dataclasses.replace(base, voice_balance=12.0, velocity_range=0.0,
                                                    phrase_arc=0.0), rng(), 0, 4)
    onsets, vel = balanced.notes[:, 0], balanced.notes[:, 3]
    tops = [vel[onsets == t][np.argmax(balanced.notes[onsets == t, 2])] for t in np.unique(onsets)]
    assert set(tops) == {76.0} and set(vel) == {76.0, 60.0}  # 64 + 12, 64 - 12 / 3


def test_grooves_follow_tempo_and_fill(chorale):
    rng = np.random.default_rng(3)
    steady = Drummer(timing_jitter=0.0, swing=0.0, fill_every=0)
    hits = groove("rock", "4-4", 120.0, 2, steady, rng)
    kicks = hits[hits[:, 1] == KICK, 0]
    assert kicks[0] == pytest.approx(0.2) and np.all(np.diff(hits[:, 0]) >= 0)
    assert np.allclose(np.diff(hits[hits[:, 1] == 38, 0]), 1.0)  # snare on 2 and 4 at 120 bpm
    fill = groove("rock", "4-4", 120.0, 2, steady, np.random.default_rng(3), fill_bar=True)
    assert TOM_FLOOR in fill[:, 1] and fill[fill[:, 1] == TOM_FLOOR, 0].min() > 2.2 + 0.2 - 1e-9
    assert CRASH not in hits[hits[:, 0] > 0.3, 1]


def test_rating_model_matches_percepiano_dimensions():
    assert tuple(name for name, _ in FORMULAS) == DIMENSIONS
    base = PerformanceParams()
    louder = dataclasses.replace(base, velocity_mean=95.0)
    wet = dataclasses.replace(base, pedal=0.95, pedal_clean=0.1)
    bright = dataclasses.replace(base, brightness=0.9)
    d = {n: i for i, n in enumerate(DIMENSIONS)}
    assert latent(louder, False)[d["Timbre_Soft_Loud"]] > latent(base, False)[d["Timbre_Soft_Loud"]]
    assert latent(wet, False)[d["Pedal_Clean_Blurred"]] > latent(base, False)[d["Pedal_Clean_Blurred"]] + 0.3
    assert latent(bright, False)[d["Timbre_Bright_Dark"]] < latent(base, False)[d["Timbre_Bright_Dark"]]
    dark = d["Emotion_&_Mood_Optimistic/pleasant_Dark"]
    assert latent(base, True)[dark] == pytest.approx(latent(base, False)[dark] + 0.4)
    flat = latent(SCORE_PARAMS, False)
    assert flat[d["Timing_Stable_Unstable"]] == 0.0 and flat[d["Pedal_Sparse/dry_Saturated/wet"]] == 0.0
    mean, std = rate(flat, rater_biases(0), np.random.default_rng(0))
    assert mean.shape == std.shape == (19,) and mean.min() >= 1 / 7 and mean.max() <= 1
    again, _ = rate(flat, rater_biases(0), np.random.default_rng(0))
    assert np.array_equal(mean, again)
    many = np.mean([rate(latent(base, False), rater_biases(1), np.random.default_rng(s))[0]
                    for s in range(200)], axis=0)
    expected = (1 + 6 * latent(base, False)) / 7  # raters are unbiased on average
    assert np.max(np.abs(many - expected)) < 0.06
