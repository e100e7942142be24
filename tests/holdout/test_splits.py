"""Splits are fixed per work, the same in every experiment (finding 3 of the evaluation issue:
the maestro twin used to rank works in a seeded order whose length depended on `minutes`, so
the quickstart trained on a work the transcription twin tested on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pianox.config import load_experiment
from pianox.holdout import work_split
from pianox_synth import maestro_twin, percepiano_twin
from pianox_synth.scores import CATALOGUE

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _works_by_split(path: Path) -> dict[str, set[str]] | None:
    """{split: corpus paths} of the piano works an experiment's source plays, resolved from the
    twin's plan (nothing rendered); None for sources without works (drums, real corpora)."""
    src = load_experiment(path).stages["source"]
    cfg = src.config
    if src.kind == "maestro_twin":
        jobs = maestro_twin.plan(cfg.minutes, cfg.seed)
        out: dict[str, set[str]] = {"train": set(), "validation": set(), "test": set()}
        for job in jobs:
            out[job["split"]].add(job["work"].corpus_path)
        return out
    if src.kind == "percepiano_twin":  # split by performer/excerpt within works no piano split trains on
        jobs = percepiano_twin.plan(cfg.minutes, cfg.seed, cfg.performers)
        return {"percepiano": {job["work"].corpus_path for job in jobs}}
    return None


@pytest.fixture(scope="module")
def resolved() -> dict[str, dict[str, set[str]]]:
    out = {}
    for path in sorted(EXPERIMENTS.rglob("*.toml")):
        works = _works_by_split(path)
        if works is not None:
            out[str(path.relative_to(EXPERIMENTS))] = works
    return out


@pytest.mark.slow
def test_no_held_out_work_of_one_experiment_is_a_training_work_of_another(resolved):
    assert {"quickstart.toml", "maestro_twin_transcription.toml", "ssast_twin.toml"} <= set(resolved)
    training = {name: w.get("train", set()) | w.get("percepiano", set()) for name, w in resolved.items()}
    for name, works in resolved.items():
        held = works.get("validation", set()) | works.get("test", set())
        for other, trained in training.items():
            if other != name:
                assert not held & trained, f"{name} holds out {sorted(held & trained)}, which {other} trains on"


@pytest.mark.slow
def test_every_piano_twin_has_every_split_and_splits_follow_the_work_hash(resolved):
    for name, works in resolved.items():
        for split, paths in works.items():
            if split == "percepiano":
                assert paths and all(work_split(p) != "train" for p in paths), name
                continue
            assert all(work_split(p) == split for p in paths), name
        if "train" in works:
            assert works["train"] and works["validation"] and works["test"], name


def test_split_of_a_work_does_not_depend_on_corpus_size_or_seed():
    small = {j["work"].corpus_path: j["split"] for j in maestro_twin.plan(0.3, 0)}
    other = {j["work"].corpus_path: j["split"] for j in maestro_twin.plan(1.5, 7)}
    assert set(small.values()) == {"train", "validation", "test"}
    for path in set(small) & set(other):
        assert small[path] == other[path] == work_split(path)


def test_split_shares_are_about_80_10_10():
    shares = [work_split(w.corpus_path) for w in CATALOGUE]
    assert len(CATALOGUE) >= 300
    for split, expected in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        assert abs(shares.count(split) / len(shares) - expected) < 0.05
