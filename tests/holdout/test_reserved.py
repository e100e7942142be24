"""Reserved evaluation material (the FluidR3 SoundFonts and six music21 works) is refused by
every training renderer."""

from __future__ import annotations

import dataclasses

import pytest

from pianox.holdout import RESERVED_WORKS, ReservedError, is_reserved_soundfont, is_reserved_work
from pianox_synth.render import resolve_soundfont
from pianox_synth.scores import CATALOGUE, load_score


def test_no_reserved_work_is_in_the_catalogue():
    assert not [w.corpus_path for w in CATALOGUE if is_reserved_work(w.corpus_path)]


@pytest.mark.parametrize("path", ["mozart/k155/movement1", "bach/bwv66.6", "bach/bwv66.6.mxl",
                                  "haydn/opus74no1/movement4", "schumann_clara/opus17/movement3",
                                  "beethoven/opus18no1/movement3"])
def test_reserved_works_are_refused(path):
    assert is_reserved_work(path)
    work = dataclasses.replace(CATALOGUE[0], corpus_path=path, slug="x")
    with pytest.raises(ReservedError, match="reserved evaluation material"):
        load_score(work)


def test_neighbours_of_reserved_works_are_not_reserved():
    for path in ("beethoven/opus18no1/movement2", "bach/bwv66", "mozart/k156/movement1", "bach/bwv2690"):
        assert not is_reserved_work(path)
    assert len(RESERVED_WORKS) == 6


@pytest.mark.parametrize("name", ["FluidR3_GM.sf2", "FluidR3_GS.sf2", "FluidR3Mono_GM.sf3"])
def test_fluidr3_soundfonts_are_refused_also_through_a_link(tmp_path, name):
    font = tmp_path / name
    font.write_bytes(b"RIFF\0\0\0\0sfbk")
    link = tmp_path / "default-GM.sf2"
    link.symlink_to(font)
    for path in (font, link):
        assert is_reserved_soundfont(path)
        with pytest.raises(ReservedError, match="reserved evaluation material"):
            resolve_soundfont(path)
    assert resolve_soundfont(font, reserved_ok=True) == font
