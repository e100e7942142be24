"""The 19 PercePiano dimensions, their categories, and how they are grouped into heads.

Each dimension name is `Category_Low_High`; the eight categories are PercePiano's (Timing,
Articulation, Pedal, Timbre, Dynamic, Music Making, Emotion & Mood, Interpretation). A grouping
maps group names to categories or single dimension names and must cover the 19 dimensions
exactly once. The default follows the seed grouping ({timing}, {dynamics, articulation},
{music making, emotion, interpretation}) with pedal and timbre placed by the label correlations
on the PercePiano twin (docs/perception.md, `pianox perception correlations`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from pianox.sources.percepiano import DIMENSIONS

CATEGORIES: tuple[str, ...] = ("Timing", "Articulation", "Pedal", "Timbre", "Dynamic",
                               "Music_Making", "Emotion_&_Mood", "Interpretation")
"""PercePiano's eight categories, in label order; a dimension's name starts with `<category>_`."""

SEED_GROUPS: dict[str, tuple[str, ...]] = {
    "timing": ("Timing",),
    "dynamics": ("Dynamic", "Articulation"),
    "musicality": ("Music_Making", "Emotion_&_Mood", "Interpretation"),
}
"""The fixed part of the grouping; Pedal and Timbre join one of these by label correlation."""

DEFAULT_GROUPS: dict[str, list[str]] = {
    "timing": ["Timing"],
    "dynamics": ["Dynamic", "Articulation", "Timbre"],
    "musicality": ["Music_Making", "Emotion_&_Mood", "Interpretation", "Pedal"],
}
"""The default heads: the seed groups with Timbre and Pedal placed where the twin's label
correlations put them (see docs/perception.md for the measured matrix)."""

AUDIBLE: tuple[str, ...] = (
    "Timing_Stable_Unstable",
    "Articulation_Short_Long",
    "Articulation_Soft_cushioned_Hard_solid",
    "Pedal_Sparse/dry_Saturated/wet",
    "Pedal_Clean_Blurred",
    "Timbre_Soft_Loud",
    "Dynamic_Sophisticated/mellow_Raw/crude",
    "Dynamic_Little_dynamic_range_Large_dynamic_range",
    "Music_Making_Fast_paced_Slow_paced",
)
"""Dimensions whose twin labels are functions of audible performance parameters only (timing,
articulation, dynamics, pedal, tempo; docs/percepiano_twin.md), the set the twin target uses."""


def category_of(dimension: str) -> str:
    """The PercePiano category of a dimension name (ValueError for an unknown name)."""
    for category in CATEGORIES:
        if dimension.startswith(category + "_"):
            return category
    raise ValueError(f"{dimension!r} is not a PercePiano dimension")


def resolve_groups(groups: Mapping[str, Sequence[str]]) -> list[tuple[str, list[int]]]:
    """Group name -> indices into `DIMENSIONS` (label order), in the mapping's order.

    Each entry of a group is a category (all its dimensions) or one dimension name. ValueError
    when an entry is unknown, a dimension lands in two groups, or one is left out.
    """
    owner: dict[int, str] = {}
    out: list[tuple[str, list[int]]] = []
    for name, entries in groups.items():
        if not entries:
            raise ValueError(f"group {name!r} is empty")
        indices: list[int] = []
        for entry in entries:
            if entry in CATEGORIES:
                found = [i for i, d in enumerate(DIMENSIONS) if category_of(d) == entry]
            elif entry in DIMENSIONS:
                found = [DIMENSIONS.index(entry)]
            else:
                raise ValueError(f"group {name!r}: {entry!r} is neither a category "
                                 f"({', '.join(CATEGORIES)}) nor a dimension name")
            for i in found:
                if i in owner:
                    raise ValueError(f"dimension {DIMENSIONS[i]!r} is in groups {owner[i]!r} "
                                     f"and {name!r}")
                owner[i] = name
            indices.extend(found)
        out.append((name, sorted(indices)))
    missing = [DIMENSIONS[i] for i in range(len(DIMENSIONS)) if i not in owner]
    if missing:
        raise ValueError(f"dimensions in no group: {', '.join(missing)}")
    return out


def audible_indices() -> list[int]:
    """Indices of `AUDIBLE` in `DIMENSIONS`."""
    return [DIMENSIONS.index(d) for d in AUDIBLE]


__all__ = ["AUDIBLE", "CATEGORIES", "DEFAULT_GROUPS", "DIMENSIONS", "SEED_GROUPS",
           "audible_indices", "category_of", "resolve_groups"]
