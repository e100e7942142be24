"""The piano corpus (`pianox data synth piano`): études across the keyboard, tuned rendering,
acoustics that keep labels exact, MAESTRO layout read by the real reader, splits from the work
hash, sample-disjointness in the stamp, determinism, atomicity, refusals and clear errors."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pianox_synth
from pianox import cli_data
from pianox.errors import ConfigError, DataError
from pianox.holdout import ReservedError, is_reserved_work, work_split
from pianox.midi import notes_to_midi, read_notes, read_pedal
from pianox.sources.check import check_corpus
from pianox.sources.maestro import MaestroSource
from pianox_synth import acoustics, piano_corpus, render
from pianox_synth import cli as synth_cli
from pianox_synth.corpus import STAMP
from pianox_synth.etudes import (HIGHEST, LOWEST, MAX_POLYPHONY, TEXTURES, etude, etude_id)
from pianox_synth.perform import PerformanceParams, _harmony_changes, perform
from pianox_synth.scores import CATALOGUE, Work, load_score
from pianox_synth.soundfont import timbre_record

SR = 16000
SPLITS = ("train", "validation", "test")
DEBIAN = {"musescore": Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
          "csound": Path("/usr/share/sounds/sf2/sf_GMbank.sf2")}


def _polyphony(notes: np.ndarray) -> np.ndarray:
    """Keys down just after each onset."""
    return np.array([np.count_nonzero((notes[:, 0] <= t) & (notes[:, 1] > t))
                     for t in np.unique(notes[:, 0])])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny corpus (about 1.5 minutes, TimGM6mb only, with acoustics), rendered once."""
    out = tmp_path_factory.mktemp("piano") / "corpus"
    return pianox_synth.synthesize("piano", out, minutes=1.5, seed=3, jobs=1)


# --- études --------------------------------------------------------------------------------

def test_etudes_cover_the_keyboard_polyphony_speed_and_dynamics():
    batch = [etude(i) for i in range(40)]
    notes = np.concatenate([e.notes for e in batch])
    assert set(notes[:, 2].astype(int)) == set(range(LOWEST, HIGHEST + 1))  # A0..C8, every key
    poly = np.concatenate([_polyphony(e.notes) for e in batch])
    assert poly.min() == 1 and poly.max() == MAX_POLYPHONY
    assert set(range(1, MAX_POLYPHONY + 1)) <= set(poly)
    assert notes[:, 3].min() <= 15 and notes[:, 3].max() == 127 and notes[:, 3].min() >= 10
    same_key = [np.diff(np.sort(e.notes[e.notes[:, 2] == p, 0]))
                for e in batch for p in np.unique(e.notes[:, 2])]
    gaps = np.concatenate(same_key)
    assert np.percentile(gaps, 1) < 0.075 and gaps.min() > 0.03  # repeated notes near 60 ms
    assert np.all(notes[:, 1] > notes[:, 0])
    textures = {s["texture"] for e in batch for s in e.meta["sections"]}
    assert textures == set(TEXTURES)
    pedalled = [e for e in batch if len(e.pedal)]
    assert len(pedalled) > 30 and max(np.max(e.pedal[:, 1] - e.pedal[:, 0]) for e in batch) > 4.0
    length = [e.notes[:, 1] - e.notes[:, 0] for e in batch]
    assert np.percentile(np.concatenate(length), 5) < 0.06  # staccato ...
    assert np.percentile(np.concatenate(length), 95) > 0.4  # ... to held notes


def test_etudes_are_a_function_of_their_index_and_split_by_work_hash():
    a, b = etude(7), etude(7)
    assert np.array_equal(a.notes, b.notes) and np.array_equal(a.pedal, b.pedal)
    assert not np.array_equal(etude(8).notes[:20], a.notes[:20])
    assert a.meta["work"] == etude_id(7) == "etude/00007"
    splits = [work_split(etude_id(i)) for i in range(200)]
    assert set(splits) == set(SPLITS) and 0.7 < splits.count("train") / 200 < 0.9
    # no key is struck again while it is still down: the MIDI holds exactly these notes
    for p in np.unique(a.notes[:, 2]):
        keyed = a.notes[a.notes[:, 2] == p]
        assert np.all(keyed[1:, 0] >= keyed[:-1, 1])


