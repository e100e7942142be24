"""PercePiano cross-validation splits: by performer, by piece, or at random.

Follows the PercePiano repository (virtuoso/pyScoreParser/m2pf_dataset_{performer,composition}
fold.py):

- performer: each key's performer gets a fold id (`performer_fold_id`: "Score" -> 0,
  "Score2" -> -1, Beethoven WoO80 players through their index in the list of the twelve who
  played it, other players their number). Ids 0 and -1 always train. Of the other ids in
  ascending order, the first `test_performers` are the test set; fold f validates on the next
  `performers_per_fold` ids after skipping f blocks; the rest train. With the defaults (2, 2,
  4 folds) that is PercePiano's test = {1, 2}, validation = {2f + 3, 2f + 4}.
- piece: keys are grouped by the excerpt they play (the key without its performer:
  `{piece}_{N}bars_{segment}`). Whole groups (of more than one performance) are drawn at random
  into the test set until it holds `test_fraction` of the keys; the remaining groups are dealt
  round-robin into `num_folds` folds. No excerpt is ever in two splits.
- random: keys shuffled; the first `test_fraction` are test, the rest dealt into folds.

The draws use `random.Random(seed)` over sorted keys, so a split is a pure function of the
label keys and the config (PercePiano's own draw depended on directory order).
"""

from __future__ import annotations

import math
import random
import re
from typing import Iterable

from ..errors import ConfigError, DataError

KEY_PATTERN = re.compile(r"^(?P<piece>.+)_(?P<bars>\d+)bars_(?P<player>[^_]+)_(?P<segment>\d+)$")
"""PercePiano segment keys: `{piece}_{N}bars_{player}_{segment}`, e.g.
`Schubert_D935_no.3_4bars_12_33` (player "12", segment 33) or `..._8bars_Score_10`."""

BEETHOVEN_PERFORMER_IDS = (1, 2, 3, 4, 7, 11, 14, 18, 19, 22, 24, 26)
"""Players of Beethoven WoO80 in PercePiano; their fold id is their index in this list."""

SPLIT_BY = ("performer", "piece", "random")


def parse_key(key: str) -> dict[str, str] | None:
    """The parts of a PercePiano key (piece, bars, player, segment), or None if malformed."""
    m = KEY_PATTERN.match(key)
    return m.groupdict() if m else None


def excerpt_of(key: str) -> str:
    """The excerpt a key plays, i.e. the key without its performer: `{piece}_{N}bars_{segment}`."""
    p = parse_key(key)
    if p is None:
        raise DataError(f"malformed PercePiano key {key!r}")
    return f"{p['piece']}_{p['bars']}bars_{p['segment']}"


def performer_fold_id(key: str) -> int:
    """PercePiano's performer fold id of a key (see module doc); DataError if it has none."""
    p = parse_key(key)
    if p is None:
        raise DataError(f"malformed PercePiano key {key!r}")
    player = p["player"]
    if player == "Score":
        return 0
    if player == "Score2":
        return -1
    if not player.isdigit():
        raise DataError(f"PercePiano key {key!r}: player {player!r} is neither a number nor "
                        f"Score/Score2")
    if p["piece"].startswith("Beethoven_WoO80") and int(player) in BEETHOVEN_PERFORMER_IDS:
        return BEETHOVEN_PERFORMER_IDS.index(int(player))
    return int(player)


def fold_error(split_by: str, fold: int, num_folds: int, test_fraction: float) -> str | None:
    """What is wrong with these split settings, or None."""
    if split_by not in SPLIT_BY:
        return f"split_by = {split_by!r}: expected one of {', '.join(SPLIT_BY)}"
    if num_folds < 2:
        return f"num_folds = {num_folds}: must be >= 2 (one fold validates, the others train)"
    if not 0 <= fold < num_folds:
        return f"fold = {fold}: must be in 0..{num_folds - 1}"
    if not 0.0 <= test_fraction < 1.0:
        return f"test_fraction = {test_fraction}: must be in [0, 1)"
    return None


def assign_splits(keys: Iterable[str], split_by: str = "piece", fold: int = 0,
                  num_folds: int = 4, test_fraction: float = 0.15, test_performers: int = 2,
                  performers_per_fold: int = 2, seed: int = 42) -> dict[str, str]:
    """Key -> "train" / "validation" / "test" for one fold (see module doc)."""
    error = fold_error(split_by, fold, num_folds, test_fraction)
    if error:
        raise ConfigError(f"[source] {error}")
    keys = sorted(set(keys))
    rng = random.Random(seed)
    out: dict[str, str] = {}
    if split_by == "performer":
        ids = {k: performer_fold_id(k) for k in keys}
        ranked = sorted({i for i in ids.values() if i > 0})
        need = test_performers + performers_per_fold * num_folds
        if len(ranked) < need:
            raise DataError(f"performer split with {num_folds} folds needs {need} performers "
                            f"besides Score/Score2, the labels have {len(ranked)}")
        test = set(ranked[:test_performers])
        lo = test_performers + fold * performers_per_fold
        valid = set(ranked[lo: lo + performers_per_fold])
        for k, i in ids.items():
            out[k] = "test" if i in test else "validation" if i in valid else "train"
        return out
    if split_by == "piece":
        groups: dict[str, list[str]] = {}
        for k in keys:
            groups.setdefault(excerpt_of(k), []).append(k)
        order = sorted(groups)
        rng.shuffle(order)
        target = test_fraction * len(keys)
        test_groups, rest, n_test = set(), [], 0
        for g in order:
            if n_test < target and len(groups[g]) > 1:
                test_groups.add(g)
                n_test += len(groups[g])
            else:
                rest.append(g)
        for g in test_groups:
            out.update({k: "test" for k in groups[g]})
        for i, g in enumerate(rest):
            out.update({k: "validation" if i % num_folds == fold else "train" for k in groups[g]})
        return out
    order = list(keys)
    rng.shuffle(order)
    n_test = math.ceil(test_fraction * len(order))
    for i, k in enumerate(order):
        if i < n_test:
            out[k] = "test"
        else:
            out[k] = "validation" if (i - n_test) % num_folds == fold else "train"
    return out
