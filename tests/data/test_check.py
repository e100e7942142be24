"""`pianox data check`: every problem of a corpus listed, exit code 1, no crash; CLI wiring."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import soundfile as sf

from pianox import cli_data
from pianox.errors import PluginError
from pianox.sources.check import check_corpus
from pianox.sources.percepiano import LABEL_FILE

from .conftest import FIXTURES

TRAIN = "2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1"
TEST = "2004/MIDI-Unprocessed_XP_14_R1_2004_01-03_ORIG_MID--AUDIO_14_R1_2004_03_Track03_wav"


def _cli(argv):
    parser = argparse.ArgumentParser(prog="pianox")
    cli_data.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.parametrize("source", ["maestro", "egmd", "percepiano"])
def test_clean_fixtures_have_no_problems(source, capsys):
    assert check_corpus(source, FIXTURES / source, full=True) == []
    assert _cli(["data", "check", source, str(FIXTURES / source)]) == 0
    assert "no problems" in capsys.readouterr().out


def test_maestro_problems_are_all_listed(corpus_copy, capsys):
    root = corpus_copy("maestro")
    (root / f"{TRAIN}.wav").unlink()
    (root / f"{TEST}.midi").write_bytes(b"MThd broken")
    y = np.zeros(8000 * 3, np.float32)
    y[100] = np.nan
    stem = "2017/MIDI-Unprocessed_066_PIANO066_MID--AUDIO-split_07-07-17_Piano-e_3-02_wav--3"
    sf.write(root / f"{stem}.wav", y, 8000, subtype="FLOAT")  # NaN, and 3 s instead of 1 s
    problems = check_corpus("maestro", root, full=True)
    text = "\n".join(problems)
    assert len(problems) == 3, text
    assert f"audio file not found: {root / TRAIN}.wav" in text
    assert "cannot parse MIDI file" in text and "EOFError: the file ends early" in text
    assert f"{stem}.wav holds 1 non-finite samples" in text  # reported before the timing check
    assert _cli(["data", "check", "maestro", str(root), "--full"]) == 1
    out = capsys.readouterr()
    assert out.out.count("\n") == 3 and "3 problem(s)" in out.err


def test_duration_mismatch_and_truncation_without_full(corpus_copy):
    root = corpus_copy("egmd")
    stem = "drummer3/session2/12_rock_100_fill_4-4_1"
    sf.write(root / f"{stem}.wav", np.zeros(8000 * 3, np.float32), 8000, subtype="PCM_16")
    wav = root / "drummer1/eval_session/1_funk-groove1_138_beat_4-4_2.wav"
    wav.write_bytes(wav.read_bytes()[:5000])
    problems = check_corpus("egmd", root)
    assert len(problems) == 2
    assert sum(f"{stem}: index says 1.00 s but" in p and "lasts 3.00 s" in p for p in problems) == 1
    assert sum("_4-4_2.wav is truncated: its header declares 8000 samples" in p
               for p in problems) == 1


def test_percepiano_label_and_audio_problems(corpus_copy):
    root = corpus_copy("percepiano")
    labels = json.loads((root / LABEL_FILE).read_text())
    labels["Schubert_D935_no.3_4bars_1_25"][3] = float("nan")
    (root / LABEL_FILE).write_text(json.dumps(labels))
    (root / "audio" / "Schubert_D935_no.3_4bars_12_25.wav").write_bytes(b"")
    problems = check_corpus("percepiano", root)
    assert len(problems) == 2
    assert "Pedal_Sparse/dry_Saturated/wet = nan is not in [0, 1]" in problems[0]
    assert "Schubert_D935_no.3_4bars_12_25: cannot open audio file" in problems[1]


def test_missing_root_or_index_is_a_problem_not_a_crash(tmp_path):
    (lines,) = [check_corpus("maestro", tmp_path / "absent")]
    assert len(lines) == 1 and "does not exist" in lines[0]
    (lines,) = [check_corpus("percepiano", tmp_path)]
    assert len(lines) == 1 and "label file" in lines[0]
    assert _cli(["data", "check", "egmd", str(tmp_path), "--quiet"]) == 1


def test_unknown_source_is_a_plugin_error():
    with pytest.raises(PluginError, match="unknown pianox.sources plugin 'nope'"):
        _cli(["data", "check", "nope", str(FIXTURES)])


def test_data_command_requires_a_subcommand():
    with pytest.raises(SystemExit):
        _cli(["data"])
    with pytest.raises(SystemExit):
        _cli(["data", "synth", "musicnet", "--out", "x"])
