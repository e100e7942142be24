"""Leakage checks: held-out performers and pieces never appear in training.

PercePiano's folds keep performers (split_by = "performer") or excerpts (split_by = "piece",
the key without its player: `{piece}_{N}bars_{segment}`) apart. `check_disjoint` asserts it
for the examples of a source's splits, and `work_overlap` counts the excerpts of the test
split whose *work* (the composition they are cut from) also has other excerpts in training, a
weaker separation the piece split does not promise.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from pianox.errors import DataError

UNITS = {"performer": "performer", "piece": "excerpt", "random": "clip"}
"""split_by -> the unit that must not be shared between splits."""


def unit_of(example: Any, split_by: str) -> str:
    """The performer, excerpt or clip an example belongs to under `split_by`.

    Performers are identified as PercePiano's folds identify them (`performer_fold_id` of the
    key: Beethoven WoO80's players are numbered apart), falling back to the "performer" target
    for keys outside PercePiano's scheme."""
    from pianox.sources.percepiano_folds import excerpt_of, parse_key, performer_fold_id

    from .predict import clip_of

    key = clip_of(example.key)
    targets = example.targets or {}
    if split_by == "performer":
        if parse_key(key) is not None:
            return str(performer_fold_id(key))
        if "performer" in targets:
            return str(targets["performer"])
    elif split_by == "piece":
        if "piece" in targets:
            return str(targets["piece"])
        if parse_key(key) is not None:
            return excerpt_of(key)
    elif split_by == "random":
        return key
    raise DataError(f"example {example.key!r}: cannot tell its {UNITS.get(split_by, split_by)} "
                    f"for split_by = {split_by!r}")


def check_disjoint(splits: Mapping[str, Sequence[Any]], split_by: str) -> dict[str, int]:
    """Assert that no performer / excerpt / clip (per `split_by`) is in two splits.

    `splits` maps split names to their examples. Returns the unit count per split; raises
    DataError naming the two splits and up to five shared units otherwise."""
    if split_by not in UNITS:
        raise DataError(f"split_by = {split_by!r}: expected one of {', '.join(UNITS)}")
    units = {name: {unit_of(e, split_by) for e in examples} for name, examples in splits.items()}
    names = list(units)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = sorted(units[a] & units[b])
            if shared:
                raise DataError(f"leakage: {len(shared)} {UNITS[split_by]}(s) are in both {a} and {b} "
                                f"(split_by = {split_by!r}): {', '.join(shared[:5])}")
    return {name: len(u) for name, u in units.items()}


def work_overlap(train: Sequence[Any], test: Sequence[Any]) -> dict[str, int]:
    """How many test clips come from a work that also has (other) excerpts in `train`."""
    from .predict import clip_of

    train_works = {e.meta.get("work") for e in train if e.meta}
    clips = {clip_of(e.key): (e.meta or {}).get("work") for e in test}
    shared = sum(1 for w in clips.values() if w is not None and w in train_works)
    return {"test_clips": len(clips), "from_training_works": shared}


def check_source(source: Any) -> dict[str, Any]:
    """Run `check_disjoint` over a PercePiano source's three splits under its own split_by
    (and return the counts plus `work_overlap`); sources without `split_by` are skipped."""
    split_by = getattr(getattr(source, "config", None), "split_by", None)
    if split_by is None:
        return {}
    splits = {s: list(source.examples(s)) for s in ("train", "validation", "test")}
    counts = check_disjoint({k: v for k, v in splits.items() if v}, split_by)
    return {"split_by": split_by, "units": counts, "work_overlap": work_overlap(splits["train"], splits["test"])}