# --- performance model ---------------------------------------------------------------------

def test_performance_model_dynamics_and_harmony_pedalling():
    chorale = load_score(next(w for w in CATALOGUE if w.slug == "Bach_BWV104.6"))
    base = PerformanceParams(velocity_noise=0.0, phrase_arc=0.0, voice_balance=0.0,
                             velocity_range=0.0, pedal=1.0, pedal_clean=1.0)
    flat = perform(chorale, base, np.random.default_rng(0), 0, 8)
    assert np.ptp(flat.notes[:, 3]) == 0  # unmarked, no knobs: one velocity
    wander = perform(chorale, dataclasses.replace(base, dynamic_wander=15.0),
                     np.random.default_rng(0), 0, 8)
    assert np.ptp(wander.notes[:, 3]) > 15  # unmarked scores still get a dynamic spread
    high = perform(chorale, dataclasses.replace(base, high_loud=8.0), np.random.default_rng(0), 0, 8)
    assert np.corrcoef(high.notes[:, 2], high.notes[:, 3])[0, 1] > 0.95
    harmonic = perform(chorale, dataclasses.replace(base, pedal_harmony=True),
                       np.random.default_rng(0), 0, 8)
    ms = chorale.measure_starts
    keep = chorale.onset < ms[8]
    changes = _harmony_changes(chorale.onset[keep], chorale.pitch[keep], ms[:9])
    assert len(harmonic.pedal) == len(changes) - 1 != len(flat.pedal)  # one press per harmony
    gaps = harmonic.pedal[1:, 0] - harmonic.pedal[:-1, 1]
    assert np.all(gaps > 0) and np.all(gaps < 0.2)  # legato pedalling: up, then down again


# --- rendering and acoustics ---------------------------------------------------------------

def _pitch_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), 1 << 18))
    return float(np.argmax(spec) * SR / (1 << 18))


def test_tuning_moves_pitch_by_cents_not_time():
    midi = notes_to_midi(np.array([[0.5, 1.5, 69, 100]]))
    plain = render.render_midi(midi, SR)
    sharp = render.render_midi(midi, SR, tuning_cents=np.full(128, 30.0))
    onset = round(0.5 * SR)
    for y in (plain, sharp):  # silent before the onset sample, sounding within 10 ms of it
        assert np.abs(y[:onset]).max() == 0 and np.abs(y[onset:onset + 160]).max() > 1e-3
    window = slice(int(0.6 * SR), int(1.4 * SR))
    cents = 1200 * np.log2(_pitch_hz(sharp[window]) / _pitch_hz(plain[window]))
    assert 25 < cents < 35
    assert np.array_equal(render.render_midi(midi, SR), plain)  # a reused synthesizer is reset
    stretch = acoustics.tuning_cents(acoustics.Acoustics(stretch_cents=20.0))
    assert stretch[21] == pytest.approx(-20, abs=1) and stretch[108] == pytest.approx(20, abs=1)
    assert acoustics.tuning_cents(acoustics.DRY) is None


def test_acoustics_keep_onsets_and_set_level_and_noise():
    y = np.zeros(SR, np.float32)
    y[4000] = 0.5
    a = acoustics.sample_acoustics(np.random.default_rng(5))
    assert a.wet > 0 and a.noise_snr_db > 0
    out = acoustics.apply(y, SR, a, np.random.default_rng(0))
    assert len(out) == SR + round(a.tail_seconds * SR)
    assert int(np.argmax(np.abs(out))) == 4000  # the direct sound stays on its sample
    assert 20 * np.log10(np.abs(out).max()) == pytest.approx(a.peak_dbfs, abs=0.01)
    assert np.abs(out[:3990]).max() > 0  # noise floor before the click
    again = acoustics.apply(y, SR, a, np.random.default_rng(0))
    assert np.array_equal(out, again)


# --- the corpus ----------------------------------------------------------------------------

