"""Real scores from music21's bundled corpus, reduced to note arrays and cached.

`CATALOGUE` lists works that ship with music21 (no download): Bach chorales, keyboard pieces
(Mozart K. 545, C. P. E. Bach, Clara Schumann, Joplin, Chopin) and string-quartet movements
(Haydn, Mozart, Beethoven, Robert Schumann) played as piano reductions; `RESERVED_CATALOGUE`
lists the reserved evaluation works, apart. Parsing MusicXML is slow, so each work is parsed
once and cached as an .npz under `${XDG_CACHE_HOME:-~/.cache}/pianox/scores/` (or
`$PIANOX_SCORE_CACHE`).

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
from pianox.holdout import refuse_reserved_work, work_split

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
    genre: str = ""
    """How docs/data.md groups it (empty: from the title, see `genre_of`)."""


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
    Work("RobertSchumann_Op41No1_mv2", "Robert Schumann",
         "String Quartet Op. 41 No. 1: II. Scherzo", "schumann_robert/opus41no1/movement2", 200, 8),
    Work("Bach_BWV846", "Johann Sebastian Bach", "Prelude in C major, BWV 846", "bach/bwv846", 66, 4),
)
"""The hand-picked works (tempi and excerpt bars chosen per work); `CATALOGUE` adds the
chorales of `CHORALES` and the quartet movements of `MOVEMENTS` after them."""

CHORALES = """
1.6 101.7 102.7 111.6 112.5 112.5-sc 113.8 114.7 115.6 116.6 117.4 119.9 12.7 120.6 120.8-a
121.6 122.6 123.6 124.6 125.6 126.6 127.5 128.5 13.6 130.6 133.6 135.6 136.6 137.5 139.6
14.5 140.7 144.3 144.6 145-a 145.5 146.8 148.6 149.7 151.5 153.1 153.5 153.9 154.3 154.8
155.5 156.6 157.5 158.4 159.5 16.6 161.6 162.6-lpz 164.6 165.6 166.6 168.6 169.7 17.7 171.6
172.6 174.5 175.7 176.6 177.4 177.5 178.7 179.6 18.5-lz 18.5-w 180.7 183.5 184.5 185.6 187.7
188.6 19.7 190.7 190.7-inst 194.12 194.6 195.6 197.10 197.5 197.7-a 2.6 20.11 20.7 226.2
227.1 227.11 227.3 227.7 229.2 24.6 244.10 244.15 244.17 244.25 244.29-a 244.3 244.32 244.37
244.40 244.44 244.46 244.54 244.62 245.11 245.14 245.15 245.17 245.22 245.26 245.28 245.3
245.37 245.40 245.5 248.12-2 248.17 248.23-2 248.23-s 248.28 248.33-3 248.35-3 248.35-3c
248.42-4 248.42-s 248.46-5 248.5 248.53-5 248.59-6 248.64-6 248.64-s 248.9-1 248.9-s 25.6
250 251 252 253 254 255 256 257 258 259 26.6 260 261 262 263 264 265 266 267 268 27.6 270
271 272 273 274 275 276 277 278 279 28.6 280 281 282 283 284 285 286 287 288 289 29.8 290
291 292 293 294 295 296 297 298 299 3.6 30.6 300 301 302 303 304 305 306 307 308 309 31.9
310 311 312 313 314 315 316 317 318 319 32.6 320 321 322 323 324 325 326 327 328 329 33.6
330 331 332 333 334 335 336 337 338 339 340 341 342 343 344 345 346 347 348 349 350 351 352
353 354 355 356 357 358 359 36.4-2 36.8-2 360 361 362 363 364 365 366 367 368 369 37.6 370
371 372 373 374 375 376 377 378 379 38.6 380 381 382 383 384 385 386 387 388 389 39.7 390
391 392 393 394 395 396 397 398 399 4.8 40.3 40.6 40.8 400 401 402 403 404 405 406 407 408
409 41.6 410 411 412 413 414 415 416 417 418 419 42.7 420 421 422 423 424 425 426 427 428
429 43.11 430 431 432 433 434 435 436 437 438 44.7 45.7 46.6 47.5 48.3 48.7 5.7 52.6 55.5
56.5 57.8 59.3 6.6 60.5 62.6 64.2 64.4 64.8 65.2 65.7 67.4 67.7 69.6 69.6-a 7.7 70.11 70.7
72.6 73.5 74.8 77.6 78.7 79.3 79.6 8.6 80.8 81.7 83.5 84.5 85.6 86.6 87.7 88.7 89.6 9.7 90.5
91.6 92.9 93.7 94.8 95.7 96.6 97.9 99.6
"""
"""BWV numbers of the Bach chorales of music21's corpus played from `CHORALES` (the reserved
ones, bwv66.6 and bwv269, are not among them)."""

MOVEMENTS: tuple[tuple[str, str, str, float], ...] = tuple(
    (f"{c}_{op}_mv{m}", composer, f"{title}: movement {m}", f"{path}/movement{m}", qpm)
    for c, composer, title, path, op, qpm, mvs in (
        ("Mozart", "Wolfgang Amadeus Mozart", "String Quartet K. 156", "mozart/k156", "K156", 100, (1, 3, 4)),
        ("Mozart", "Wolfgang Amadeus Mozart", "String Quartet K. 458", "mozart/k458", "K458", 100, (1, 2, 3, 4)),
        ("Mozart", "Wolfgang Amadeus Mozart", "String Quartet K. 80", "mozart/k80", "K80", 100, (1, 3, 4)),
        ("Haydn", "Joseph Haydn", "String Quartet Op. 1 No. 1", "haydn/opus1no1", "Op1No1", 100, (1, 2, 4)),
        ("Beethoven", "Ludwig van Beethoven", "String Quartet Op. 18 No. 1", "beethoven/opus18no1", "Op18No1",
         100, (1, 4)),
        ("Beethoven", "Ludwig van Beethoven", "String Quartet Op. 59 No. 1", "beethoven/opus59no1", "Op59No1",
         100, (1, 2, 3, 4)),
        ("Beethoven", "Ludwig van Beethoven", "String Quartet Op. 59 No. 2", "beethoven/opus59no2", "Op59No2",
         100, (1, 2, 3, 4)),
        ("Beethoven", "Ludwig van Beethoven", "String Quartet Op. 59 No. 3", "beethoven/opus59no3", "Op59No3",
         100, (1, 2, 3, 4)),
        ("RobertSchumann", "Robert Schumann", "String Quartet Op. 41 No. 1", "schumann_robert/opus41no1",
         "Op41No1", 100, (1, 3, 4, 5)),
    )
    for m in mvs)
"""(slug, composer, title, corpus path, qpm) of further quartet movements played as piano
reductions; their tempo is a moderate 100 quarter notes per minute (the scores carry none)."""

CATALOGUE: tuple[Work, ...] = CATALOGUE + tuple(
    Work(f"Bach_BWV{n}", "Johann Sebastian Bach", f"Chorale BWV {n}", f"bach/bwv{n}", 72, 4)
    for n in CHORALES.split()) + tuple(
    Work(slug, composer, title, path, qpm, 8) for slug, composer, title, path, qpm in MOVEMENTS)


MADRIGALS = """
3.1 3.2 3.3 3.4 3.5 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13 3.14 3.15 3.16 3.17 3.18 3.19 3.20
4.1 4.2 4.3 4.4 4.5 4.6 4.7 4.8 4.9 4.10 4.11 4.12 4.13 4.14 4.15 4.16 4.17 4.18 4.19 4.20
5.1 5.2 5.3 5.4 5.5 5.6 5.7 5.8
"""
"""Monteverdi's madrigals in music21's corpus (books 3-5), five voices played as piano
reductions like the chorales."""

MORE_WORKS: tuple[Work, ...] = tuple(
    Work(f"Monteverdi_Madrigal{n}", "Claudio Monteverdi", f"Madrigal {n}",
         f"monteverdi/madrigal.{n}", 120, 4, "madrigal (5 voices)")
    for n in MADRIGALS.split()) + (
    Work("Schoenberg_Op19No2", "Arnold Schoenberg", "Six Little Piano Pieces Op. 19: No. 2",
         "schoenberg/opus19/movement2", 60, 4, "keyboard"),
    Work("Schoenberg_Op19No6", "Arnold Schoenberg", "Six Little Piano Pieces Op. 19: No. 6",
         "schoenberg/opus19/movement6", 50, 4, "keyboard"),
    Work("Schubert_Lindenbaum", "Franz Schubert", "Winterreise: Der Lindenbaum",
         "schubert/Lindenbaum", 80, 4, "song (voice and piano)"),
    Work("RobertSchumann_Dichterliebe2", "Robert Schumann",
         "Dichterliebe: Aus meinen Tränen spriessen", "schumann_robert/dichterliebe_no2", 60, 4,
         "song (voice and piano)"),
    Work("RobertSchumann_Op48No2", "Robert Schumann", "Dichterliebe Op. 48 No. 2",
         "schumann_robert/opus48no2", 60, 4, "song (voice and piano)"),
    Work("Handel_LasciaChioPianga", "George Frideric Handel", "Rinaldo: Lascia ch'io pianga",
         "handel/rinaldo/Lascia_chio_pianga", 60, 4, "song (voice and piano)"),
    Work("Verdi_LaDonnaEMobile", "Giuseppe Verdi", "Rigoletto: La donna è mobile",
         "verdi/laDonnaEMobile", 120, 8, "song (voice and piano)"),
    Work("Corelli_Op3No1_Grave", "Arcangelo Corelli", "Trio Sonata Op. 3 No. 1: Grave",
         "corelli/opus3no1/1grave", 60, 4, "trio sonata (reduction)"),
)
"""Works the piano corpus plays beyond `CATALOGUE` (madrigals, songs, Schoenberg's Op. 19).
They are kept out of `CATALOGUE` so the twins' seeded work orders, and so the pieces each
existing twin plays, stay as they were."""

PIANO_CATALOGUE: tuple[Work, ...] = CATALOGUE + MORE_WORKS
"""Every work the piano corpus (pianox_synth.piano_corpus) draws from."""

RESERVED_CATALOGUE: tuple[Work, ...] = (
    Work("Bach_BWV66.6", "Johann Sebastian Bach", "Chorale BWV 66.6", "bach/bwv66.6", 72, 4),
    Work("Bach_BWV269", "Johann Sebastian Bach", "Chorale BWV 269", "bach/bwv269", 72, 4),
    Work("Mozart_K155_mv1", "Wolfgang Amadeus Mozart", "String Quartet K. 155: I. Allegro",
         "mozart/k155/movement1", 120, 8),
    Work("Mozart_K155_mv2", "Wolfgang Amadeus Mozart", "String Quartet K. 155: II. Andante",
         "mozart/k155/movement2", 72, 4),
    Work("Mozart_K155_mv3", "Wolfgang Amadeus Mozart", "String Quartet K. 155: III. Molto allegro",
         "mozart/k155/movement3", 132, 8),
    Work("Haydn_Op74No1_mv1", "Joseph Haydn", "String Quartet Op. 74 No. 1: I. Allegro moderato",
         "haydn/opus74no1/movement1", 116, 8),
    Work("Haydn_Op74No1_mv2", "Joseph Haydn",
         "String Quartet Op. 74 No. 1: II. Andantino grazioso", "haydn/opus74no1/movement2", 60, 8),
    Work("Haydn_Op74No1_mv3", "Joseph Haydn", "String Quartet Op. 74 No. 1: III. Menuetto: Allegro",
         "haydn/opus74no1/movement3", 150, 8),
    Work("Haydn_Op74No1_mv4", "Joseph Haydn", "String Quartet Op. 74 No. 1: IV. Finale: Vivace",
         "haydn/opus74no1/movement4", 160, 8),
    Work("ClaraSchumann_Op17_mv3", "Clara Schumann", "Piano Trio Op. 17: III. Andante",
         "schumann_clara/opus17/movement3", 56, 4, "piano trio (reduction)"),
    Work("Beethoven_Op18No1_mv3", "Ludwig van Beethoven",
         "String Quartet Op. 18 No. 1: III. Scherzo: Allegro molto",
         "beethoven/opus18no1/movement3", 320, 8),
)
"""The reserved evaluation works (pianox.holdout.RESERVED_WORKS), every movement music21's
corpus holds, as works to play; only the evaluation-only render (pianox_synth.reserved_corpus)
loads them (`load_score(..., reserved_ok=True)`). Tempi follow the movements' markings (the
scores' own metronome marks for Clara Schumann's trio and Beethoven's scherzo)."""


def work_order(seed: int, tag: str, splits: tuple[str, ...] = ("train", "validation", "test"),
               catalogue: tuple[Work, ...] = CATALOGUE) -> list[int]:
    """Indices of the `catalogue` works whose fixed split (pianox.holdout.work_split) is in
    `splits`, in an order seeded by (seed, tag) that starts with the first work of each split
    other than train, so a corpus of len(splits) or more works has every split it asks for.
    A work's split never depends on this order."""
    from .corpus import item_rng

    order = [int(i) for i in item_rng(seed, tag).permutation(len(catalogue))
             if work_split(catalogue[i].corpus_path) in splits]
    firsts = [next(i for i in order if work_split(catalogue[i].corpus_path) == split)
              for split in splits if split != "train"]
    return firsts + [i for i in order if i not in firsts]


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


def load_score(work: Work, *, reserved_ok: bool = False) -> Score:
    """The `Score` of a catalogue work, parsed with music21 once and then read from the cache.
    Reserved evaluation works (pianox.holdout) raise ReservedError unless `reserved_ok`."""
    from importlib.metadata import version

    if not reserved_ok:
        refuse_reserved_work(work.corpus_path)
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
