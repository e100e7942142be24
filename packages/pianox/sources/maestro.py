"""MAESTRO v3 reader: piano recordings with aligned MIDI, official train/validation/test splits.

Reads `maestro-v3.0.0.csv` (or the column-oriented `maestro-v3.0.0.json`) under `root`, with
columns canonical_composer, canonical_title, split, year, midi_filename, audio_filename,
duration. Examples are fixed-length spans; targets (from the MIDI, read lazily):

    notes  (N, 4) float64  onset s, offset s, MIDI pitch, velocity — relative to the span start,
                           offsets extended by the sustain pedal when `sustain` (Onsets and
                           Frames convention); onset < 0 = already sounding at the span start
    pedal  (K, 2) float64  sustain-pedal (CC64 >= 64) down/up, clipped to the span
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..holdout import read_render_stamp, refuse_evaluation_only
from .manifest import Problems, read_column_json, read_csv_rows
from .paired import PairedConfig, PairedSource, Recording, parse_float
from .segments import intervals_in_span, notes_in_span

CSV_NAME = "maestro-v3.0.0.csv"
JSON_NAME = "maestro-v3.0.0.json"
COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename",
           "audio_filename", "duration")
HINT = ("Render a synthetic twin with `pianox data synth maestro --out DIR` (or use "
        "kind = \"maestro_twin\"), or download MAESTRO v3 from "
        "https://magenta.tensorflow.org/datasets/maestro")


@functools.lru_cache(maxsize=32)
def _performance(midi_path: str, sustain: bool) -> tuple[np.ndarray, np.ndarray]:
    from ..midi import load_midi, midi_notes, midi_pedal

    pm = load_midi(midi_path)
    return midi_notes(pm, sustain=sustain), midi_pedal(pm)


def span_targets(midi_path: str, start: float, duration: float, sustain: bool = True
                 ) -> dict[str, np.ndarray]:
    """Notes and pedal of `midi_path` inside a span (see module doc for layouts)."""
    notes, pedal = _performance(midi_path, sustain)
    return {"notes": notes_in_span(notes, start, duration),
            "pedal": intervals_in_span(pedal, start, duration)}


class MaestroSource(PairedSource):
    """MAESTRO v3 (or its synthetic twin): piano audio spans with note and pedal targets."""

    name = "maestro"
    HINT = HINT

    @dataclass
    class Config(PairedConfig):
        sustain: bool = True
        """Extend note offsets while the sustain pedal is down (as MAESTRO's authors train)."""

    @classmethod
    def index_path(cls, root: Path) -> Path:
        """The index file under `root`: the csv when present, else the json."""
        csv_path, json_path = root / CSV_NAME, root / JSON_NAME
        return json_path if json_path.is_file() and not csv_path.is_file() else csv_path

    @classmethod
    def read_index(cls, root: Path) -> tuple[list[Recording], Problems]:
        path = cls.index_path(root)
        rows = (read_column_json(path, COLUMNS) if path.suffix == ".json"
                else read_csv_rows(path, COLUMNS))
        problems = Problems(cls.name)
        recs = []
        for i, row in enumerate(rows):
            key = str(row["audio_filename"] or f"{path.name} row {i}")
            split = str(row["split"])
            if split not in cls.OFFICIAL_SPLITS:
                problems.add(key, f"{path.name}: split {split!r} is not one of "
                                  f"{', '.join(cls.OFFICIAL_SPLITS)}")
                continue
            duration = parse_float(row["duration"], "duration", problems, key)
            if duration is None:
                continue
            audio, midi = str(row["audio_filename"] or ""), str(row["midi_filename"] or "")
            if not audio or not midi:
                problems.add(key, f"{path.name}: empty audio_filename or midi_filename")
                continue
            recs.append(Recording(
                key=str(Path(audio).with_suffix("")), split=split, audio=root / audio,
                midi=root / midi, duration=duration,
                meta={"composer": str(row["canonical_composer"]),
                      "title": str(row["canonical_title"]), "year": _year(row["year"])}))
        return recs, problems

    def recordings(self, split: str) -> list[Recording]:
        """The recordings of `split`; ReservedError naming the folder when an evaluation-only
        corpus (reserved material, `pianox data synth piano --reserved`) is asked for as
        train or validation data (`pianox.holdout.refuse_evaluation_only`)."""
        refuse_evaluation_only(self.root(), split)
        return super().recordings(split)

    def targets_loader(self) -> Callable[[str, float, float], Mapping[str, Any]]:
        return functools.partial(span_targets, sustain=self.config.sustain)

    def timbres(self, split: str) -> list[dict[str, Any]]:
        """The SoundFont presets a rendered corpus was played on, as its stamp
        (`pianox.holdout.RENDER_STAMP`, written by pianox-synth) records them with their
        sample digests; [] for a recorded corpus (real MAESTRO has no stamp).
        `pianox.holdout.timbre_report` compares them between a training and an evaluated
        corpus."""
        stamp = read_render_stamp(self.root()) or {}
        records = stamp.get("timbres")
        return [records[k] for k in sorted(records)] if isinstance(records, dict) else []


def _year(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