def test_corpus_is_read_by_the_maestro_reader_with_splits_from_the_work_hash(corpus):
    assert check_corpus("maestro", corpus, full=True) == []
    recs, problems = MaestroSource.read_index(corpus)
    assert not len(problems) and {r.split for r in recs} == set(SPLITS)
    facts = json.loads((corpus / piano_corpus.INDEX).read_text())
    for rec in recs:
        fact = facts[f"{rec.key}.flac"]
        assert rec.audio.suffix == ".flac" and rec.split == work_split(fact["work"])
        assert not is_reserved_work(fact["work"])
        assert len(read_notes(rec.midi)) == fact["notes"] > 0
    assert {f["kind"] for f in facts.values()} == {"work", "etude"}
    src = MaestroSource(MaestroSource.Config(root=str(corpus), segment_seconds=2.0))
    example = src.examples("train")[0]
    assert example.targets["notes"].shape[1] == 4
    stamp = json.loads((corpus / STAMP).read_text())
    assert stamp["twin"] == "piano" and stamp["params"]["soundfonts"] == ["TimGM6mb.sf2"]
    assert len(stamp["timbres"]["TimGM6mb.sf2"]["samples"]) == 9


def test_corpus_audio_onsets_match_the_midi_through_the_room(corpus):
    from .test_twins import _alignment

    recs = MaestroSource.read_index(corpus)[0]
    facts = json.loads((corpus / piano_corpus.INDEX).read_text())
    works = [r for r in recs if facts[f"{r.key}.flac"]["kind"] == "work"]
    onsets = lambda path: read_notes(path)[:, 0]  # noqa: E731
    precision, _, error = _alignment(recs, onsets)
    assert precision > 0.9 and error < 0.02, (precision, error)
    # études' 60 ms trills and repeated notes are beyond librosa's detector: recall on works
    assert _alignment(works, onsets)[1] > 0.9
    late, _, _ = _alignment(recs, onsets, shift=0.06)  # a 60 ms misalignment is caught
    assert late < 0.3


def test_maestro_reader_reports_the_timbres_of_a_rendered_corpus(corpus, corpus_copy):
    from pianox.holdout import timbre_report

    rendered = MaestroSource(MaestroSource.Config(root=str(corpus)))
    assert [t["soundfont"] for t in rendered.timbres("test")] == ["TimGM6mb.sf2"]
    recorded = MaestroSource(MaestroSource.Config(root=str(corpus_copy("maestro"))))
    assert recorded.timbres("test") == []  # real MAESTRO: nothing to compare, no claim
    assert timbre_report(rendered, recorded, "test") is None
    assert timbre_report(rendered, rendered, "test")["disjoint"] is False


@pytest.mark.slow
def test_several_soundfonts_are_dealt_in_turn_and_their_disjointness_stamped(tmp_path):
    if not all(p.is_file() for p in DEBIAN.values()):
        pytest.skip("needs apt-get install musescore-general-soundfont-small csound-soundfont")
    out = pianox_synth.synthesize("piano", tmp_path / "c", minutes=1.0, seed=0, jobs=1,
                                  soundfonts=["timgm6mb", "musescore", "csound"])
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["soundfonts_disjoint"] is True and len(stamp["sample_overlap"]) == 3
    assert len(stamp["timbres"]["MuseScore_General.sf3"]["samples"]) > 100
    facts = json.loads((out / piano_corpus.INDEX).read_text())
    used = [f["soundfont"] for f in facts.values()]
    assert set(used) == {"TimGM6mb.sf2", "MuseScore_General.sf3", "sf_GMbank.sf2"}
    assert max(used.count(u) for u in set(used)) - min(used.count(u) for u in set(used)) <= 1


def test_corpus_labels_are_the_rendered_performance(corpus):
    """The MIDI written holds exactly the planned notes and pedal (times on the MIDI grid)."""
    plan = piano_corpus.plan(1.5 / 60, 3, [str(render.default_soundfont())])
    item = next(i for i in plan if i["kind"] == "work")
    perf = piano_corpus.performance_of(item)
    midi = corpus / f"{item['stem']}.midi"
    order = lambda n: n[np.lexsort((n[:, 3], n[:, 2], n[:, 1], n[:, 0]))]  # noqa: E731
    np.testing.assert_allclose(order(read_notes(midi)), order(perf.notes), atol=1e-9)
    np.testing.assert_allclose(read_pedal(midi), perf.pedal, atol=1e-9)


