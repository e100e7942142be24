"""What MAESTRO and E-GMD readers share: an index of (audio, MIDI) recordings with official
splits, screened for bad files and cut into fixed-length spans with lazily read targets.

A subclass says how to read its index (`read_index`) and how to turn a MIDI file and a span
into targets (`targets_loader`); this module does the rest, including the deep check behind
`pianox data check`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

from ..api import SPLITS, Example
from ..errors import AudioError, MidiError
from .manifest import Problems, check_split, corpus_root, resolve_splits
from .segments import LazyTargets, spans

DURATION_TOLERANCE = 1.0
"""Seconds an index's duration may differ from the audio file before `check` reports it."""


@dataclass(frozen=True)
class Recording:
    """One row of a paired corpus index: an audio file, its MIDI and its official split."""

    key: str
    split: str
    audio: Path
    midi: Path
    duration: float
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PairedConfig:
    root: str = ""
    """Corpus folder (holding the index file); `~` is expanded."""
    segment_seconds: float = 10.0
    """Span length in seconds; 0 = one example per whole recording."""
    hop_seconds: float = 0.0
    """Seconds between span starts; 0 = segment_seconds (no overlap)."""
    sample_rate: int = 16000
    """Rate (Hz) `pianox.audio.load_example` decodes these examples at unless told otherwise."""
    max_files: int = 0
    """Use at most this many recordings per split, in index order (0 = all)."""
    splits: dict[str, list[str]] = field(default_factory=lambda: {s: [s] for s in SPLITS})
    """pianox split -> official split name(s), e.g. train = ["train", "validation"]."""
    skip_bad: bool = False
    """Skip recordings with missing/unreadable files (warning with the count) instead of failing."""
    targets: bool = True
    """Attach targets read from the MIDI; false = audio-only examples (pretraining)."""

    def validate(self) -> None:
        """ValueError for values no corpus could use (called by pianox.schema.build)."""
        from ..audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

        if self.segment_seconds < 0 or self.hop_seconds < 0:
            raise ValueError("segment_seconds and hop_seconds must be >= 0")
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate {self.sample_rate} is outside "
                             f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        if self.max_files < 0:
            raise ValueError("max_files must be >= 0")


class PairedSource:
    """Base of the MAESTRO and E-GMD readers (see module doc)."""

    name: ClassVar[str]
    Config: ClassVar[type] = PairedConfig
    HINT: ClassVar[str] = ""
    OFFICIAL_SPLITS: ClassVar[tuple[str, ...]] = SPLITS

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
        self._cache: dict[str, list[Example]] = {}

    # -- what a subclass provides -------------------------------------------------------
    @classmethod
    def read_index(cls, root: Path) -> tuple[list[Recording], Problems]:
        raise NotImplementedError

    def targets_loader(self) -> Callable[[str, float, float], Mapping[str, Any]]:
        """A picklable function (midi path, span start s, span duration s) -> targets."""
        raise NotImplementedError

    def keep(self, rec: Recording) -> bool:
        """Extra per-recording filter from the config (all kept by default)."""
        return True

    def example_meta(self) -> dict[str, Any]:
        """Entries added to every example's meta (none by default)."""
        return {}

    # -- the shared machinery -----------------------------------------------------------
    def root(self) -> Path:
        return corpus_root(self.config.root, self.name, self.HINT)

    def recordings(self, split: str) -> list[Recording]:
        """The screened recordings of a pianox split (after splits, filters and max_files)."""
        check_split(split, self.name)
        wanted = resolve_splits(self.config.splits, self.OFFICIAL_SPLITS, self.name).get(split, ())
        recs, problems = self.read_index(self.root())
        chosen = [r for r in recs if r.split in wanted and self.keep(r)]
        good = screen(chosen, problems, need_midi=self.config.targets)
        problems.resolve(self.config.skip_bad, what="recordings")
        if self.config.max_files > 0:
            good = good[: self.config.max_files]
        return good

    def examples(self, split: str) -> list[Example]:
        """Fixed-length spans of every recording of `split` (see `PairedConfig`)."""
        if split not in self._cache:
            cfg = self.config
            loader = self.targets_loader() if cfg.targets else None
            extra = self.example_meta()
            out = []
            for rec in self.recordings(split):
                for start, dur in spans(rec.duration, cfg.segment_seconds, cfg.hop_seconds):
                    targets: Mapping[str, Any] = {}
                    if loader is not None:
                        targets = LazyTargets(functools.partial(loader, str(rec.midi), start, dur))
                    meta = {"source": self.name, "recording": rec.key, "split": rec.split,
                            "sample_rate": cfg.sample_rate, "file_duration": rec.duration,
                            **rec.meta, **extra}
                    out.append(Example(key=f"{rec.key}@{start:.3f}", audio_path=rec.audio,
                                       start=start, duration=dur, targets=targets, meta=meta))
            self._cache[split] = out
        return self._cache[split]

    @classmethod
    def problems(cls, root: str | os.PathLike, full: bool = False) -> list[str]:
        """Every problem of the corpus at `root`: index rows, missing/corrupt audio and MIDI,
        durations that disagree with the index. Decodes the first and last second of each
        audio file (`full`: all of it). Never raises for bad data."""
        from ..errors import DataError

        try:
            recs, problems = cls.read_index(corpus_root(root, cls.name, cls.HINT))
        except DataError as exc:
            return [str(exc)]
        deep_check(recs, problems, full=full)
        return problems.lines()


def screen(recs: Sequence[Recording], problems: Problems, need_midi: bool) -> list[Recording]:
    """Recordings whose audio header opens cleanly and whose MIDI looks like MIDI; the others
    go to `problems`. Cheap (headers only): corrupt contents are found by `deep_check`."""
    from ..audio import probe_audio

    good = []
    for rec in recs:
        try:
            probe_audio(rec.audio)
        except AudioError as exc:
            problems.add(rec.key, str(exc))
            continue
        if need_midi:
            if not rec.midi.is_file():
                problems.add(rec.key, f"MIDI file not found: {rec.midi}")
                continue
            with open(rec.midi, "rb") as f:
                if f.read(4) != b"MThd":
                    problems.add(rec.key, f"not a MIDI file (no MThd header): {rec.midi}")
                    continue
        good.append(rec)
    return good


def deep_check(recs: Sequence[Recording], problems: Problems, full: bool = False) -> None:
    """Decode audio (head and tail, or all with `full`) and parse MIDI of every recording."""
    from ..audio import probe_audio, read_audio
    from ..midi import load_midi

    for rec in recs:
        try:
            frames, sr = probe_audio(rec.audio)
            seconds = frames / sr
            if full:
                read_audio(rec.audio)
            else:
                read_audio(rec.audio, start=0.0, duration=min(1.0, seconds))
                read_audio(rec.audio, start=max(0.0, seconds - 1.0))
            if abs(seconds - rec.duration) > DURATION_TOLERANCE:
                problems.add(rec.key, f"index says {rec.duration:.2f} s but {rec.audio} lasts "
                                      f"{seconds:.2f} s")
        except AudioError as exc:
            problems.add(rec.key, str(exc))
        try:
            load_midi(rec.midi)
        except MidiError as exc:
            problems.add(rec.key, str(exc))


def parse_float(value: Any, what: str, problems: Problems, key: str) -> float | None:
    """`value` as a finite positive float, or None with a problem recorded."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        problems.add(key, f"{what} {value!r} is not a number")
        return None
    if not out > 0 or out == float("inf"):
        problems.add(key, f"{what} {value!r} is not a positive finite number")
        return None
    return out
