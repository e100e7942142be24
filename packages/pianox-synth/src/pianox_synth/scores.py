"""Real scores from music21's bundled corpus, reduced to note arrays and cached.

`CATALOGUE` lists works that ship with music21 (no download): Bach chorales, keyboard pieces
(Mozart K. 545, C. P. E. Bach, Clara Schumann, Joplin, Chopin) and string-quartet movements
(Haydn, Mozart, Beethoven, Robert Schumann) played as piano reductions. Parsing MusicXML is
slow, so each work is parsed once and cached as an .npz under
`${XDG_CACHE_HOME:-~/.cache}/pianox/scores/` (or `$PIANOX_SCORE_CACHE`).

Times in a `Score` are in quarter notes (ql) from the start of the work; `measure_starts`
(M + 1,) holds each bar's start and the end of the last bar.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pianox.atomic import atomic_path
from pianox.errors import DataError

CACHE_VERSION = 1
MF = 0.55
"""music21's volume scalar of mezzo-forte; notes before any marking get it."""


@dataclass(frozen=True)
class Work:
    """A catalogue entry: where the score is in music21's corpus and how to play it."""

    slug: str
    """Identifier used in file names and PercePiano keys (no spaces)."""
    composer: str
    title: str
    corpus_path: str
    qpm: float
    """Reference tempo in quarter notes per minute (a performer scales it)."""
    bars: int = 8
    """Bars per PercePiano-style excerpt."""


CATALOGUE: tuple[Work, ...] = (
    Work("Bach_BWV104.6", "Johann Sebastian Bach", "Chorale BWV 104.6", "bach/bwv104.6", 72, 4),
    Work("Mozart_K545_mv1", "Wolfgang Amadeus Mozart", "Sonata in C Major, K. 545: I. Allegro",
         "mozart/k545/movement1_exposition", 126, 4),
    Work("ClaraSchumann_Op1No2", "Clara Schumann", "Polonaise Op. 1 No. 2",
         "schumann_clara/polonaise_op1n2", 92, 8),
    Work("Bach_BWV110.7", "Johann Sebastian Bach", "Chorale BWV 110.7", "bach/bwv110.7", 72, 4),
    Work("CPEBach_H186", "Carl Philipp Emanuel Bach", "Keyboard piece H. 186", "cpebach/h186",
         100, 8),
    Work("Joplin_MapleLeafRag", "Scott Joplin", "Maple Leaf Rag", "joplin/maple_leaf_rag", 100, 8),
    Work("Haydn_Op1No1_mv3", "Joseph Haydn", "String Quartet Op. 1 No. 1: III. Adagio",
         "haydn/opus1no1/movement3", 56, 4),
    Work("Bach_BWV10.7", "Johann Sebastian Bach", "Chorale BWV 10.7", "bach/bwv10.7", 72, 4),
    Work("Chopin_Op6No2", "Frédéric Chopin", "Mazurka Op. 6 No. 2", "chopin/mazurka06-2", 132, 8),
    Work("ClaraSchumann_Op1No4", "Clara Schumann", "Polonaise Op. 1 No. 4",
         "schumann_clara/polonaise_op1n4", 92, 8),
    Work("Mozart_K156_mv2", "Wolfgang Amadeus Mozart", "String Quartet K. 156: II. Adagio",
         "mozart/k156/movement2", 50, 4),
    Work("Bach_BWV103.6", "Johann Sebastian Bach", "Chorale BWV 103.6", "bach/bwv103.6", 72, 4),
    Work("Haydn_Op1No1_mv5", "Joseph Haydn", "String Quartet Op. 1 No. 1: V. Presto",
         "haydn/opus1no1/movement5", 150, 8),
    Work("Mozart_K80_mv2", "Wolfgang Amadeus Mozart", "String Quartet K. 80: II. Allegro",
         "mozart/k80/movement2", 112, 8),
    Work("Bach_BWV108.6", "Johann Sebastian Bach", "Chorale BWV 108.6", "bach/bwv108.6", 72, 4),
    Work("ClaraSchumann_Op1No3", "Clara Schumann", "Polonaise Op. 1 No. 3",
         "schumann_clara/polonaise_op1n3", 92, 8),
    Work("Beethoven_Op18No1_mv2", "Ludwig van Beethoven",
         "String Quartet Op. 18 No. 1: II. Adagio affettuoso", "beethoven/opus18no1/movement2",
         48, 4),
    Work("Bach_BWV11.6", "Johann Sebastian Bach", "Chorale BWV 11.6", "bach/bwv11.6", 72, 4),
    Work("Mozart_K155_mv1", "Wolfgang Amadeus Mozart", "String Quartet K. 155: I. Allegro",
         "mozart/k155/movement1", 132, 8),
    Work("RobertSchumann_Op41No1_mv2", "Robert Schumann",
         "String Quartet Op. 41 No. 1: II. Scherzo", "schumann_robert/opus41no1/movement2", 200, 8),
)


