"""The evaluation-only render of the reserved material (`pianox data synth piano --reserved`):
only the reserved works, all in split test, a stamp that says evaluation_only, refused as
training data, deterministic and atomic; without --reserved the material stays refused."""

from __future__ import annotations

import argparse
import re
import json
from pathlib import Path

import pytest

import pianox_synth
from pianox import cli_data
from pianox.errors import ConfigError
from pianox.holdout import RESERVED_WORKS, ReservedError, is_reserved_work, timbre_report
from pianox.sources.check import check_corpus
from pianox.sources.maestro import MaestroSource
from pianox_synth import cli as synth_cli
from pianox_synth import piano_corpus, render, reserved_corpus
from pianox_synth.corpus import STAMP
from pianox_synth.perform import PerformanceParams
from pianox_synth.scores import RESERVED_CATALOGUE, load_score
from pianox_synth.soundfont import timbre_record

FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SECONDS = 2.0
"""Each piece cut to about its first 2 s of music (the hidden --max-seconds), to keep tests fast."""


@pytest.fixture(scope="module")
def score_cache(tmp_path_factory):
    """One music21 score cache for the module (the data tests' cache is per test)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIANOX_SCORE_CACHE", str(tmp_path_factory.mktemp("scores")))
        yield


@pytest.fixture(scope="module")
def reserved(score_cache, tmp_path_factory):
    """The evaluation-only corpus on TimGM6mb, with rooms, each piece cut short, rendered once."""
    out = tmp_path_factory.mktemp("reserved") / "eval"
    return pianox_synth.synthesize("piano", out, reserved=True, soundfont="timgm6mb", seed=1,
                                   jobs=1, max_seconds=SECONDS)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="pianox")
    sub = parser.add_subparsers(dest="command", required=True)
    synth_cli.register(sub)
    cli_data.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_the_catalogue_is_every_reserved_movement_of_music21s_corpus():
    from music21 import common, corpus

    base = Path(common.getCorpusFilePath())
    found = {str(Path(p).relative_to(base).with_suffix("")) for p in corpus.getPaths()}
    reserved = {p for p in found if is_reserved_work(p)}
    assert reserved == {w.corpus_path for w in RESERVED_CATALOGUE}
    assert all(any(is_reserved_work(w.corpus_path) and w.corpus_path.startswith(r)
                   for w in RESERVED_CATALOGUE) for r in RESERVED_WORKS)


def test_only_reserved_works_all_in_test_and_the_stamp_says_evaluation_only(reserved):
    assert check_corpus("maestro", reserved, full=True) == []
    recs, problems = MaestroSource.read_index(reserved)
    assert not len(problems) and len(recs) == len(RESERVED_CATALOGUE) == 11
    assert {r.split for r in recs} == {"test"}
    facts = json.loads((reserved / piano_corpus.INDEX).read_text())
    assert sorted(f["work"] for f in facts.values()) == sorted(w.corpus_path for w in RESERVED_CATALOGUE)
    assert all(is_reserved_work(f["work"]) and f["kind"] == "work" for f in facts.values())
    assert all(Path(name).name.startswith("PianoX-Reserved_") for name in facts)
    assert all(f["soundfont"] == "TimGM6mb.sf2" and f["notes"] > 0 for f in facts.values())
    assert max(r.duration for r in recs) < 20  # cut short: about 2 s of music + lead-in, tails
    stamp = json.loads((reserved / STAMP).read_text())
    assert stamp["evaluation_only"] is True and stamp["items"] == 11
    assert stamp["reserved_works"] == [w.corpus_path for w in RESERVED_CATALOGUE]
    assert stamp["reserved_soundfonts"] == []  # TimGM6mb is not reserved
    assert stamp["params"]["splits"] == ["test"] and stamp["params"]["max_seconds"] == SECONDS
    assert len(stamp["timbres"]["TimGM6mb.sf2"]["samples"]) == 9


def test_training_refuses_the_corpus_and_scoring_its_test_split_works(reserved, tmp_path):
    for split in ("train", "validation"):
        source = MaestroSource(MaestroSource.Config(root=str(reserved), segment_seconds=2.0))
        refused = f"{re.escape(str(reserved))}.*evaluation-only.*{split} data"
        with pytest.raises(ReservedError, match=refused):
            source.examples(split)
    disguised = MaestroSource(MaestroSource.Config(root=str(reserved), splits={"train": ["test"]}))
    with pytest.raises(ReservedError, match="evaluation-only"):
        disguised.examples("train")  # mapping the official test split to train changes nothing
    source = MaestroSource(MaestroSource.Config(root=str(reserved), segment_seconds=2.0))
    assert len(source.recordings("test")) == 11  # what pianox transcribe-eval scores
    example = source.examples("test")[0]
    assert example.meta["split"] == "test" and example.targets["notes"].shape[1] == 4

    from pianox.config import load_experiment
    from pianox.runner import run_experiment

    smoke = Path(__file__).resolve().parents[2] / "experiments" / "smoke" / "transcription.toml"
    text = smoke.read_text()
    head, rest = text.split("[source]", 1)
    exp_file = tmp_path / "train_on_reserved.toml"
    exp_file.write_text(f'{head}[source]\nkind = "maestro"\nroot = "{reserved}"\n'
                        f'segment_seconds = 1.0\n\n[features]{rest.split("[features]", 1)[1]}')
    exp = load_experiment(exp_file, [f"run.output_dir={tmp_path / 'runs'}"])
    with pytest.raises(ReservedError, match=f"{re.escape(str(reserved))}.*evaluation-only.*train data"):
        run_experiment(exp, quiet=True)
    assert not (tmp_path / "runs").exists()  # refused before a run directory exists


def _trained_on_timgm6mb(tmp_path: Path) -> MaestroSource:
    """A training source whose stamp says it played TimGM6mb's piano (all timbre_report reads)."""
    root = tmp_path / "training"
    root.mkdir()
    tim = timbre_record(render.default_soundfont(), 0, 0)
    (root / STAMP).write_text(json.dumps({"timbres": {"TimGM6mb.sf2": tim}}))
    return MaestroSource(MaestroSource.Config(root=str(root)))


