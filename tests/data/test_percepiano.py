"""The PercePiano reader: label json, key conventions, PercePiano's folds, bad labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianox.errors import ConfigError, DataError
from pianox.schema import Where, build
from pianox.sources.percepiano import DIMENSIONS, LABEL_FILE, PercePianoSource
from pianox.sources.percepiano_folds import (assign_splits, excerpt_of, parse_key,
                                             performer_fold_id)

from .conftest import FIXTURES


def test_dimensions_are_percepianos_19_in_label_order():
    assert len(DIMENSIONS) == 19 and len(set(DIMENSIONS)) == 19
    assert DIMENSIONS[0] == "Timing_Stable_Unstable"
    assert DIMENSIONS[3] == "Pedal_Sparse/dry_Saturated/wet"
    assert DIMENSIONS[8] == "Timbre_Soft_Loud"
    assert DIMENSIONS[-1] == "Interpretation_Unsatisfactory/doubtful_Convincing"


def test_key_conventions():
    assert parse_key("Schubert_D935_no.3_4bars_12_33") == {
        "piece": "Schubert_D935_no.3", "bars": "4", "player": "12", "segment": "33"}
    assert parse_key("Beethoven_WoO80_var15_8bars_Score2_10")["player"] == "Score2"
    assert parse_key("Beethoven_WoO80_var15_bars_1_10") is None
    assert excerpt_of("Beethoven_WoO80_var27_8bars_22_15") == "Beethoven_WoO80_var27_8bars_15"
    ids = [performer_fold_id(k) for k in (
        "Schubert_D935_no.3_4bars_12_25", "Schubert_D935_no.3_4bars_Score_25",
        "Beethoven_WoO80_var27_8bars_1_15", "Beethoven_WoO80_var27_8bars_22_15",
        "Beethoven_WoO80_var15_8bars_Score2_10")]
    assert ids == [12, 0, 0, 9, -1]


def _keys(pieces=("Schubert_D935_no.3_4bars",), players=range(1, 15), segments=(1, 2)):
    players = [str(p) for p in players] + ["Score", "Score2"]
    return [f"{pc}_{pl}_{sg}" for pc in pieces for pl in players for sg in segments]


def test_performer_folds_are_percepianos():
    keys = _keys()
    for fold in range(4):
        split = assign_splits(keys, "performer", fold=fold, num_folds=4)
        by_split = {s: {parse_key(k)["player"] for k in keys if split[k] == s} for s in
                    ("train", "validation", "test")}
        assert by_split["test"] == {"1", "2"}
        assert by_split["validation"] == {str(2 * fold + 3), str(2 * fold + 4)}
        assert {"Score", "Score2"} <= by_split["train"]
    beethoven = _keys(pieces=("Beethoven_WoO80_var3_8bars",),
                      players=(1, 2, 3, 4, 7, 11, 14, 18, 19, 22, 24, 26))
    split = assign_splits(beethoven, "performer", fold=0)
    test = {parse_key(k)["player"] for k in beethoven if split[k] == "test"}
    valid = {parse_key(k)["player"] for k in beethoven if split[k] == "validation"}
    assert test == {"2", "3"} and valid == {"4", "7"}  # ids 1, 2 and 3, 4 through the WoO80 list
    with pytest.raises(DataError, match="needs 10 performers besides Score/Score2, the labels have 5"):
        assign_splits(_keys(players=range(1, 6)), "performer")


@pytest.mark.parametrize("split_by", ["piece", "random"])
def test_piece_and_random_folds_partition_the_keys(split_by):
    keys = _keys(pieces=[f"Work{i}_8bars" for i in range(6)], players=range(1, 4), segments=(1, 2))
    folds = [assign_splits(keys, split_by, fold=f, num_folds=4, seed=3) for f in range(4)]
    tests = {k for k in keys if folds[0][k] == "test"}
    assert all({k for k in keys if f[k] == "test"} == tests for f in folds)  # test fixed
    assert 0.15 * len(keys) <= len(tests) < 0.4 * len(keys)
    valid = [{k for k in keys if f[k] == "validation"} for f in folds]
    assert set().union(*valid) == set(keys) - tests and sum(map(len, valid)) == len(keys) - len(tests)
    if split_by == "piece":  # no excerpt is in two splits of a fold
        for f in folds:
            for group in {excerpt_of(k) for k in keys}:
                assert len({f[k] for k in keys if excerpt_of(k) == group}) == 1
    assert folds[1] == assign_splits(keys, split_by, fold=1, num_folds=4, seed=3)  # deterministic


def test_reader_on_the_fixture():
    cfg = PercePianoSource.Config(root=str(FIXTURES / "percepiano"), split_by="random",
                                  num_folds=2, test_fraction=0.34)
    src = PercePianoSource(cfg)
    splits = {s: src.examples(s) for s in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == 6 and len(splits["test"]) == 3
    labels = json.loads((FIXTURES / "percepiano" / LABEL_FILE).read_text())
    for ex in (e for es in splits.values() for e in es):
        assert ex.targets["ratings"].dtype == np.float32 and ex.targets["ratings"].shape == (19,)
        np.testing.assert_allclose(ex.targets["ratings"], labels[ex.key][:19], rtol=1e-6)
        assert ex.targets["performer"] == labels[ex.key][19]
        assert ex.targets["piece"] == excerpt_of(ex.key) and ex.duration is None
        assert ex.audio_path.name == f"{ex.key}.wav" and ex.meta["file_duration"] == 0.5
    spans = PercePianoSource(PercePianoSource.Config(root=str(FIXTURES / "percepiano"),
                                                     split_by="random", num_folds=2,
                                                     segment_seconds=0.25))
    assert {e.key.split("@")[1] for e in spans.examples("test")} == {"0.000", "0.250"}


def test_config_validation_goes_through_the_schema():
    with pytest.raises(ConfigError, match="fold = 4: must be in 0..3"):
        build(PercePianoSource.Config, {"fold": 4}, Where(file="exp.toml", table="source"))
    with pytest.raises(ConfigError, match="split_by"):
        build(PercePianoSource.Config, {"split_by": "composer"}, Where(file="exp.toml",
                                                                         table="source"))


def _corpus(corpus_copy, labels):
    root = corpus_copy("percepiano")
    (root / LABEL_FILE).write_text(json.dumps(labels) if not isinstance(labels, str) else labels)
    return root


def test_missing_label_file_and_bad_json(corpus_copy):
    root = corpus_copy("percepiano")
    (root / LABEL_FILE).unlink()
    with pytest.raises(DataError, match=r"label file .*label_2round_mean_reg_19_with0_rm_highstd0"
                                        r"\.json not found"):
        PercePianoSource(PercePianoSource.Config(root=str(root))).examples("train")
    (root / LABEL_FILE).write_text('{"Schubert_D935_no.3_4bars_1_25": [0.5, 0.5,]}')
    with pytest.raises(DataError, match=r"invalid json at line 1 column 45"):
        PercePianoSource(PercePianoSource.Config(root=str(root))).examples("train")
    (root / LABEL_FILE).write_text("[1, 2, 3]")
    with pytest.raises(DataError, match="expected a json object"):
        PercePianoSource(PercePianoSource.Config(root=str(root))).examples("train")


def test_bad_label_entries_fail_or_are_skipped(corpus_copy):
    good = json.loads((FIXTURES / "percepiano" / LABEL_FILE).read_text())
    labels = dict(good)
    labels["Schubert_D935_no.3_4bars_1_25"] = good["Schubert_D935_no.3_4bars_1_25"][:18]
    labels["Schubert_D935_no.3_4bars_12_25"] = [1.5] + good["Schubert_D935_no.3_4bars_12_25"][1:]
    labels["Beethoven_WoO80_var27_8bars_1_15"] = good["Beethoven_WoO80_var27_8bars_1_15"][:19] + [0.5]
    labels["not_a_key"] = good["Beethoven_WoO80_var27_8bars_22_15"]
    labels["Beethoven_WoO80_var3_8bars_7_2"] = good["Beethoven_WoO80_var27_8bars_22_15"]  # no audio
    root = _corpus(corpus_copy, labels)
    cfg = dict(root=str(root), split_by="random", num_folds=2)
    with pytest.raises(DataError) as err:
        PercePianoSource(PercePianoSource.Config(**cfg)).examples("train")
    msg = str(err.value)
    assert "5 bad segments" in msg
    for expected in ("expected 20 numbers (19 ratings + performer), got 18",
                     "rating Timing_Stable_Unstable = 1.5 is not in [0, 1]",
                     "performer index 0.5 is not an integer", "key does not match",
                     "audio file not found"):
        assert expected in msg
    with pytest.warns(UserWarning, match="skipped 5 bad segments"):
        src = PercePianoSource(PercePianoSource.Config(skip_bad=True, **cfg))
        keys = {e.key for s in ("train", "validation", "test") for e in src.examples(s)}
    assert keys == {"Schubert_D935_no.3_4bars_Score_25", "Beethoven_WoO80_var27_8bars_22_15",
                    "Beethoven_WoO80_var15_8bars_Score2_10"}
