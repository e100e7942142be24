"""Inference commands and bad inputs or outputs (issue 21): an output folder that cannot be
made (finding 4), a 1-sample file (finding 5), several inputs with failures among them and
--quiet (finding 6), and a model that gives NaN in `pianox eval` and `drums-eval`. Each case
asserts the exit code, that the message names the file, that no traceback is printed (the
`pianox` fixture) and that no partial output remains. Interrupted outputs (finding 10) and an
hour of audio (finding 11) are tests/inference/test_outputs.py and test_memory.py."""

from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf

from .corpus import files_under, write_bad, write_good

COMMANDS = {  # command -> (task, extra arguments, output suffixes per input)
    "transcribe": ("transcription", ["--head", "frames"], {".mid", ".csv"}),
    "drums": ("drums", [], {".mid", ".chart", ".csv"}),
    "rate": ("perception", ["--json"], {".json"}),
}


@pytest.mark.parametrize("command", ["transcribe", "drums", "rate", "eval"])
@pytest.mark.parametrize("case", ["a file", "under a file", "not creatable"])
def test_an_output_folder_that_cannot_be_made_stops_the_command_before_any_model_work(command, case, pianox,
                                                                                       tmp_path):
    """Issue 21, finding 4: -o is a file, lies under a file, or cannot be created — one clear
    error naming it, before the model is even looked at (the model here does not exist)."""
    audio = write_good(tmp_path / "in" / "take.wav")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = {"a file": blocker, "under a file": blocker / "out",
           "not creatable": tmp_path.anchor + "proc/pianox-cannot-create-this"}[case]
    if command == "eval":
        report = blocker if case == "a file" else f"{out}/report.json"
        code, _, err = pianox("eval", tmp_path / "no-such-run", "-o", report)
        out = report if case == "a file" else out
    else:
        extra = COMMANDS[command][1]
        code, _, err = pianox(command, audio, "--model", tmp_path / "no-such-run", "-o", out, *extra)
    assert code == 1 and str(out) in err and "no-such-run" not in err, err
    if case == "a file" and command != "eval":
        assert "is a file, not a folder" in err
    assert blocker.read_text() == "a file"


def test_a_one_sample_file_transcribes_to_empty_outputs(runs, pianox, tmp_path):
    """Issue 21, finding 5: a 1-sample file crashed `pianox drums`."""
    sf.write(tmp_path / "one.wav", np.array([0.3], np.float32), 16000)
    for command, (task, extra, suffixes) in COMMANDS.items():
        out = tmp_path / command
        code, _, err = pianox(command, tmp_path / "one.wav", "--model", runs[task], "-o", out, *extra)
        assert code == 0, err
        assert {p.suffix for p in files_under(out)} == suffixes
    rows = (tmp_path / "drums" / "one.csv").read_text().splitlines()
    assert rows == ["time_s,class,class_name,midi_pitch,velocity,confidence"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_several_inputs_with_quiet_say_what_was_written_and_what_failed(command, runs, pianox, tmp_path):
    """Finding 6: processing stopped at the first bad file, and with --quiet nothing said which
    outputs were written."""
    task, extra, suffixes = COMMANDS[command]
    first = write_good(tmp_path / "in" / "first.wav")
    bad, phrase = write_bad("huge", tmp_path / "in")
    last = write_good(tmp_path / "in" / "last.wav")
    out = tmp_path / "out"
    code, stdout, err = pianox(command, first, bad, last, "--model", runs[task], "-o", out, "--quiet", *extra)
    assert code == 1 and str(bad) in err and phrase in err
    assert f"2 of 3 input(s) done, 1 failed: {bad}" in err
    said = stdout + err
    for stem in ("first", "last"):
        for suffix in suffixes:
            assert (out / f"{stem}{suffix}").is_file() and str(out / f"{stem}{suffix}") in said
    assert not [p for p in files_under(out) if p.stem == bad.stem]


def test_eval_of_a_model_that_gives_nan_is_an_error_not_nan_metrics(nan_runs, pianox, tmp_path):
    report = tmp_path / "report.json"
    code, stdout, err = pianox("eval", nan_runs["perception"], "--split", "test", "-o", report)
    assert code == 1 and str(nan_runs["perception"]) in err and "encoder states hold" in err, err
    assert "non-finite" in err and "nan" not in stdout.lower() and not report.exists()


def test_drums_eval_names_the_file_whose_posteriors_are_not_finite(nan_runs, pianox):
    code, stdout, err = pianox("drums-eval", nan_runs["drums"], "--split", "test", "--bootstrap", "0",
                               "--device", "cpu")
    assert code == 1 and "onset posteriors hold" in err and "waveform" not in err, err
    assert "example test-0000: " in err and "f1" not in stdout  # the dummy source's audio is in memory; no report
