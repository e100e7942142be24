"""Held-out performers and excerpts never leak into training; CV pools out-of-fold clips once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianox.api import Example
from pianox.errors import DataError
from pianox.sources.percepiano_folds import assign_splits, excerpt_of, parse_key
from pianox_perception.cv import aggregate
from pianox_perception.dimensions import DEFAULT_GROUPS, resolve_groups
from pianox_perception.report import write_predictions
from pianox_perception.splits import check_disjoint, check_source, work_overlap

PLAYERS = ["Score"] + [str(i) for i in range(1, 13)]
KEYS = [f"Work{w}_4bars_{p}_{s}" for w in range(3) for s in (1, 2) for p in PLAYERS]


def _examples(assignment: dict[str, str], segments: int = 2) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for key, split in assignment.items():
        parts = parse_key(key)
        for s in range(segments):
            out[split].append(Example(key=f"{key}@{s * 2.56:.3f}", targets={"piece": excerpt_of(key)},
                                      meta={"player": parts["player"], "work": parts["piece"]}))
    return out


@pytest.mark.parametrize("split_by", ["performer", "piece", "random"])
@pytest.mark.parametrize("fold", [0, 1, 3])
def test_percepiano_folds_are_disjoint(split_by, fold):
    assignment = assign_splits(KEYS, split_by, fold, num_folds=4, test_performers=2, performers_per_fold=2)
    counts = check_disjoint(_examples(assignment), split_by)
    assert sum(counts.values()) == {"performer": 13, "piece": 6, "random": len(KEYS)}[split_by]


def test_a_shared_performer_or_excerpt_is_reported():
    assignment = assign_splits(KEYS, "performer", 0, num_folds=4, test_performers=2, performers_per_fold=2)
    leaky = dict(assignment)
    moved = next(k for k, s in assignment.items() if s == "test")
    leaky[moved] = "train"  # one clip of a test performer lands in training
    with pytest.raises(DataError, match=r"leakage: 1 performer\(s\) are in both train and test"):
        check_disjoint(_examples(leaky), "performer")
    pieces = assign_splits(KEYS, "piece", 0, num_folds=4)
    moved = next(k for k, s in pieces.items() if s == "validation")
    pieces[moved] = "train"
    with pytest.raises(DataError, match="excerpt"):
        check_disjoint(_examples(pieces), "piece")


def test_check_source_on_a_real_reader(corpus):
    from pianox.sources.percepiano import PercePianoSource

    source = PercePianoSource(PercePianoSource.Config(root=str(corpus), split_by="piece", num_folds=2))
    got = check_source(source)
    assert got["split_by"] == "piece" and sum(got["units"].values()) == 8
    assert got["work_overlap"]["test_clips"] == len(source.examples("test"))
    overlap = work_overlap([Example(key="a_4bars_1_1", meta={"work": "a"})],
                           [Example(key="a_4bars_2_2", meta={"work": "a"}), Example(key="b_4bars_2_1", meta={"work": "b"})])
    assert overlap == {"test_clips": 2, "from_training_works": 1}


def _fold_run(root, clips, rng, test_clips):
    target = rng.uniform(0, 1, (len(clips), 19))
    write_predictions(root / "predictions" / "validation.json", "validation", clips,
                      target + rng.normal(0, 0.1, target.shape), target)
    t_target = np.tile(np.linspace(0.1, 0.9, len(test_clips))[:, None], (1, 19))
    write_predictions(root / "predictions" / "test.json", "test", test_clips,
                      t_target + rng.normal(0, 0.1, t_target.shape), t_target)


def test_cv_aggregation_pools_out_of_fold_clips_and_refuses_overlaps(tmp_path):
    rng = np.random.default_rng(0)
    groups = resolve_groups(DEFAULT_GROUPS)
    test = [f"t{i}" for i in range(8)]
    runs = []
    for k in range(3):
        root = tmp_path / f"fold{k}"
        _fold_run(root, [f"f{k}c{i}" for i in range(10)], rng, test)
        runs.append((k, root))
    result = aggregate(runs, tmp_path / "cv", groups, n_boot=100)
    assert result["clips_oof"] == 30 and len(result["folds"]) == 3
    assert result["oof"]["mean"]["pearson"] > 0.8 and result["test_ensemble"]["clips"] == 8
    assert set(result["validation_over_folds"]["pearson"]) == {"mean", "sd"}
    saved = json.loads((tmp_path / "cv" / "predictions" / "oof.json").read_text())
    assert len(saved["clips"]) == 30
    assert (tmp_path / "cv" / "plots" / "cv_oof.png").stat().st_size > 0
    assert "pooled validation folds (optimistic" in (tmp_path / "cv" / "cv_results.md").read_text()
    _fold_run(tmp_path / "fold9", ["f0c3", "new"], rng, test)  # f0c3 was validated by fold 0
    with pytest.raises(DataError, match="f0c3.*folds 0 and 9"):
        aggregate(runs + [(9, tmp_path / "fold9")], tmp_path / "cv2", groups, n_boot=10)


def test_performers_are_identified_as_percepiano_folds_identify_them():
    def ex(key):
        return [Example(key=key, targets={"piece": excerpt_of(key)})]

    # Beethoven WoO80's player 3 is fold id 2 (its index among the WoO80 players), not player 3
    apart = {"train": ex("Schubert_D935_no.3_4bars_3_1"), "test": ex("Beethoven_WoO80_var1_8bars_3_2")}
    assert check_disjoint(apart, "performer") == {"train": 1, "test": 1}
    same = {"train": ex("Schubert_D935_no.3_4bars_2_1"), "test": ex("Beethoven_WoO80_var1_8bars_3_2")}
    with pytest.raises(DataError, match="performer"):
        check_disjoint(same, "performer")
