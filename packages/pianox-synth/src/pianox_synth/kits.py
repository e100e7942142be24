"""Drum kits of the E-GMD twin: a General MIDI drum-kit preset plus gain and tone.

E-GMD renders every performance on many Roland TD-17 kits; the twin does the same with the GM
kits of the SoundFont (program numbers of bank 128) and gain / spectral-tilt variations of
them, so kit timbre varies while the hits stay identical. A SoundFont that lacks a kit falls
back to its standard kit (see `render.render_midi`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kit:
    name: str
    """The kit_name written to the index."""
    program: int
    """GM drum-kit preset: 0 Standard, 8 Room, 16 Power, 24 Electronic, 25 TR-808, 32 Jazz,
    40 Brush."""
    gain_db: float = 0.0
    tilt: float = 0.0
    """Spectral tilt, -1 dark .. +1 bright (see `tone.tilt`)."""


KITS: tuple[Kit, ...] = (
    Kit("Standard", 0),
    Kit("Room", 8, gain_db=-1.0, tilt=-0.2),
    Kit("Power", 16, gain_db=1.0, tilt=0.3),
    Kit("Jazz", 32, gain_db=-2.0, tilt=-0.4),
    Kit("Electronic", 24, gain_db=-1.0),
    Kit("Brush", 40, gain_db=2.0, tilt=-0.3),
    Kit("TR-808", 25, gain_db=-3.0, tilt=0.2),
    Kit("Standard Dark", 0, gain_db=-2.0, tilt=-0.8),
    Kit("Standard Bright", 0, gain_db=0.0, tilt=0.8),
)
