"""The MAESTRO, E-GMD and PercePiano readers on hand-made corpora in the real formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pianox import registry
from pianox.audio import load_example
from pianox.errors import DataError
from pianox.sources.egmd import EGMDSource
from pianox.sources.maestro import MaestroSource
from pianox.sources.segments import LazyTargets, spans

from .conftest import FIXTURES

TRAIN = "2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1"


def test_spans_cover_the_file():
    assert spans(25.0, 10.0) == [(0.0, 10.0), (10.0, 10.0), (20.0, 10.0)]
    assert spans(20.0, 10.0) == [(0.0, 10.0), (10.0, 10.0)]
    assert spans(25.0, 10.0, 5.0)[-1] == (15.0, 10.0)
    assert spans(4.0, 10.0) == [(0.0, 10.0)]
    assert spans(4.0, 0.0) == [(0.0, 4.0)]
    assert spans(0.0, 10.0) == []


@pytest.mark.parametrize("index", ["maestro-v3.0.0.csv", "maestro-v3.0.0.json"])
def test_maestro_reads_csv_and_column_json(corpus_copy, index):
    root = corpus_copy("maestro")
    other = {"maestro-v3.0.0.csv": "maestro-v3.0.0.json",
             "maestro-v3.0.0.json": "maestro-v3.0.0.csv"}[index]
    (root / other).unlink()
    src = MaestroSource(MaestroSource.Config(root=str(root), segment_seconds=0.5))
    train = src.examples("train")
    assert [e.key for e in train] == [f"{TRAIN}@0.000", f"{TRAIN}@0.500"]
    assert {e.meta["composer"] for e in train} == {"Franz Schubert"}
    assert train[0].meta["year"] == 2018 and train[0].meta["split"] == "train"
    assert [len(src.examples(s)) for s in ("validation", "test")] == [2, 2]


def test_maestro_targets_are_span_relative_with_sustain():
    src = MaestroSource(MaestroSource.Config(root=str(FIXTURES / "maestro"), segment_seconds=0.5))
    first, second = src.examples("train")
    assert isinstance(first.targets, LazyTargets) and "not loaded" in repr(first.targets)
    # notes (0.10-0.40, 60), (0.50-0.70, 64), (0.50-0.90, 67); pedal 0.45-0.80 extends 64 to 0.80
    np.testing.assert_allclose(first.targets["notes"], [[0.10, 0.40, 60, 80]], atol=2e-3)
    np.testing.assert_allclose(second.targets["notes"],
                               [[0.00, 0.30, 64, 70], [0.00, 0.40, 67, 60]], atol=2e-3)
    np.testing.assert_allclose(first.targets["pedal"], [[0.45, 0.50]], atol=2e-3)
    np.testing.assert_allclose(second.targets["pedal"], [[0.00, 0.30]], atol=2e-3)
    raw = MaestroSource(MaestroSource.Config(root=str(FIXTURES / "maestro"), segment_seconds=0.5,
                                             sustain=False)).examples("train")[1]
    np.testing.assert_allclose(raw.targets["notes"][:, 1], [0.20, 0.40], atol=2e-3)


def test_maestro_examples_pickle_without_their_arrays_and_load_audio():
    ex = MaestroSource(MaestroSource.Config(root=str(FIXTURES / "maestro"))).examples("test")[0]
    assert ex.duration == 10.0 and ex.meta["sample_rate"] == 16000
    again = pickle.loads(pickle.dumps(ex))
    np.testing.assert_array_equal(again.targets["notes"], ex.targets["notes"])
    y = load_example(ex)  # 1 s of audio padded to the 10 s segment, at 16 kHz
    assert y.shape == (160000,) and np.abs(y[:16000]).max() > 0.05 and not y[16001:].any()


def test_maestro_options_splits_max_files_targets():
    cfg = MaestroSource.Config(root=str(FIXTURES / "maestro"), segment_seconds=0,
                               splits={"train": ["train", "validation"], "validation": [],
                                       "test": ["test"]}, targets=False)
    src = MaestroSource(cfg)
    train = src.examples("train")
    assert len(train) == 2 and all(e.duration == 1.0 and e.targets == {} for e in train)
    assert src.examples("validation") == []
    limited = MaestroSource(MaestroSource.Config(root=str(FIXTURES / "maestro"), segment_seconds=0,
                                                 splits={"train": ["train", "test"]}, max_files=1))
    assert len(limited.examples("train")) == 1
    with pytest.raises(DataError, match="unknown split 'dev'"):
        src.examples("dev")
    with pytest.raises(DataError, match=r"splits.train names unknown split\(s\) 'holdout'"):
        MaestroSource(MaestroSource.Config(root=str(FIXTURES / "maestro"),
                                           splits={"train": ["holdout"]})).examples("train")


def test_missing_root_says_how_to_get_the_corpus(tmp_path):
    for cls, synth in [(MaestroSource, "maestro"), (EGMDSource, "egmd")]:
        with pytest.raises(DataError) as err:
            cls(cls.Config(root=str(tmp_path / "absent"))).examples("train")
        msg = str(err.value)
        assert str(tmp_path / "absent") in msg and f"pianox data synth {synth} --out DIR" in msg
    with pytest.raises(DataError, match="magenta.tensorflow.org/datasets/maestro"):
        MaestroSource().examples("train")


def test_bad_recordings_fail_or_are_skipped_with_a_count(corpus_copy):
    root = corpus_copy("maestro")
    (root / f"{TRAIN}.wav").unlink()
    (root / "2004").joinpath(
        "MIDI-Unprocessed_XP_14_R1_2004_01-03_ORIG_MID--AUDIO_14_R1_2004_03_Track03_wav.midi"
    ).write_bytes(b"garbage")
    src = MaestroSource(MaestroSource.Config(root=str(root), splits={"train": ["train", "test"]}))
    with pytest.raises(DataError, match=r"2 bad recordings:(.|\n)*not found(.|\n)*no MThd"):
        src.examples("train")
    skip = MaestroSource(MaestroSource.Config(root=str(root), skip_bad=True,
                                              splits={"train": ["train", "test"]}))
    with pytest.warns(UserWarning, match="skipped 2 bad recordings"):
        assert skip.examples("train") == []


def test_maestro_index_problems_name_the_file_and_row(corpus_copy):
    root = corpus_copy("maestro")
    (root / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename\n")
    with pytest.raises(DataError, match=r"maestro-v3.0.0.csv: missing column\(s\) duration"):
        MaestroSource(MaestroSource.Config(root=str(root))).examples("train")
    (root / "maestro-v3.0.0.csv").unlink()
    (root / "maestro-v3.0.0.json").write_text('{"split": {"0": "train"}')
    with pytest.raises(DataError, match=r"maestro-v3.0.0.json: invalid json at line 1 column"):
        MaestroSource(MaestroSource.Config(root=str(root))).examples("train")


def test_egmd_hits_classes_and_kits():
    src = EGMDSource(EGMDSource.Config(root=str(FIXTURES / "egmd"), segment_seconds=0.5))
    test = src.examples("test")
    assert len(test) == 4  # two kits x two spans
    assert {e.meta["kit_name"] for e in test} == {"Acoustic Kit", "Jazz Kit"}
    first = test[0]
    assert first.meta["classes"][0] == "kick" and first.meta["bpm"] == 138.0
    # hits (t, pitch): .10 kick, .10 hh, .32 hh, .54 snare+hh, .76 ride
    np.testing.assert_allclose(first.targets["hits"][:, 0], [0.10, 0.10, 0.32], atol=2e-3)
    assert first.targets["hits"][:, 1].tolist() == [0, 3, 3]
    np.testing.assert_allclose(test[1].targets["hits"][:, :2], [[0.04, 1], [0.04, 3], [0.26, 4]],
                               atol=2e-3)
    three = EGMDSource(EGMDSource.Config(root=str(FIXTURES / "egmd"), class_map="3-hit",
                                         kits=["Jazz Kit"], segment_seconds=0))
    (only,) = three.examples("test")
    assert only.meta["kit_name"] == "Jazz Kit"
    assert only.targets["hits"][:, 1].tolist() == [0, 1, 1, 1, 2, 1]  # ties sorted by class
    train = EGMDSource(EGMDSource.Config(root=str(FIXTURES / "egmd"), segment_seconds=0))
    assert train.examples("train")[0].targets["hits"][:, 1].tolist() == [2, 2, 2, 0, 6]


def test_registry_loads_the_readers():
    assert registry.load("source", "maestro") is MaestroSource
    assert registry.load("source", "egmd") is EGMDSource


def test_lazy_targets_load_once():
    calls = []

    def loader():
        calls.append(1)
        return {"a": np.ones(2)}

    t = LazyTargets(loader)
    assert len(t) == 1 and list(t) == ["a"] and t["a"].sum() == 2
    assert len(calls) == 1 and "loaded" in repr(t)


def test_egmd_bad_split_value_names_the_line(corpus_copy):
    root = corpus_copy("egmd")
    text = (root / "e-gmd-v1.0.0.csv").read_text().replace(",test,", ",dev,")
    (root / "e-gmd-v1.0.0.csv").write_text(text)
    with pytest.raises(DataError, match=r"e-gmd-v1.0.0.csv line 2: split 'dev'"):
        EGMDSource(EGMDSource.Config(root=str(root))).examples("train")
