"""Outputs (pianox.inference.outputs): published together or not at all, never half-written,
and what a killed run left behind is cleaned (or completed) by the next run in that folder
(issue 21, finding 10: a 0-byte hidden .tmp, or a .mid without its .csv, after kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pianox.errors import OutputError
from pianox.inference.inputs import Input, expand_inputs
from pianox.inference.outputs import check_file, clean_stale, plan_outputs, prepare_dir, publish

from robustness.corpus import files_under, write_good


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _writer(text):
    return lambda tmp: tmp.write_text(text)


def test_publish_puts_every_file_in_place_or_none(tmp_path):
    a, b = tmp_path / "take.mid", tmp_path / "take.csv"
    assert publish({a: _writer("midi"), b: _writer("csv")}) == [a, b]
    assert a.read_text() == "midi" and b.read_text() == "csv" and files_under(tmp_path) == [b, a]

    def fails(tmp):
        tmp.write_text("half")
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="writer broke"):
        publish({tmp_path / "other.mid": _writer("midi"), tmp_path / "other.csv": fails})
    assert files_under(tmp_path) == [b, a]  # neither file of the pair, no temporaries
    with pytest.raises(OutputError, match="take.mid appeared while this input ran; pass --overwrite"):
        publish({a: _writer("new")})
    assert a.read_text() == "midi"
    publish({a: _writer("new")}, overwrite=True)
    assert a.read_text() == "new"


def test_the_next_run_cleans_a_dead_runs_temporaries_and_completes_its_renames(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    out = tmp_path / "out"
    out.mkdir()
    # a run killed while writing: temporaries, no manifest -> removed
    (out / f".a.mid.{dead}-0badc0de.tmp.mid").write_text("half")
    (out / ".a.csv.x1y2z3ab.tmp").write_text("")  # an atomic_path temp of a planned target
    # a run killed during its renames: manifest + one temporary left -> completed
    (out / "b.mid").write_text("new midi")
    (out / f".b.csv.{dead}-12345678.tmp.csv").write_text("new csv")
    pairs = [[str(out / f".b.mid.{dead}-12345678.tmp.mid"), str(out / "b.mid")],
             [str(out / f".b.csv.{dead}-12345678.tmp.csv"), str(out / "b.csv")]]
    (out / f".b.mid.{dead}-12345678.publish").write_text(json.dumps(pairs))
    # a live run's temporary -> left alone
    (out / f".c.mid.{live}-abcdef01.tmp.mid").write_text("in progress")
    clean_stale(out, [out / "a.mid", out / "a.csv"])
    names = sorted(p.name for p in out.iterdir())
    assert names == [f".c.mid.{live}-abcdef01.tmp.mid", "b.csv", "b.mid"]
    assert (out / "b.csv").read_text() == "new csv"


def test_targets_are_checked_before_work(tmp_path):
    write_good(tmp_path / "in" / "a" / "take.wav")
    write_good(tmp_path / "in" / "b" / "take.wav")
    inputs, missing = expand_inputs([tmp_path / "in", tmp_path / "in" / "a" / "take.wav"])
    assert [i.name.as_posix() for i in inputs] == ["a/take", "b/take"] and missing == []  # listed once
    flat = [Input(i.path, type(i.name)(i.name.name)) for i in inputs]
    with pytest.raises(OutputError, match=r"would write the same outputs \(.*take\.mid\)"):
        plan_outputs(flat, tmp_path / "out", {"midi": ".mid"})
    with pytest.raises(OutputError, match="would replace an input file"):
        plan_outputs(inputs, tmp_path / "in", {"audio": ".wav"})
    targets = plan_outputs(inputs, tmp_path / "out", {"midi": ".mid", "csv": ".csv"})
    assert [t.paths["csv"] for t in targets] == [tmp_path / "out" / "a" / "take.csv", tmp_path / "out" / "b" / "take.csv"]
    (tmp_path / "out" / "b" / "take.csv").write_text("x")
    with pytest.raises(OutputError, match=r"1 output file\(s\) already exist: .*b/take.csv; pass --overwrite"):
        plan_outputs(inputs, tmp_path / "out", {"midi": ".mid", "csv": ".csv"})
    with pytest.raises(OutputError, match="is a file, not a folder"):
        prepare_dir(tmp_path / "out" / "b" / "take.csv")
    with pytest.raises(OutputError, match="report .*report.json is a folder"):
        (tmp_path / "report.json").mkdir()
        check_file(tmp_path / "report.json", False, "report")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_leaves_pairs_whole_and_the_next_run_clean(runs, tmp_path):
    """Kill `pianox transcribe` of 12 files at some point of its work: every transcription
    present has both of its files; rerunning finishes the rest and leaves no temporary."""
    for k in range(12):
        write_good(tmp_path / "in" / f"take{k:02d}.wav")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "pianox.cli", "transcribe", str(tmp_path / "in"), "--model",
            str(runs["transcription"]), "-o", str(out), "--quiet", "--head", "frames", "--device", "cpu"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and len(list(out.glob("*.csv"))) >= 3):
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stems = {p.stem for p in out.iterdir() if not p.name.startswith(".")}
    for stem in stems:
        assert (out / f"{stem}.mid").is_file() and (out / f"{stem}.csv").is_file(), stem
    done = subprocess.run(args + ["--overwrite"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"take{k:02d}{s}" for k in range(12) for s in (".csv", ".mid"))
