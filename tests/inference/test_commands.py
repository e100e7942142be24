"""The three inference commands over many inputs: folders and globs, one bad file that stops
nothing, --jobs, the summary, and one refusal to overwrite (one error type, exit code 1) for
every command that writes files, checked before any model work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from pianox.errors import OutputError

from robustness.corpus import files_under, write_bad, write_good

COMMANDS = {  # command -> (task, extra arguments, output suffixes per input)
    "transcribe": ("transcription", ["--head", "frames"], {".mid", ".csv"}),
    "drums": ("drums", [], {".mid", ".chart", ".csv"}),
    "rate": ("perception", ["--json"], {".json"}),
}


def _folder(root):
    """in/take1.wav, in/sub/take2.flac (44.1 kHz), in/broken.wav (text) and in/notes.txt."""
    write_good(root / "in" / "take1.wav")
    t = np.arange(44100) / 44100
    (root / "in" / "sub").mkdir(parents=True)
    sf.write(root / "in" / "sub" / "take2.flac", (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    broken, _ = write_bad("text-wav", root / "in")  # notes.wav: a text file named like audio
    (root / "in" / "readme.txt").write_text("not an input")
    return root / "in", broken


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_with_one_bad_file_writes_the_good_ones_and_names_the_bad_one(command, runs, pianox, tmp_path):
    task, extra, suffixes = COMMANDS[command]
    folder, broken = _folder(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = pianox(command, folder, "--model", runs[task], "-o", out, "--quiet", *extra)
    assert code == 1
    assert f"pianox: error: cannot open audio file {broken}: it is not readable audio" in err
    assert f"2 of 3 input(s) done, 1 failed: {broken}" in err
    written = {p.relative_to(out).as_posix() for p in files_under(out)}
    expected = {f"{stem}{s}" for stem in ("take1", "sub/take2") for s in suffixes}
    assert written == expected  # sub-folders kept, nothing for the bad file, no temporaries
    if command == "rate":
        rated = json.loads(stdout)
        assert [r["file"] for r in rated] == [str(folder / "sub" / "take2.flac"), str(folder / "take1.wav")]
        assert json.loads((out / "take1.json").read_text())["ratings"] == rated[1]["ratings"]
        assert "take1.json" in err  # with --json what was written is reported on stderr
    else:
        assert str(out / "take1.mid") in stdout and str(out / "sub" / "take2.mid") in stdout  # even --quiet


def test_globs_jobs_and_a_pattern_that_matches_nothing(runs, pianox, tmp_path):
    folder, _ = _folder(tmp_path)
    one = tmp_path / "one"
    code, _, err = pianox("drums", folder / "**" / "*.flac", folder / "take1.wav", "--model", runs["drums"],
                          "-o", one, "--quiet")
    assert code == 0 and {p.name for p in files_under(one)} == {"take2.mid", "take2.chart", "take2.csv",
                                                                "take1.mid", "take1.chart", "take1.csv"}
    two = tmp_path / "two"
    code, _, err = pianox("drums", folder / "**" / "*.flac", folder / "take1.wav", tmp_path / "nothing-*.wav",
                          "--model", runs["drums"], "-o", two, "--quiet", "--jobs", "2")
    assert code == 1 and "nothing-*.wav: no audio file matches this pattern" in err
    assert (one / "sub" / "take2.mid").is_file()  # a glob match keeps its path below the pattern's folder
    for p in files_under(one):  # two jobs write what one job wrote
        assert (two / p.relative_to(one)).read_bytes() == p.read_bytes()


@pytest.mark.parametrize("command", ["transcribe", "drums", "rate", "eval", "drums-export"])
def test_refusal_to_overwrite_is_one_error_type_with_exit_code_1(command, runs, pianox, tmp_path):
    audio = write_good(tmp_path / "in" / "take.wav")
    out = tmp_path / "out"
    out.mkdir()
    if command == "eval":
        target = out / "report.json"
        args = ["eval", runs["perception"], "-o", target]
    elif command == "drums-export":
        pytest.importorskip("onnx")
        target = out / "model.onnx"
        args = ["drums-export", runs["drums"], "-o", target]
    else:
        task, extra, suffixes = COMMANDS[command]
        target = out / f"take{sorted(suffixes)[0]}"
        args = [command, audio, "--model", runs[task], "-o", out, *extra]
    target.write_text("precious")
    code, stdout, err = pianox(*args)
    assert code == OutputError.exit_code == 1
    assert "pianox: error: " in err and str(target) in err and "pass --overwrite" in err
    assert target.read_text() == "precious" and files_under(out) == [target]


def _help_groups(command: str) -> dict[str, str]:
    """Group heading -> its text in `pianox COMMAND --help`."""
    import contextlib
    import io
    import re

    from pianox.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main([command, "--help"])
    parts = re.split(r"\n(?=[a-z][\w ]*:\n)", buf.getvalue())
    return {p.split(":\n", 1)[0]: p.split(":\n", 1)[1] for p in parts if ":\n" in p}


def test_the_inference_commands_share_option_names_help_text_and_layout():
    groups = {c: _help_groups(c) for c in COMMANDS}
    for command, found in groups.items():
        task = COMMANDS[command][0]
        assert list(found)[:5] == ["options", "inputs and model", "outputs", "running", f"{task} options"]
    assert groups["transcribe"]["running"] == groups["drums"]["running"] == groups["rate"]["running"]
    inputs = {c: " ".join(g["inputs and model"].replace(COMMANDS[c][0], "TASK").split()) for c, g in groups.items()}
    assert inputs["transcribe"] == inputs["drums"] == inputs["rate"]
    for command, found in groups.items():
        for option in ("-o OUTDIR, --out OUTDIR", "--overwrite"):
            assert option in found["outputs"]
    running = _help_groups("eval")["running"]
    assert "--device DEVICE" in running and "--batch-size N" in running
