"""PercePiano reader: 19 perceptual ratings per performance segment, with audio per key.

Reads the label json `label_2round_mean_reg_19_with0_rm_highstd0.json` (key -> 19 mean ratings
in [0, 1] followed by the performer index: 20 numbers; keys `{piece}_{N}bars_{player}_{segment}`)
and the audio `{audio_dir}/{key}.wav`. Splits are PercePiano's cross-validation folds by
performer or by piece (see `percepiano_folds`). Targets per example:

    ratings    (19,) float32  mean ratings in [0, 1] in `DIMENSIONS` order
    performer  int            the performer index (the label's 20th number)
    piece      str            the excerpt played, `{piece}_{N}bars_{segment}` (the unit the
                              piece split keeps apart)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..api import Example
from ..errors import AudioError, DataError
from .manifest import Problems, check_split, corpus_root, load_json
from .percepiano_folds import assign_splits, excerpt_of, fold_error, parse_key
from .segments import spans

LABEL_FILE = "label_2round_mean_reg_19_with0_rm_highstd0.json"
DIMENSIONS: tuple[str, ...] = (
    "Timing_Stable_Unstable",
    "Articulation_Short_Long",
    "Articulation_Soft_cushioned_Hard_solid",
    "Pedal_Sparse/dry_Saturated/wet",
    "Pedal_Clean_Blurred",
    "Timbre_Even_Colorful",
    "Timbre_Shallow_Rich",
    "Timbre_Bright_Dark",
    "Timbre_Soft_Loud",
    "Dynamic_Sophisticated/mellow_Raw/crude",
    "Dynamic_Little_dynamic_range_Large_dynamic_range",
    "Music_Making_Fast_paced_Slow_paced",
    "Music_Making_Flat_Spacious",
    "Music_Making_Disproportioned_Balanced",
    "Music_Making_Pure_Dramatic/expressive",
    "Emotion_&_Mood_Optimistic/pleasant_Dark",
    "Emotion_&_Mood_Low_Energy_High_Energy",
    "Emotion_&_Mood_Honest_Imaginative",
    "Interpretation_Unsatisfactory/doubtful_Convincing",
)
"""The 19 PercePiano dimensions in label order; each name is `Category_Low_High` (0 = low pole)."""
HINT = ("Render a synthetic twin with `pianox data synth percepiano --out DIR` (or use "
        "kind = \"percepiano_twin\"), or get PercePiano from "
        "https://github.com/JonghoKimSNU/PercePiano (labels) and render or record audio per key")


@dataclass(frozen=True)
class Label:
    ratings: np.ndarray
    performer: int


def load_labels(path: Path, problems: Problems) -> dict[str, Label]:
    """Parse a PercePiano label json; malformed entries go to `problems` and are left out.

    DataError when the file is missing, not json, or not a json object.
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a json object key -> [19 ratings, performer], "
                        f"got {type(data).__name__}")
    out: dict[str, Label] = {}
    n = len(DIMENSIONS)
    for key, value in data.items():
        if parse_key(key) is None:
            problems.add(key, f"{path.name}: key does not match {{piece}}_{{N}}bars_{{player}}_"
                              f"{{segment}}")
            continue
        if not isinstance(value, list) or len(value) != n + 1:
            size = len(value) if isinstance(value, list) else type(value).__name__
            problems.add(key, f"{path.name}: expected {n + 1} numbers (19 ratings + performer), "
                              f"got {size}")
            continue
        try:
            ratings = np.asarray(value[:n], dtype=np.float64)
            performer = float(value[n])
        except (TypeError, ValueError):
            problems.add(key, f"{path.name}: non-numeric value in {value!r}")
            continue
        if not np.isfinite(ratings).all() or ratings.min() < 0 or ratings.max() > 1:
            bad = int(np.argmax(~np.isfinite(ratings) | (ratings < 0) | (ratings > 1)))
            problems.add(key, f"{path.name}: rating {DIMENSIONS[bad]} = {value[bad]!r} is not "
                              f"in [0, 1]")
            continue
        if not math.isfinite(performer) or performer < 0 or performer != int(performer):
            problems.add(key, f"{path.name}: performer index {value[n]!r} is not an integer >= 0")
            continue
        out[key] = Label(ratings.astype(np.float32), int(performer))
    return out


