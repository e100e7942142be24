"""Synthetic twins: rendered corpora read by the real readers, audio aligned with the MIDI,
labels following the documented model, deterministic bytes, atomic output, twin sources."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import pytest

import pianox_synth
from pianox import cli_data, registry
from pianox.audio import read_audio
from pianox.errors import ConfigError, DataError
from pianox.midi import read_drum_hits, read_notes
from pianox.sources.drum_maps import pitch_to_class
from pianox.sources.egmd import EGMDSource
from pianox.sources.maestro import MaestroSource
from pianox.sources.percepiano import DIMENSIONS, LABEL_FILE, PercePianoSource
from pianox.sources.percepiano_folds import excerpt_of
from pianox_synth import cli as synth_cli
from pianox_synth.corpus import STAMP

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """One small corpus of each twin, rendered once for this module."""
    base = tmp_path_factory.mktemp("twins")
    return {
        "maestro": pianox_synth.synthesize("maestro", base / "maestro", minutes=0.3, seed=0),
        "egmd": pianox_synth.synthesize("egmd", base / "egmd", minutes=0.3, seed=0),
        "percepiano": pianox_synth.synthesize("percepiano", base / "percepiano", minutes=0.2,
                                              seed=0, performers=2),
    }


def _clusters(times: np.ndarray, gap: float = 0.05) -> np.ndarray:
    times = np.unique(np.round(times, 4))
    out = [times[0]]
    for t in times[1:]:
        if t - out[-1] > gap:
            out.append(t)
    return np.array(out)


def _level_db(y: np.ndarray) -> float:
    """90th percentile of 25 ms frame RMS at 16 kHz, in dB: a clip's playing level."""
    frames = y[: len(y) // 400 * 400].reshape(-1, 400)
    return float(20 * np.log10(np.percentile(np.sqrt(np.mean(frames ** 2, axis=1)), 90)))


def _alignment(recordings, onsets_of, shift: float = 0.0) -> tuple[float, float, float]:
    """(precision, recall, median error s) of librosa onset peaks against MIDI onsets."""
    hits = refs = ests = 0
    errors = []
    for rec in recordings:
        y, sr = read_audio(rec.audio)
        ref = _clusters(onsets_of(rec.midi)) + shift
        env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=80, n_fft=512)
        est = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=80, units="time")
        matched = mir_eval.util.match_events(ref, est, 0.03)
        hits, refs, ests = hits + len(matched), refs + len(ref), ests + len(est)
        errors += [est[j] - ref[i] for i, j in matched]
    return hits / max(ests, 1), hits / max(refs, 1), float(np.median(np.abs(errors))) if errors else 1.0


def test_maestro_twin_is_read_by_the_maestro_reader(twins):
    root = twins["maestro"]
    src = MaestroSource(MaestroSource.Config(root=str(root), segment_seconds=2.0))
    titles = {s: {e.meta["title"] for e in src.examples(s)} for s in SPLITS}
    assert all(titles.values()), titles
    assert not (titles["train"] & titles["test"] or titles["train"] & titles["validation"]
                or titles["validation"] & titles["test"])  # no piece crosses splits
    csv_rows = MaestroSource.read_index(root)[0]
    (root / "maestro-v3.0.0.csv").rename(root / "hidden.csv")
    try:
        json_rows = MaestroSource.read_index(root)[0]
    finally:
        (root / "hidden.csv").rename(root / "maestro-v3.0.0.csv")
    assert csv_rows == json_rows
    ex = src.examples("train")[0]
    assert ex.targets["notes"].shape[1] == 4 and len(ex.targets["notes"]) > 0
    assert json.loads((root / STAMP).read_text())["twin"] == "maestro"


def test_maestro_twin_audio_onsets_match_the_midi(twins):
    src = MaestroSource(MaestroSource.Config(root=str(twins["maestro"])))
    recs = [r for s in SPLITS for r in src.recordings(s)]
    onsets = lambda path: read_notes(path)[:, 0]  # noqa: E731
    precision, recall, error = _alignment(recs, onsets)
    assert precision > 0.9 and recall > 0.75 and error < 0.02, (precision, recall, error)
    late, _, _ = _alignment(recs, onsets, shift=0.06)  # a 60 ms misalignment is caught
    assert late < 0.2


