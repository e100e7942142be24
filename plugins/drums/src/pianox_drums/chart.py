"""Clone Hero `.chart` files for transcribed drums: writing, and reading back.

A chart is sections `[Name]` with `{ ... }` bodies of `key = value` lines:

    [Song]         Resolution = 192 (ticks per beat), Offset, names, the audio stream
    [SyncTrack]    `tick = TS 4` (time signature), `tick = B <milli-BPM>` tempo markers
    [Events]       (empty)
    [ExpertDrums]  `tick = N <lane> 0`: lane 0 kick, 1 red, 2 yellow, 3 blue, 4 green (pro
                   drums, 4 lanes); `tick = N 66|67|68 0` marks the yellow / blue / green note
                   at that tick as a cymbal

Lanes per class come from `classes.CHART_LANE`. Several hits on one lane and tick become one
note (a cymbal when the most confident of them is one).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from pianox.errors import DataError

from .classes import DrumClasses
from .tempo import TempoMap

CYMBAL_OF_LANE = {2: 66, 3: 67, 4: 68}


def chart_notes(hits: np.ndarray, classes: DrumClasses, tempo: TempoMap) -> list[tuple[int, int]]:
    """(tick, note number) events of hits (N, >= 2) [time s, class, (velocity, confidence)],
    sorted by tick then note: one lane note per (tick, lane), plus its cymbal flag note."""
    h = np.asarray(hits, np.float64).reshape(len(hits), -1) if len(hits) else np.zeros((0, 4))
    conf = h[:, 3] if h.shape[1] > 3 else np.ones(len(h))
    ticks = np.rint(tempo.to_ticks(h[:, 0])).astype(np.int64)
    chosen: dict[tuple[int, int], tuple[float, int | None]] = {}
    for tick, cls, c in zip(ticks, h[:, 1].astype(int), conf, strict=True):
        lane, cymbal = classes.lanes[cls]
        key = (int(tick), lane)
        if key not in chosen or c > chosen[key][0]:
            chosen[key] = (float(c), cymbal)
    events = []
    for (tick, lane), (_, cymbal) in chosen.items():
        events.append((tick, lane))
        if cymbal is not None:
            events.append((tick, cymbal))
    return sorted(events)


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def render_chart(hits: np.ndarray, classes: DrumClasses, tempo: TempoMap, *, name: str = "",
                 music_stream: str = "", beats_per_bar: int = 4) -> str:
    """The text of a .chart with one [ExpertDrums] track of `hits` (see module doc)."""
    song = [("Name", _quote(name)), ("Artist", _quote("")), ("Charter", _quote("pianox")),
            ("Offset", "0"), ("Resolution", str(tempo.resolution)), ("Player2", "bass"),
            ("Difficulty", "0"), ("PreviewStart", "0"), ("PreviewEnd", "0"),
            ("Genre", _quote("")), ("MediaType", _quote("cd")), ("MusicStream", _quote(music_stream))]
    sync = [(0, f"TS {beats_per_bar}")] + [(t, f"B {b}") for t, b in zip(tempo.ticks, tempo.millibpm, strict=True)]
    sync.sort(key=lambda e: (e[0], not e[1].startswith("TS")))
    lines = ["[Song]", "{"] + [f"  {k} = {v}" for k, v in song] + ["}"]
    lines += ["[SyncTrack]", "{"] + [f"  {t} = {v}" for t, v in sync] + ["}"]
    lines += ["[Events]", "{", "}"]
    lines += ["[ExpertDrums]", "{"] + [f"  {t} = N {n} 0" for t, n in chart_notes(hits, classes, tempo)] + ["}"]
    return "\r\n".join(lines) + "\r\n"


_SECTION = re.compile(r"^\[(.+)\]$")


def parse_chart(text: str, where: str = "<chart>") -> dict[str, list[tuple[str, str]]]:
    """Sections of a .chart: name -> [(key, value)] in file order. Malformed structure is a
    DataError naming `where` and the line."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    inside = False
    for n, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        m = _SECTION.match(line)
        if m and not inside:
            current = m.group(1)
            sections[current] = []
        elif line == "{" and current is not None and not inside:
            inside = True
        elif line == "}" and inside:
            inside, current = False, None
        elif inside and "=" in line:
            key, value = line.split("=", 1)
            sections[current].append((key.strip(), value.strip()))  # type: ignore[index]
        else:
            raise DataError(f"{where} line {n}: unexpected {line!r}")
    if inside:
        raise DataError(f"{where}: section [{current}] is not closed")
    return sections


def read_chart(text: str, where: str = "<chart>") -> dict[str, Any]:
    """A parsed chart: `resolution`, `tempo` (TempoMap), `notes` [(tick, note)] of
    [ExpertDrums], and `song` (the [Song] key/values)."""
    sections = parse_chart(text, where)
    for name in ("Song", "SyncTrack", "ExpertDrums"):
        if name not in sections:
            raise DataError(f"{where}: no [{name}] section")
    song = dict(sections["Song"])
    try:
        resolution = int(song["Resolution"])
        markers = [(int(k), int(v.split()[1])) for k, v in sections["SyncTrack"] if v.startswith("B ")]
        notes = [(int(k), int(v.split()[1])) for k, v in sections["ExpertDrums"] if v.startswith("N ")]
        tempo = TempoMap(tuple(t for t, _ in markers), tuple(b for _, b in markers), resolution)
    except (KeyError, ValueError, IndexError) as exc:
        raise DataError(f"{where}: malformed chart: {exc}") from exc
    return {"resolution": resolution, "tempo": tempo, "notes": notes, "song": song}