@dataclass(frozen=True)
class Score:
    """A work reduced to arrays (times in quarter notes, see module doc)."""

    work: Work
    onset: np.ndarray      # (N,) ql
    duration: np.ndarray   # (N,) ql
    pitch: np.ndarray      # (N,) MIDI pitch
    part: np.ndarray       # (N,) part index, 0 = the top staff / first voice
    dynamic: np.ndarray    # (N,) music21 volume scalar of the marking in force, 0..1
    measure_starts: np.ndarray  # (M + 1,) ql
    minor: bool

    @property
    def num_bars(self) -> int:
        return len(self.measure_starts) - 1


def cache_dir() -> Path:
    """Where parsed scores are cached (see module doc)."""
    env = os.environ.get("PIANOX_SCORE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pianox" / "scores"


def _parse(work: Work) -> dict[str, np.ndarray]:
    from music21 import corpus, dynamics

    try:
        s = corpus.parse(work.corpus_path)
    except Exception as exc:
        raise DataError(f"music21 cannot parse corpus work {work.corpus_path!r}: {exc}") from exc
    rows = []
    for index, part in enumerate(s.parts):
        flat = part.stripTies().flatten()
        marks = sorted((float(d.offset), float(d.volumeScalar or MF))
                       for d in flat.getElementsByClass(dynamics.Dynamic))
        mark_times = np.array([m[0] for m in marks])
        for n in flat.notes:
            if not hasattr(n, "pitches") or n.duration.isGrace:
                continue
            onset = float(n.offset)
            k = int(np.searchsorted(mark_times, onset + 1e-9)) - 1
            dyn = marks[k][1] if k >= 0 else MF
            length = max(float(n.duration.quarterLength), 0.125)
            rows.extend((onset, length, p.midi, index, dyn) for p in n.pitches)
    if not rows:
        raise DataError(f"corpus work {work.corpus_path!r} has no notes")
    arr = np.array(sorted(rows), dtype=np.float64)
    starts = sorted({float(m.offset) for m in s.parts[0].getElementsByClass("Measure")})
    end = float(s.highestTime)
    starts = [t for t in starts if t < end] or [0.0]
    try:
        minor = s.analyze("key").mode == "minor"
    except Exception:  # key analysis is a nicety; an odd score must not stop rendering
        minor = False
    return {"onset": arr[:, 0], "duration": arr[:, 1], "pitch": arr[:, 2].astype(np.int16),
            "part": arr[:, 3].astype(np.int16), "dynamic": arr[:, 4],
            "measure_starts": np.array(starts + [end]), "minor": np.array(minor)}


def load_score(work: Work) -> Score:
    """The `Score` of a catalogue work, parsed with music21 once and then read from the cache."""
    from importlib.metadata import version

    folder = cache_dir() / f"v{CACHE_VERSION}-m21-{version('music21')}"
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", work.corpus_path) + ".npz")
    data = None
    if path.is_file():
        try:
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError):
            data = None  # a damaged cache entry is re-parsed and overwritten
    if data is None:
        data = _parse(work)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **data)
    return Score(work=work, onset=data["onset"], duration=data["duration"],
                 pitch=data["pitch"].astype(np.int64), part=data["part"].astype(np.int64),
                 dynamic=data["dynamic"], measure_starts=data["measure_starts"],
                 minor=bool(data["minor"]))
