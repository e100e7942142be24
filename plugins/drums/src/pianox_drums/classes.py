"""Drum classes of a class map and how each is written out: GM pitch and Clone Hero lane.

The class maps themselves ("8-hit", "3-hit") are the E-GMD source's (`pianox.sources.drum_maps`);
this module adds, per class name, the General MIDI pitch a transcription is written with and
the Clone Hero pro-drums lane (kick 0, red 1, yellow 2, blue 3, green 4) with the cymbal flag
(66 yellow, 67 blue, 68 green) that marks a lane note as a cymbal.
"""

from __future__ import annotations

from dataclasses import dataclass

from pianox.sources.drum_maps import HIT_MAPS, canonical_pitches, class_names

OUTPUT_PITCH: dict[str, int] = {
    "kick": 36, "snare": 38, "toms": 48, "hihat": 42, "ride": 51, "ride_bell": 53, "crash": 49,
    "clave": 75,
}
"""GM pitch written for a class (closed hi-hat rather than the map's first pitch, open hi-hat)."""

CHART_LANE: dict[str, tuple[int, int | None]] = {
    "kick": (0, None),
    "snare": (1, None),
    "toms": (3, None),        # one tom class: the blue (mid) tom
    "hihat": (2, 66),         # yellow cymbal
    "ride": (3, 67),          # blue cymbal
    "ride_bell": (3, 67),
    "crash": (4, 68),         # green cymbal
    "clave": (2, None),       # no percussion lane in pro drums: the yellow pad
}
"""Class name -> (Clone Hero drum lane, cymbal flag note or None)."""


@dataclass(frozen=True)
class DrumClasses:
    """The classes of one class map, in class-index order, with their output mappings."""

    class_map: str
    names: tuple[str, ...]
    pitches: tuple[int, ...]
    lanes: tuple[tuple[int, int | None], ...]

    @property
    def count(self) -> int:
        return len(self.names)


def drum_classes(class_map: str = "8-hit") -> DrumClasses:
    """The `DrumClasses` of a map name ("8-hit" or "3-hit"); unknown names are ConfigErrors."""
    names = class_names(class_map)
    canonical = canonical_pitches(class_map)
    pitches = tuple(OUTPUT_PITCH.get(n, p) for n, p in zip(names, canonical, strict=True))
    lanes = tuple(CHART_LANE.get(n, (2, None)) for n in names)
    return DrumClasses(class_map, names, pitches, lanes)


CLASS_MAPS = tuple(HIT_MAPS)
