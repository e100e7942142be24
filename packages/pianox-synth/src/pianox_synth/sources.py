"""Twin sources `maestro_twin`, `percepiano_twin`, `egmd_twin`, `piano_corpus`: render once,
then read as real.

Each is the real reader with four more Config fields (`cache_dir`, `minutes`, `seed`,
`soundfont`; PercePiano's twin also `performers`); `piano_corpus` is the maestro reader over
the piano training corpus (`pianox_synth.piano_corpus`) with `hours`, `soundfonts`,
`acoustics`, `etude_share` and `render_splits` instead. The corpus is rendered at `sample_rate`
into `cache_dir` — by default `${XDG_CACHE_HOME:-~/.cache}/pianox/<twin>-<hash of the render
parameters>` — the first time examples are asked for, atomically (so concurrent processes,
e.g. DDP ranks, at worst render twice and keep one). `root` must be left empty: the twin
reads the folder it rendered.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pianox.errors import ConfigError
from pianox.sources.egmd import EGMDSource
from pianox.sources.maestro import MaestroSource
from pianox.sources.percepiano import PercePianoSource

from .corpus import STAMP


def cache_root() -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/pianox`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pianox"


@dataclass
class TwinFields:
    cache_dir: str = ""
    """Where the twin is rendered (empty: a folder per render parameters under the user cache)."""
    minutes: float = 3.0
    """About how many minutes of audio to render."""
    seed: int = 0
    soundfont: str = ""
    """A .sf2/.sf3 SoundFont (empty: pretty_midi's TimGM6mb.sf2)."""
    jobs: int = 0
    """Render processes (0 = automatic)."""


class _Twin:
    """Mixin: derive `root` from the render parameters and render on first use."""

    TWIN: ClassVar[str]
    name: ClassVar[str]
    config: Any

    def __init__(self, config: Any = None):
        cfg = config if config is not None else self.Config()  # type: ignore[attr-defined]
        if cfg.root:
            raise ConfigError(f"[source] kind = {self.name!r} renders into cache_dir; leave root "
                              f"empty (or use kind = {self.TWIN!r} to read a corpus at {cfg.root})")
        super().__init__(cfg)  # type: ignore[call-arg]
        self._root: Path | None = None

    def _render_params(self) -> dict[str, Any]:
        from . import __version__
        from .render import resolve_soundfont

        cfg = self.config
        sf = resolve_soundfont(cfg.soundfont)
        params = {"twin": self.TWIN, "minutes": cfg.minutes, "seed": cfg.seed,
                  "sample_rate": cfg.sample_rate, "soundfont": str(sf),
                  "soundfont_bytes": sf.stat().st_size, "pianox_synth": __version__}
        if hasattr(cfg, "performers"):
            params["performers"] = cfg.performers
        if getattr(cfg, "program", 0):  # absent at 0, so the default render keeps its folder
            params["program"] = cfg.program
        return params

    def timbres(self, split: str) -> list[dict[str, Any]]:
        """Records (pianox_synth.soundfont.timbre_record) of the SoundFont presets the
        examples of `split` are played on, as the corpus stamp recorded them."""
        from .corpus import read_stamp

        records = (read_stamp(self.root()) or {}).get("timbres", {})
        names = self._timbre_names(split, records)
        return [records[n] for n in sorted(names) if n in records]

    def _timbre_names(self, split: str, records: dict[str, Any]) -> set[str]:
        return set(records)

    def location(self) -> Path:
        """The folder this twin is (or will be) rendered into."""
        cfg = self.config
        if cfg.cache_dir:
            return Path(os.path.expanduser(cfg.cache_dir))
        digest = hashlib.sha1(json.dumps(self._render_params(), sort_keys=True).encode())
        return cache_root() / f"{self.name}-{digest.hexdigest()[:10]}"

    def root(self) -> Path:
        """Render the twin into `location()` unless a complete one is there; returns the folder."""
        if self._root is not None:
            return self._root
        root = self.location()
        if not (root / STAMP).is_file():
            from . import synthesize

            synthesize(self.TWIN, root, exist_ok=True, **self._synth_options())
        self._root = root
        return root

    def _synth_options(self) -> dict[str, Any]:
        """Keyword options of `pianox_synth.synthesize` for this twin's Config."""
        options = {"minutes": self.config.minutes, "sample_rate": self.config.sample_rate,
                   "soundfont": self.config.soundfont or None, "seed": self.config.seed,
                   "jobs": self.config.jobs}
        if hasattr(self.config, "performers"):
            options["performers"] = self.config.performers
        if getattr(self.config, "program", 0):
            options["program"] = self.config.program
        return options


class MaestroTwin(_Twin, MaestroSource):
    """MAESTRO's synthetic twin (see module doc and pianox_synth.maestro_twin)."""

    name = "maestro_twin"
    TWIN = "maestro"

    @dataclass
    class Config(MaestroSource.Config, TwinFields):
        program: int = 0
        """General MIDI program the pieces are played on (0 Acoustic Grand; 1 Bright Acoustic,
        2 Electric Grand, ... render the same performances in another timbre)."""

        def validate(self) -> None:
            super().validate()  # the reader's checks (segment, sample rate, ...) still apply
            if not 0 <= self.program <= 127:
                raise ValueError(f"program = {self.program} is not a General MIDI program (0..127)")


class EGMDTwin(_Twin, EGMDSource):
    """E-GMD's synthetic twin (see module doc and pianox_synth.egmd_twin)."""

    name = "egmd_twin"
    TWIN = "egmd"

    @dataclass
    class Config(EGMDSource.Config, TwinFields):
        """The egmd reader's fields plus the render fields of `TwinFields`."""

    def _timbre_names(self, split: str, records: dict[str, Any]) -> set[str]:
        return {str(e.meta.get("kit_name")) for e in self.examples(split)}


class PercePianoTwin(_Twin, PercePianoSource):
    """PercePiano's synthetic twin (see module doc and pianox_synth.percepiano_twin)."""

    name = "percepiano_twin"
    TWIN = "percepiano"

    @dataclass
    class Config(PercePianoSource.Config, TwinFields):
        performers: int = 0
        """Synthetic performers (0: 4 below 10 minutes, else 10)."""


class PianoCorpus(_Twin, MaestroSource):
    """The piano training corpus (pianox_synth.piano_corpus) rendered into the cache on first
    use and read by the maestro reader: works and études on several SoundFonts and rooms."""

    name = "piano_corpus"
    TWIN = "piano"

    @dataclass
    class Config(MaestroSource.Config):
        cache_dir: str = ""
        """Where the corpus is rendered (empty: a folder per render parameters under the user
        cache)."""
        hours: float = 1.0
        """Hours of music to render."""
        seed: int = 0
        soundfonts: list[str] = field(default_factory=list)
        """.sf2/.sf3 paths or the names timgm6mb, musescore (Debian
        musescore-general-soundfont-small), csound (Debian csound-soundfont); empty: TimGM6mb."""
        acoustics: bool = True
        """Rooms, microphone colour, noise, level and detuning per performance (false: dry)."""
        etude_share: float = 0.25
        """Share of the hours given to generated études."""
        render_splits: list[str] = field(default_factory=lambda: ["train", "validation", "test"])
        """Render only these splits' works (["test"]: a held-out timbre's test set)."""
        jobs: int = 0
        """Render processes (0 = one per CPU)."""

        def validate(self) -> None:
            super().validate()
            if not self.hours > 0:
                raise ValueError(f"hours = {self.hours} must be positive")
            if not 0.0 <= self.etude_share <= 1.0:
                raise ValueError(f"etude_share = {self.etude_share} is outside 0..1")
            bad = [s for s in self.render_splits if s not in ("train", "validation", "test")]
            if bad or not self.render_splits:
                raise ValueError(f"render_splits = {self.render_splits}: expected some of "
                                 f"train, validation, test")

    def _render_params(self) -> dict[str, Any]:
        from . import __version__
        from .render import resolve_soundfont

        cfg = self.config
        fonts = [resolve_soundfont(s) for s in (cfg.soundfonts or [""])]
        return {"twin": self.TWIN, "hours": cfg.hours, "seed": cfg.seed,
                "sample_rate": cfg.sample_rate, "acoustics": cfg.acoustics,
                "etude_share": cfg.etude_share, "render_splits": sorted(cfg.render_splits),
                "soundfonts": [[str(f), f.stat().st_size] for f in fonts],
                "pianox_synth": __version__}

    def _synth_options(self) -> dict[str, Any]:
        cfg = self.config
        return {"hours": cfg.hours, "sample_rate": cfg.sample_rate, "seed": cfg.seed,
                "soundfonts": list(cfg.soundfonts), "acoustics": cfg.acoustics,
                "etude_share": cfg.etude_share, "splits": list(cfg.render_splits),
                "jobs": cfg.jobs}