def test_egmd_twin_audio_hits_match_the_midi(twins):
    src = EGMDSource(EGMDSource.Config(root=str(twins["egmd"]), segment_seconds=0))
    recs = [r for s in SPLITS for r in src.recordings(s)]
    assert {r.split for r in recs} == set(SPLITS)
    for ident in {r.meta["id"] for r in recs}:  # every kit of a performance shares its split
        assert len({r.split for r in recs if r.meta["id"] == ident}) == 1
    assert len({r.meta["kit_name"] for r in recs}) >= 2
    hits = lambda path: read_drum_hits(path, pitch_to_class("8-hit"))[:, 0]  # noqa: E731
    precision, recall, error = _alignment(recs, hits)
    assert precision > 0.9 and recall > 0.85 and error < 0.02, (precision, recall, error)
    ex = src.examples("train")[0]
    assert ex.targets["hits"].shape[1] == 3 and set(ex.targets["hits"][:, 1]) <= set(range(8))


def test_percepiano_twin_labels_follow_the_model_and_the_audio(twins):
    root = twins["percepiano"]
    labels = json.loads((root / LABEL_FILE).read_text())
    truth = json.loads((root / "twin-params.json").read_text())
    assert set(labels) == set(truth) and len(labels) == 18  # 6 excerpts x (Score + 2 performers)
    values = np.array([v[:19] for v in labels.values()])
    assert values.min() >= 1 / 7 - 1e-9 and values.max() <= 1.0
    assert sorted({v[19] for v in labels.values()}) == [0, 1, 2]
    latent = np.array([truth[k]["latent"] for k in labels])
    assert np.corrcoef(values.ravel(), latent.ravel())[0, 1] > 0.9
    # the label is audible: within each excerpt, louder-rated performances measure louder
    loud = DIMENSIONS.index("Timbre_Soft_Loud")
    level = np.array([_level_db(read_audio(root / "audio" / f"{k}.wav")[0]) for k in labels])
    groups = np.array([excerpt_of(k) for k in labels])
    rated = values[:, loud].copy()
    for g in set(groups):
        level[groups == g] -= level[groups == g].mean()
        rated[groups == g] -= rated[groups == g].mean()
    assert np.corrcoef(level, rated)[0, 1] > 0.6
    src = PercePianoSource(PercePianoSource.Config(root=str(root), split_by="piece"))
    seen = [e for s in SPLITS for e in src.examples(s)]
    assert len(seen) == 18 and {e.targets["performer"] for e in seen} == {0, 1, 2}


