"""E-GMD v1 reader: drum recordings (Roland TD-17 kits) with aligned MIDI, official splits.

Reads `e-gmd-v1.0.0.csv` under `root` (columns drummer, session, id, style, bpm, beat_type,
time_signature, duration, split, midi_filename, audio_filename, kit_name). Each performance
appears once per kit it was rendered on; all of them share the performance's split. Examples
are fixed-length spans; targets (from the MIDI, read lazily):

    hits  (N, 3) float64  onset s relative to the span start, class index, MIDI velocity,
                          pitches folded by `class_map` (see `pianox.sources.drum_maps`)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import numpy as np

from .drum_maps import class_names, pitch_to_class
from .manifest import Problems, read_csv_rows
from .paired import PairedConfig, PairedSource, Recording, parse_float
from .segments import events_in_span

CSV_NAME = "e-gmd-v1.0.0.csv"
COLUMNS = ("drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "duration",
           "split", "midi_filename", "audio_filename", "kit_name")
HINT = ("Render a synthetic twin with `pianox data synth egmd --out DIR` (or use "
        "kind = \"egmd_twin\"), or download E-GMD v1.0.0 from "
        "https://magenta.tensorflow.org/datasets/e-gmd")


@functools.lru_cache(maxsize=64)
def _hits(midi_path: str, class_map: str) -> np.ndarray:
    from ..midi import read_drum_hits

    return read_drum_hits(midi_path, pitch_to_class(class_map))


def span_targets(midi_path: str, start: float, duration: float, class_map: str = "8-hit"
                 ) -> dict[str, np.ndarray]:
    """Drum hits of `midi_path` inside a span (see module doc for the layout)."""
    return {"hits": events_in_span(_hits(midi_path, class_map), start, duration)}


class EGMDSource(PairedSource):
    """E-GMD (or its synthetic twin): drum audio spans with per-class hit targets."""

    name = "egmd"
    HINT = HINT

    @dataclass
    class Config(PairedConfig):
        class_map: Literal["8-hit", "3-hit"] = "8-hit"
        """Pitch folding: "8-hit" or "3-hit" (Magenta's E-GMD maps)."""
        kits: list[str] = field(default_factory=list)
        """Only these kit_name values (empty = every kit)."""

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.class_names = class_names(self.config.class_map)  # validates the map name early

    @classmethod
    def read_index(cls, root: Path) -> tuple[list[Recording], Problems]:
        path = root / CSV_NAME
        rows = read_csv_rows(path, COLUMNS)
        problems = Problems(cls.name)
        recs = []
        for i, row in enumerate(rows, start=2):  # line numbers: the header is line 1
            audio, midi = row["audio_filename"] or "", row["midi_filename"] or ""
            key = str(Path(audio).with_suffix("")) if audio else f"{CSV_NAME} line {i}"
            if row["split"] not in cls.OFFICIAL_SPLITS:
                problems.add(key, f"{CSV_NAME} line {i}: split {row['split']!r} is not one of "
                                  f"{', '.join(cls.OFFICIAL_SPLITS)}")
                continue
            duration = parse_float(row["duration"], f"{CSV_NAME} line {i}: duration", problems, key)
            if duration is None:
                continue
            if not audio or not midi:
                problems.add(key, f"{CSV_NAME} line {i}: empty audio_filename or midi_filename")
                continue
            meta = {c: row[c] for c in ("drummer", "session", "id", "style", "beat_type",
                                        "time_signature", "kit_name")}
            meta["bpm"] = _number(row["bpm"])
            recs.append(Recording(key=key, split=row["split"], audio=root / audio,
                                  midi=root / midi, duration=duration, meta=meta))
        return recs, problems

    def keep(self, rec: Recording) -> bool:
        return not self.config.kits or rec.meta.get("kit_name") in self.config.kits

    def targets_loader(self) -> Callable[[str, float, float], Mapping[str, Any]]:
        return functools.partial(span_targets, class_map=self.config.class_map)

    def example_meta(self) -> dict[str, Any]:
        return {"class_map": self.config.class_map, "classes": self.class_names}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
