"""Synthetic twins of MAESTRO, PercePiano and E-GMD in their real on-disk formats.

Real scores from music21's bundled corpus (or generated drum grooves) are turned into
performances and rendered through a SoundFont (tinysoundfont; pretty_midi's TimGM6mb.sf2 by
default). `synthesize("maestro" | "percepiano" | "egmd", out, ...)` writes a corpus that the
real readers in `pianox.sources` read unchanged; the `*_twin` sources render one on demand.
`synthesize("piano", out, hours=..., soundfonts=[...])` writes the training corpus of works and
études on several SoundFonts and rooms, in MAESTRO's layout (`pianox_synth.piano_corpus`);
`synthesize("piano", out, reserved=True, soundfont=...)` the evaluation-only corpus of the
reserved works (`pianox_synth.reserved_corpus`), which no training may read.
Importing this package imports neither music21 nor tinysoundfont.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

try:
    __version__ = version("pianox-synth")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0+unknown"

TWINS = ("maestro", "percepiano", "egmd", "piano")
_MODULES = {"maestro": "maestro_twin", "percepiano": "percepiano_twin", "egmd": "egmd_twin",
            "piano": "piano_corpus"}


def synthesize(corpus: str, out: str | os.PathLike, **options: Any) -> Path:
    """Render the twin of `corpus` into the new folder `out` and return it.

    Options (all keyword): minutes (None = the twin's default), sample_rate (Hz), soundfont
    (path or None), seed, jobs (worker processes; 0 = auto), progress (callable(done, total)),
    exist_ok (keep a complete corpus that another process wrote meanwhile); for "piano" see
    `pianox_synth.piano_corpus.synthesize` (hours, soundfonts, acoustics, splits, ...), and with
    reserved=True `pianox_synth.reserved_corpus.synthesize` (soundfont, acoustics, ...).
    """
    from pianox.errors import ConfigError

    if corpus not in TWINS:
        raise ConfigError(f"no synthetic twin for {corpus!r}; available: {', '.join(TWINS)}")
    reserved = options.pop("reserved", False)
    if reserved and corpus != "piano":
        raise ConfigError(f"reserved (evaluation-only) renders are piano corpora, not {corpus}")
    from .corpus import check_output, read_stamp

    if options.get("exist_ok") and read_stamp(Path(out)) is not None:
        return Path(out)  # another process finished it meanwhile
    check_output(out)
    name = "reserved_corpus" if reserved else _MODULES[corpus]
    module = importlib.import_module(f"{__name__}.{name}")
    return module.synthesize(Path(out), **options)