def test_same_seed_same_bytes_and_atomic_failure(tmp_path, monkeypatch):
    a = pianox_synth.synthesize("maestro", tmp_path / "a", minutes=0.1, seed=5)
    b = pianox_synth.synthesize("maestro", tmp_path / "b", minutes=0.1, seed=5)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) >= 8
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    c = pianox_synth.synthesize("maestro", tmp_path / "c", minutes=0.1, seed=6)
    assert (a / "maestro-v3.0.0.csv").read_bytes() != (c / "maestro-v3.0.0.csv").read_bytes()

    import pianox_synth.maestro_twin as twin

    calls = []

    def failing(job):
        calls.append(job)
        if len(calls) == 2:
            raise RuntimeError("renderer crashed")
        return original(job)

    original = twin._render
    monkeypatch.setattr(twin, "_render", failing)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        pianox_synth.synthesize("maestro", tmp_path / "d", minutes=0.1, seed=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no partial corpus


def test_parallel_rendering_gives_the_same_bytes(tmp_path):
    one = pianox_synth.synthesize("egmd", tmp_path / "one", minutes=0.15, seed=2, jobs=1)
    two = pianox_synth.synthesize("egmd", tmp_path / "two", minutes=0.15, seed=2, jobs=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)


def test_twin_sources_render_once_into_their_cache(tmp_path, monkeypatch):
    cls = registry.load("source", "maestro_twin")
    cfg = cls.Config(cache_dir=str(tmp_path / "cache"), minutes=0.1, segment_seconds=5.0)
    src = cls(cfg)
    assert src.config == cfg  # the config is not rewritten
    train = src.examples("train")
    assert train and (tmp_path / "cache" / STAMP).is_file()
    monkeypatch.setattr(pianox_synth, "synthesize", lambda *a, **k: pytest.fail("re-rendered"))
    assert [e.key for e in cls(cfg).examples("train")] == [e.key for e in train]
    with pytest.raises(ConfigError, match="leave root empty"):
        cls(cls.Config(root="/data/maestro"))


def test_twin_default_location_is_keyed_by_render_parameters():
    cls = registry.load("source", "egmd_twin")
    a = cls(cls.Config(minutes=0.1)).location()
    assert a.parent == Path(os.environ["XDG_CACHE_HOME"]) / "pianox"
    assert a.name.startswith("egmd_twin-")
    assert cls(cls.Config(minutes=0.2)).location() != a
    assert cls(cls.Config(minutes=0.1, sample_rate=22050)).location() != a
    assert cls(cls.Config(minutes=0.1, segment_seconds=3.0)).location() == a  # reading only
    examples = cls(cls.Config(minutes=0.1, segment_seconds=0)).examples("test")
    assert examples and all(e.audio_path.is_relative_to(a) for e in examples)


def test_maestro_twin_program_changes_the_timbre_not_the_performance(tmp_path):
    a = pianox_synth.synthesize("maestro", tmp_path / "a", minutes=0.1, seed=5)
    b = pianox_synth.synthesize("maestro", tmp_path / "b", minutes=0.1, seed=5, program=2)
    rows_a, rows_b = MaestroSource.read_index(a)[0], MaestroSource.read_index(b)[0]
    assert [r.midi.name for r in rows_a] == [r.midi.name for r in rows_b]
    for ra, rb in zip(rows_a, rows_b):
        assert np.array_equal(read_notes(ra.midi), read_notes(rb.midi))
        ya, yb = read_audio(ra.audio)[0], read_audio(rb.audio)[0]
        n = min(len(ya), len(yb))
        assert abs(len(ya) - len(yb)) < 16000 * 3  # same notes; release tails may differ
        assert abs(np.corrcoef(ya[:n], yb[:n])[0, 1]) < 0.9  # another instrument's waveform
    cls = registry.load("source", "maestro_twin")
    default = cls(cls.Config(minutes=0.1)).location()
    assert cls(cls.Config(minutes=0.1, program=0)).location() == default
    assert cls(cls.Config(minutes=0.1, program=2)).location() != default
    with pytest.raises(ValueError, match="program = 200"):
        cls.Config(program=200).validate()


def _cli(argv):
    parser = argparse.ArgumentParser(prog="pianox")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_data.register(sub)
    synth_cli.register(sub)  # `pianox data synth` comes from pianox-synth's entry point
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "drums"
    assert _cli(["data", "synth", "egmd", "--out", str(out), "--minutes", "0.1", "--seed", "4",
                 "--sample-rate", "8000"]) == 0
    assert "wrote the egmd twin" in capsys.readouterr().out
    rows = EGMDSource.read_index(out)[0]
    assert rows and read_audio(rows[0].audio)[1] == 8000
    with pytest.raises(DataError, match="already exists and is not empty"):
        _cli(["data", "synth", "egmd", "--out", str(out), "--quiet"])
    with pytest.raises(ConfigError, match="--performers only applies"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--performers", "3"])
    with pytest.raises(ConfigError, match="SoundFont not found"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--soundfont",
              str(tmp_path / "none.sf2")])
    with pytest.raises(ConfigError, match="--program only applies to the maestro twin"):
        _cli(["data", "synth", "egmd", "--out", str(tmp_path / "m"), "--program", "2"])
    with pytest.raises(ConfigError, match="--program 130 is not a General MIDI program"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--program", "130"])
    with pytest.raises(ConfigError, match="--minutes must be positive"):
        _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--minutes", "0"])
    assert not (tmp_path / "m").exists()