def test_same_seed_same_bytes_whatever_jobs(corpus, tmp_path):
    again = pianox_synth.synthesize("piano", tmp_path / "again", minutes=1.5, seed=3, jobs=2)
    files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (corpus / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_crash_leaves_nothing_and_stale_stages_are_removed(tmp_path, monkeypatch):
    calls = []

    def boom(item):
        calls.append(item["stem"])
        if len(calls) == 2:
            raise RuntimeError("renderer died")
        return real(item)

    real = piano_corpus._render
    monkeypatch.setattr(piano_corpus, "_render", boom)
    with pytest.raises(RuntimeError, match="renderer died"):
        pianox_synth.synthesize("piano", tmp_path / "c", minutes=0.5, seed=1, jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no corpus, no staging folder
    monkeypatch.undo()

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".c.tmp-{dead.pid}-abc"
    live = tmp_path / f".c.tmp-{os.getppid()}-def"  # our parent: alive, older than the folder
    other = tmp_path / f".other.tmp-{dead.pid}-ghi"  # another corpus's staging folder
    for folder in (stale, live, other):
        (folder / "2004").mkdir(parents=True)
    pianox_synth.synthesize("piano", tmp_path / "c", minutes=0.2, seed=1, jobs=1)
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "c" / STAMP).is_file()


def test_reserved_material_is_refused(tmp_path):
    fluid = tmp_path / "FluidR3_GM.sf2"
    fluid.write_bytes(b"RIFF")
    with pytest.raises(ReservedError, match="FluidR3"):
        pianox_synth.synthesize("piano", tmp_path / "c", minutes=0.2, soundfonts=[str(fluid)])
    with pytest.raises(ReservedError):
        render.resolve_soundfont(fluid)
    reserved = Work("Bach_BWV66.6", "J. S. Bach", "Chorale BWV 66.6", "bach/bwv66.6", 72)
    with pytest.raises(ReservedError, match="bwv66.6"):
        piano_corpus.performance_of({"kind": "work", "work": reserved, "params": PerformanceParams(),
                                     "seed": 0, "stem": "x", "first_bar": 0, "num_bars": 2})
    plan = piano_corpus.plan(0.02, 0, ["sf"])
    assert not any(is_reserved_work(i["work_id"]) for i in plan)
    assert not (tmp_path / "c").exists()


def test_sample_disjointness_is_checked():
    tim = str(render.default_soundfont())
    same = piano_corpus.sample_overlap({"grand": timbre_record(tim, 0, 0),
                                        "bright": timbre_record(tim, 0, 1)})
    assert same == [{"a": "bright", "b": "grand", "shared_samples": 9, "disjoint": False}]
    if not DEBIAN["csound"].is_file():
        pytest.skip("csound GM bank not installed (apt-get install csound-soundfont)")
    other = piano_corpus.sample_overlap({"tim": timbre_record(tim, 0, 0),
                                         "csound": timbre_record(DEBIAN["csound"], 0, 0)})
    assert other[0]["shared_samples"] == 0 and other[0]["disjoint"]


def test_missing_soundfont_names_its_debian_package(monkeypatch, tmp_path):
    absent = (str(tmp_path / "MuseScore_General.sf3"),)
    monkeypatch.setitem(render.KNOWN_SOUNDFONTS, "musescore",
                        (absent, "musescore-general-soundfont-small"))
    with pytest.raises(ConfigError, match="apt-get install musescore-general-soundfont-small"):
        render.resolve_soundfont("musescore")
    with pytest.raises(ConfigError, match="apt-get install csound-soundfont"):
        render.resolve_soundfont(tmp_path / "sf_GMbank.sf2")
    with pytest.raises(ConfigError, match="SoundFont not found"):
        render.resolve_soundfont(tmp_path / "mine.sf2")


def _cli(argv):
    parser = argparse.ArgumentParser(prog="pianox")
    sub = parser.add_subparsers(dest="command", required=True)
    synth_cli.register(sub)  # either order: the first creates `data`, the other adds to it
    cli_data.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_the_corpus_and_refuses_bad_output_before_rendering(tmp_path, monkeypatch, capsys):
    out = tmp_path / "piano"
    assert _cli(["data", "synth", "piano", "--out", str(out), "--minutes", "0.3", "--seed", "2",
                 "--no-acoustics", "--etude-share", "0.5", "--quiet"]) == 0
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["params"]["acoustics"] is False and stamp["params"]["etude_share"] == 0.5
    assert _cli(["data", "check", "maestro", str(out)]) == 0

    def no_render(*a, **k):
        raise AssertionError("rendering started")

    monkeypatch.setattr(piano_corpus, "plan", no_render)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for target, message in ((a_file, "is a file"), (a_file / "under", "is a file, not a folder"),
                            (out, "already exists and is not empty")):
        with pytest.raises(DataError, match=message):
            _cli(["data", "synth", "piano", "--out", str(target), "--quiet"])
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(DataError, match="no permission"):
            _cli(["data", "synth", "piano", "--out", str(locked / "c"), "--quiet"])
    with pytest.raises(ConfigError, match="--hours only applies to the piano corpus"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--hours", "1"])
    with pytest.raises(ConfigError, match="only the piano corpus takes several"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--soundfont", "a.sf2",
              "--soundfont", "b.sf2"])
    with pytest.raises(ConfigError, match="--hours must be positive"):
        _cli(["data", "synth", "piano", "--out", str(tmp_path / "m"), "--hours", "0"])
    with pytest.raises(ConfigError, match="splits"):
        _cli(["data", "synth", "piano", "--out", str(tmp_path / "m"), "--splits", "dev"])


def test_data_synth_comes_from_pianox_synth_and_the_core_does_not_import_it(cli):
    core = Path(cli_data.__file__).parent
    imports = re.compile(r"^\s*(from|import)\s+pianox_synth|import_module\(\s*[\"']pianox_synth", re.M)
    assert [p for p in core.rglob("*.py") if imports.search(p.read_text(encoding="utf-8"))] == []
    result = cli("data", "synth", "--help")
    assert result.returncode == 0 and "{maestro,percepiano,egmd,piano}" in result.stdout
    result = cli("data", "--help")
    assert result.returncode == 0 and "check" in result.stdout and "synth" in result.stdout


def test_piano_corpus_source_renders_into_its_cache_on_first_use(tmp_path):
    from pianox import registry

    cls = registry.load("source", "piano_corpus")
    cfg = cls.Config(cache_dir=str(tmp_path / "cache"), hours=0.004, segment_seconds=2.0,
                     render_splits=["test"], etude_share=0.0)
    src = cls(cfg)
    examples = src.examples("test")
    assert examples and not src.examples("train")
    assert [t["soundfont"] for t in src.timbres("test")] == ["TimGM6mb.sf2"]
    default = cls(cls.Config(hours=0.5)).location()
    assert cls(cls.Config(hours=0.5, soundfonts=["timgm6mb"])).location() == default
    assert cls(cls.Config(hours=0.5, acoustics=False)).location() != default
    with pytest.raises(ValueError, match="render_splits"):
        cls.Config(render_splits=["dev"]).validate()


def test_a_split_subset_plays_exactly_that_splits_performances_of_the_whole_corpus():
    """`--splits test` on another SoundFont is a held-out timbre's test set: the same test
    performances (works, bars, performance parameters, études) as the corpus of the same hours
    and seed, nothing else."""
    from pianox_synth.piano_corpus import plan

    fonts = [str(pianox_synth.render.resolve_soundfont(None))]
    whole = plan(0.5, 4, fonts)
    test = plan(0.5, 4, fonts, splits=["test"])

    def key(item):
        return (item["slug"], item["split"], item.get("first_bar"), item.get("num_bars"), repr(item.get("params")))

    assert test and {item["split"] for item in test} == {"test"}
    assert [key(i) for i in test] == [key(i) for i in whole if i["split"] == "test"]