class PercePianoSource:
    """PercePiano (or its synthetic twin): audio segments with 19 perceptual ratings."""

    name: ClassVar[str] = "percepiano"
    HINT: ClassVar[str] = HINT

    @dataclass
    class Config:
        root: str = ""
        """Corpus folder; `~` is expanded."""
        label_file: str = LABEL_FILE
        """Label json, relative to root (also looked for in root/labels) or absolute."""
        audio_dir: str = "audio"
        """Folder of `{key}{audio_suffix}` files, relative to root or absolute."""
        audio_suffix: str = ".wav"
        split_by: Literal["performer", "piece", "random"] = "piece"
        """"performer", "piece" or "random" (see pianox.sources.percepiano_folds)."""
        fold: int = 0
        num_folds: int = 4
        test_fraction: float = 0.15
        """Share of keys held out for test by the piece and random splits."""
        test_performers: int = 2
        performers_per_fold: int = 2
        seed: int = 42
        """Seed of the piece/random split draws."""
        segment_seconds: float = 0.0
        """0 = one example per segment file; else spans of this length."""
        hop_seconds: float = 0.0
        sample_rate: int = 16000
        """Rate (Hz) `pianox.audio.load_example` decodes these examples at unless told otherwise."""
        skip_bad: bool = False
        """Skip keys with bad labels or missing/unreadable audio (warning with the count)."""
        targets: bool = True

        def validate(self) -> None:
            """ValueError for unusable split or span settings (called by pianox.schema.build)."""
            error = fold_error(self.split_by, self.fold, self.num_folds, self.test_fraction)
            if error:
                raise ValueError(error)
            if self.segment_seconds < 0 or self.hop_seconds < 0:
                raise ValueError("segment_seconds and hop_seconds must be >= 0")

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
        self._cache: dict[str, list[Example]] = {}

    def root(self) -> Path:
        """The corpus folder (DataError with a hint when it is missing)."""
        return corpus_root(self.config.root, self.name, self.HINT)

    @classmethod
    def layout(cls, root: Path, cfg: Any) -> tuple[Path, Path]:
        """(label file, audio folder) of the corpus at `root` under `cfg`."""
        label = Path(os.path.expanduser(cfg.label_file))
        if not label.is_absolute():
            candidates = [root / label, root / "labels" / label]
            label = next((c for c in candidates if c.is_file()), candidates[0])
        if not label.is_file():
            raise DataError(f"source {cls.name!r}: label file {label} not found. {cls.HINT}")
        audio = Path(os.path.expanduser(cfg.audio_dir))
        return label, audio if audio.is_absolute() else root / audio

    def examples(self, split: str) -> list[Example]:
        """The examples of `split` under the configured fold (see module doc for targets)."""
        check_split(split, self.name)
        if split in self._cache:
            return self._cache[split]
        cfg = self.config
        problems = Problems(self.name)
        label_path, audio_dir = self.layout(self.root(), cfg)
        labels = load_labels(label_path, problems)
        from ..audio import probe_audio

        usable: dict[str, tuple[Label, Path, float]] = {}
        for key, label in labels.items():
            path = audio_dir / f"{key}{cfg.audio_suffix}"
            try:
                frames, sr = probe_audio(path)
            except AudioError as exc:
                problems.add(key, str(exc))
                continue
            usable[key] = (label, path, frames / sr)
        problems.resolve(cfg.skip_bad, what="segments")
        if not usable:
            raise DataError(f"source {self.name!r}: no usable labelled audio under {audio_dir}")
        assignment = assign_splits(usable, cfg.split_by, cfg.fold, cfg.num_folds,
                                   cfg.test_fraction, cfg.test_performers,
                                   cfg.performers_per_fold, cfg.seed)
        by_split: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
        for key in sorted(usable):
            label, path, seconds = usable[key]
            parts = parse_key(key)  # load_labels kept well-formed keys only
            targets = ({"ratings": label.ratings, "performer": label.performer,
                        "piece": excerpt_of(key)} if cfg.targets else {})
            meta = {"source": self.name, "work": parts["piece"], "bars": int(parts["bars"]),
                    "player": parts["player"], "segment": int(parts["segment"]),
                    "sample_rate": cfg.sample_rate, "file_duration": seconds,
                    "split_by": cfg.split_by, "fold": cfg.fold}
            whole = cfg.segment_seconds <= 0
            for start, dur in spans(seconds, cfg.segment_seconds, cfg.hop_seconds):
                by_split[assignment[key]].append(Example(
                    key=key if whole else f"{key}@{start:.3f}", audio_path=path, start=start,
                    duration=None if whole else dur, targets=targets, meta=meta))
        self._cache.update(by_split)
        return self._cache[split]

    @classmethod
    def problems(cls, root: str | os.PathLike, full: bool = False) -> list[str]:
        """Every problem of the corpus at `root` with the default layout: label file, malformed
        keys or values, missing or unreadable audio. Segments are short, so each is decoded
        completely whatever `full` says. Never raises for bad data."""
        from ..audio import read_audio

        cfg = cls.Config()
        problems = Problems(cls.name)
        try:
            label_path, audio_dir = cls.layout(corpus_root(root, cls.name, cls.HINT), cfg)
            labels = load_labels(label_path, problems)
        except DataError as exc:
            return problems.lines() + [str(exc)]
        for key in labels:
            path = audio_dir / f"{key}{cfg.audio_suffix}"
            try:
                read_audio(path)
            except AudioError as exc:
                problems.add(key, str(exc))
        return problems.lines()