def test_timbre_report_compares_the_evaluated_piano_with_the_training_ones(reserved, tmp_path):
    evaluated = MaestroSource(MaestroSource.Config(root=str(reserved)))
    report = timbre_report(_trained_on_timgm6mb(tmp_path), evaluated, "test")
    assert report["disjoint"] is False and report["shared_samples"] == 9  # the same piano
    assert report["held_out"] == report["training"] == ["TimGM6mb.sf2:0:0 Piano 1"]


def test_same_seed_same_bytes_whatever_jobs(reserved, tmp_path):
    again = pianox_synth.synthesize("piano", tmp_path / "again", reserved=True, soundfont="timgm6mb",
                                    seed=1, jobs=2, max_seconds=SECONDS)
    files = sorted(p.relative_to(reserved) for p in reserved.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (reserved / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_a_crash_leaves_no_corpus(score_cache, tmp_path, monkeypatch):
    def boom(item):
        raise RuntimeError("renderer died")

    monkeypatch.setattr(reserved_corpus, "_render", boom)
    with pytest.raises(RuntimeError, match="renderer died"):
        pianox_synth.synthesize("piano", tmp_path / "eval", reserved=True, soundfont="timgm6mb",
                                jobs=1, max_seconds=SECONDS)
    assert list(tmp_path.iterdir()) == []  # no corpus, no staging folder


def test_without_reserved_the_material_stays_refused(tmp_path):
    for font in ("fluidr3", str(FLUIDR3)):  # by name or path, installed or not
        with pytest.raises(ReservedError, match="FluidR3_GM.sf2.*--reserved"):
            _cli(["data", "synth", "piano", "--out", str(tmp_path / "c"), "--soundfont", font,
                  "--quiet"])
        with pytest.raises(ReservedError, match="FluidR3_GM.sf2.*--reserved"):
            _cli(["data", "synth", "maestro", "--out", str(tmp_path / "m"), "--soundfont", font])
    work = RESERVED_CATALOGUE[0]
    with pytest.raises(ReservedError, match="bwv66.6.*--reserved"):
        load_score(work)
    item = {"kind": "work", "work": work, "params": PerformanceParams(), "seed": 0, "stem": "x",
            "first_bar": 0, "num_bars": 2}
    with pytest.raises(ReservedError, match="bwv66.6.*--reserved"):
        piano_corpus.performance_of(item)  # only the evaluation-only render's items may
    assert not any(p.exists() for p in (tmp_path / "c", tmp_path / "m"))


@pytest.mark.parametrize("extra,message", [
    (["--hours", "1"], "--hours cannot be combined with --reserved"),
    (["--minutes", "3"], "--minutes cannot be combined with --reserved"),
    (["--etude-share", "0.5", "--splits", "test"], "--etude-share, --splits cannot be combined"),
    (["--soundfont", "timgm6mb", "--soundfont", "csound"], "one --soundfont"),
])
def test_training_options_are_refused_with_reserved(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        _cli(["data", "synth", "piano", "--reserved", "--out", str(tmp_path / "c"), *extra])
    assert not (tmp_path / "c").exists()


def test_reserved_and_its_test_knob_belong_to_the_piano_corpus(tmp_path):
    with pytest.raises(ConfigError, match="--reserved only applies to the piano corpus"):
        _cli(["data", "synth", "maestro", "--reserved", "--out", str(tmp_path / "m")])
    with pytest.raises(ConfigError, match="--max-seconds only applies to --reserved"):
        _cli(["data", "synth", "piano", "--max-seconds", "2", "--out", str(tmp_path / "c")])


def test_fluidr3_alias_resolves_for_an_evaluation_only_render(monkeypatch, tmp_path):
    if FLUIDR3.is_file():
        assert render.resolve_soundfont("fluidr3", reserved_ok=True) == FLUIDR3
    absent = (str(tmp_path / "FluidR3_GM.sf2"),)
    monkeypatch.setitem(render.KNOWN_SOUNDFONTS, "fluidr3", (absent, "fluid-soundfont-gm"))
    with pytest.raises(ConfigError, match="apt-get install fluid-soundfont-gm"):
        render.resolve_soundfont("fluidr3", reserved_ok=True)
    if not FLUIDR3.is_file():
        pytest.skip("FluidR3 not installed (apt-get install fluid-soundfont-gm)")


def test_cli_renders_the_reserved_works_on_fluidr3(score_cache, tmp_path, capsys):
    if not FLUIDR3.is_file():
        pytest.skip("FluidR3 not installed (apt-get install fluid-soundfont-gm)")
    out = tmp_path / "eval"
    assert _cli(["data", "synth", "piano", "--reserved", "--out", str(out), "--no-acoustics",
                 "--max-seconds", "1", "--seed", "2", "--jobs", "1"]) == 0
    assert "wrote the evaluation-only corpus of reserved material" in capsys.readouterr().out
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["evaluation_only"] is True and stamp["reserved_soundfonts"] == ["FluidR3_GM.sf2"]
    assert stamp["params"]["soundfonts"] == ["FluidR3_GM.sf2"] and stamp["params"]["acoustics"] is False
    assert stamp["timbres"]["FluidR3_GM.sf2"]["preset"] == "Yamaha Grand Piano"
    evaluated = MaestroSource(MaestroSource.Config(root=str(out)))
    with pytest.raises(ReservedError, match="FluidR3_GM.sf2"):
        evaluated.examples("train")
    report = timbre_report(_trained_on_timgm6mb(tmp_path), evaluated, "test")
    assert report["disjoint"] is True and report["held_out_samples"] == 40
    assert report["shared_samples"] == 0 and report["training_samples"] == 9
