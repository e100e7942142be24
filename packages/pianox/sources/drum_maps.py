"""Drum pitch -> class maps for E-GMD / Groove (Roland TD-17 note numbers, General MIDI names).

The maps are those of Magenta's E-GMD transcription work (`drum_mappings.HIT_MAPS`): each class
lists the MIDI pitches folded into it, the first being its canonical pitch. "8-hit" separates
kick, snare, toms, hi-hat, ride, ride bell / cowbell, crashes and clave; "3-hit" folds everything
into kick, hi-hat (with cymbals) and snare (with toms), in Magenta's order.
"""

from __future__ import annotations

from typing import Mapping

from ..errors import ConfigError

HIT_MAPS: Mapping[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "8-hit": (
        ("kick", (36,)),
        ("snare", (38, 40, 37, 39)),                 # head, rim, cross-stick, hand clap
        ("toms", (48, 50, 45, 47, 43, 58, 64)),       # toms 1-3 head/rim, low conga
        ("hihat", (46, 26, 42, 22, 44, 54, 70)),      # open/closed, pedal, tambourine, maracas
        ("ride", (51, 59)),                           # bow, edge
        ("ride_bell", (53, 56)),                      # ride bell, cowbell
        ("crash", (49, 55, 57, 52)),                  # crash 1/2 bow/edge
        ("clave", (75,)),
    ),
    "3-hit": (
        ("kick", (36,)),
        ("hihat", (42, 22, 44, 46, 26, 49, 52, 55, 56, 57, 51, 53, 59, 54, 70)),
        ("snare", (38, 37, 40, 48, 50, 45, 47, 43, 58, 39, 64, 75)),
    ),
}
"""Map name -> ((class name, pitches), ...), classes in index order."""


def _hit_map(name: str):
    if name not in HIT_MAPS:
        raise ConfigError(f"unknown drum class map {name!r}; known: {', '.join(HIT_MAPS)}")
    return HIT_MAPS[name]


def class_names(name: str = "8-hit") -> tuple[str, ...]:
    """Class names of the map `name`, in class-index order."""
    return tuple(c for c, _ in _hit_map(name))


def pitch_to_class(name: str = "8-hit") -> dict[int, int]:
    """MIDI pitch -> class index for the map `name` (pitches outside the map are absent)."""
    return {p: i for i, (_, pitches) in enumerate(_hit_map(name)) for p in pitches}


def canonical_pitches(name: str = "8-hit") -> tuple[int, ...]:
    """The representative MIDI pitch of each class (to write transcriptions back to MIDI)."""
    return tuple(pitches[0] for _, pitches in _hit_map(name))
