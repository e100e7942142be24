"""What no pianox model may learn from: splits fixed per work, and reserved evaluation material.

A work's split is a pure function of its identifier (for music21 corpus works, the corpus
path such as "bach/bwv104.6"): the first 8 bytes of its SHA-256 read as a number in [0, 1),
train below 0.8, validation below 0.9, test above. It does not depend on a corpus's size,
seed or minutes, so every corpus and experiment that plays a work puts it in the same split
(MAESTRO's own rule: splits by composition).

Reserved evaluation material stands for "music and a piano no pianox model has heard": the
FluidR3 SoundFonts (Debian fluid-soundfont-gm, fluid-soundfont-gs, fluidr3mono-gm-soundfont)
and six music21 works (`RESERVED_WORKS`, every movement). Training corpora refuse them with a
`ReservedError`; only an explicit evaluation-only render (`pianox data synth piano --reserved`)
plays them, and its stamp says `"evaluation_only": true`, so a corpus reader gives such a
corpus's test split only (`refuse_evaluation_only`): nothing reserved is trained, validated or
tuned on.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import DataError

SPLIT_BOUNDS = (("train", 0.8), ("validation", 0.9), ("test", 1.0))
"""Upper bounds of each split on the work hash's [0, 1) scale: 80 / 10 / 10 %."""

RESERVED_WORKS: tuple[str, ...] = (
    "bach/bwv66.6",
    "bach/bwv269",
    "mozart/k155",
    "haydn/opus74no1",
    "schumann_clara/opus17",
    "beethoven/opus18no1/movement3",
)
"""music21 corpus paths (a folder stands for all its movements) reserved for evaluation."""

RESERVED_SOUNDFONT_MARKS = ("fluidr3",)
"""Lower-case marks in a SoundFont's file name (or Debian package path) that reserve it:
FluidR3_GM.sf2, FluidR3_GS.sf2, FluidR3Mono_GM.sf3 and their /usr/share/sounds/sf2 links."""


RENDER_STAMP = "pianox-twin.json"
"""The file a rendered (synthetic) corpus carries beside its index: how it was rendered and,
under "timbres", the sample digests of every SoundFont preset it played; an evaluation-only
render also `"evaluation_only": true` with its `reserved_works` and `reserved_soundfonts`."""

EVALUATION_SPLIT = "test"
"""The only split an evaluation-only corpus may be read as."""

RESERVED_HINT = ("only an evaluation-only render may use it: "
                 "pianox data synth piano --reserved --out DIR")


class ReservedError(DataError):
    """Reserved evaluation material was asked for where training material is expected."""


def work_fraction(identifier: str) -> float:
    """The work's position in [0, 1) on the split scale (see module doc)."""
    digest = hashlib.sha256(identifier.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def work_split(identifier: str) -> str:
    """"train", "validation" or "test": the fixed split of the work `identifier`."""
    x = work_fraction(identifier)
    return next(name for name, bound in SPLIT_BOUNDS if x < bound)


def _normalise(corpus_path: str) -> str:
    path = corpus_path.strip().lower().replace("\\", "/")
    for suffix in (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def is_reserved_work(corpus_path: str) -> bool:
    """True for a reserved work or any movement of one (corpus path, with or without suffix)."""
    path = _normalise(corpus_path)
    return any(path == r or path.startswith(r + "/") for r in RESERVED_WORKS)


def is_reserved_soundfont(path: str | os.PathLike) -> bool:
    """True when `path` (or the file a symlink points to) is one of the FluidR3 SoundFonts."""
    p = Path(path)
    names = [str(p)]
    try:
        names.append(str(p.resolve()))
    except OSError:
        pass
    return any(mark in name.lower() for name in names for mark in RESERVED_SOUNDFONT_MARKS)


def refuse_reserved_work(corpus_path: str, what: str = "a training corpus") -> None:
    """ReservedError when `corpus_path` is reserved evaluation material."""
    if is_reserved_work(corpus_path):
        raise ReservedError(f"music21 work {corpus_path!r} is reserved evaluation material "
                            f"(pianox.holdout.RESERVED_WORKS) and cannot be rendered into {what}; "
                            f"{RESERVED_HINT}")


def refuse_reserved_soundfont(path: str | os.PathLike, what: str = "a training corpus") -> None:
    """ReservedError when `path` is a reserved (FluidR3) SoundFont."""
    if is_reserved_soundfont(path):
        raise ReservedError(f"SoundFont {path} is reserved evaluation material (the FluidR3 family) "
                            f"and cannot be used for {what}; {RESERVED_HINT}")


def read_render_stamp(root: str | os.PathLike) -> dict | None:
    """The `RENDER_STAMP` of the corpus at `root` as a dict, or None (a recorded corpus, or an
    unreadable stamp)."""
    try:
        stamp = json.loads((Path(root) / RENDER_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def refuse_evaluation_only(root: str | os.PathLike, split: str) -> None:
    """ReservedError when the corpus at `root` is stamped evaluation-only (it holds reserved
    material) and is asked for as `split` "train" or "validation": it may only be scored."""
    if split not in ("train", "validation"):
        return
    stamp = read_render_stamp(root)
    if stamp is None or not stamp.get("evaluation_only"):
        return
    works = len(stamp.get("reserved_works") or [])
    fonts = ", ".join(stamp.get("reserved_soundfonts") or []) or "no reserved SoundFont"
    raise ReservedError(
        f"{root} is an evaluation-only corpus (its {RENDER_STAMP} says evaluation_only: "
        f"{works} reserved works, {fonts}) and cannot be read as {split} data; nothing may "
        f"train, validate or tune on reserved material. Score its {EVALUATION_SPLIT} split "
        f"instead: pianox eval RUN --set source.root={root} (or pianox transcribe-eval)")


def timbre_overlap(held_out: list[dict], training: list[dict]) -> dict:
    """How the timbres an evaluation calls held out relate to the training timbres: records of
    pianox_synth.soundfont.timbre_record (one per SoundFont preset, with sample digests).

    Returns {"disjoint", "shared_samples", "held_out_samples", "training_samples",
    "held_out", "training"} where the last two name the presets ("file:bank:program name");
    `disjoint` is true only when no sample of a held-out preset is played by a training one."""
    held = {d for r in held_out for d in r.get("samples", [])}
    train = {d for r in training for d in r.get("samples", [])}

    def names(records: list[dict]) -> list[str]:
        return sorted({f"{r.get('soundfont')}:{r.get('bank')}:{r.get('program')} {r.get('preset')}"
                       for r in records})

    return {"disjoint": bool(held) and not (held & train), "shared_samples": len(held & train),
            "held_out_samples": len(held), "training_samples": len(train),
            "held_out": names(held_out), "training": names(training)}


def timbre_report(training_source, evaluated_source, split: str) -> dict | None:
    """`timbre_overlap` of the presets `evaluated_source` plays in `split` against those
    `training_source` plays in its train split; None when either source cannot say (only
    rendered corpora record their presets' samples)."""
    if not (hasattr(training_source, "timbres") and hasattr(evaluated_source, "timbres")):
        return None
    held, training = evaluated_source.timbres(split), training_source.timbres("train")
    if not held or not training:
        return None
    return timbre_overlap(held, training)
