"""The bad-audio corpus over every command that reads audio: transcribe, drums, rate (a file
given on the command line) and eval, run, data check (a file inside a corpus).

Each case asserts the exit code, that the message names the file and says what is wrong, that
no traceback is printed and that no partial output remains. Findings 3 (finite but absurd
samples such as 1e30) and 9 (a text file named .mp3) of issue 21 are the "huge" and
"text-mp3" cases.
"""

from __future__ import annotations

import json
import shutil

import pytest

from .corpus import BAD_AUDIO, files_under, spoil_corpus, write_bad

CASES = sorted(BAD_AUDIO)


def _inference_args(command: str, audio, runs, out) -> list:
    if command == "transcribe":
        return ["transcribe", audio, "--model", runs["transcription"], "-o", out, "--quiet"]
    if command == "drums":
        return ["drums", audio, "--model", runs["drums"], "-o", out]
    return ["rate", audio, "--model", runs["perception"], "--json"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["transcribe", "drums", "rate"])
def test_inference_commands_refuse_bad_audio(command, case, runs, pianox, tmp_path):
    bad, phrase = write_bad(case, tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = pianox(*_inference_args(command, bad, runs, out))
    assert code == 1
    assert str(bad) in err and phrase in err, err
    assert files_under(out) == []  # nothing written for a file that failed
    if command == "rate":
        assert "[" not in stdout  # no partial JSON (and no NaN ratings)


@pytest.fixture
def spoiled(corpus, tmp_path):
    """A copy of the corpus with every audio file replaced by the bad file of a case."""
    def spoil(case: str):
        root = tmp_path / "corpus"
        shutil.copytree(corpus, root)
        return root, spoil_corpus(root, case)

    return spoil


def _names_a_corpus_file(text: str, root) -> bool:
    return any(p.stem in text for p in (root / "audio").glob("*.wav"))


@pytest.mark.parametrize("case", CASES)
def test_eval_refuses_a_corpus_with_bad_audio(case, runs, spoiled, pianox, tmp_path):
    root, phrase = spoiled(case)
    report = tmp_path / "report.json"
    code, stdout, err = pianox("eval", runs["perception"], "--set", f"source.root={root}", "--split", "test",
                               "-o", report)
    assert code == 1 and phrase in err and _names_a_corpus_file(err, root), err
    assert not report.exists() and "test/" not in stdout


@pytest.mark.parametrize("case", CASES)
def test_run_refuses_a_corpus_with_bad_audio(case, runs, spoiled, pianox, tmp_path):
    root, phrase = spoiled(case)
    config = (runs["perception"] / "config.toml").read_text()
    exp = tmp_path / "exp.toml"
    exp.write_text(config)
    out = tmp_path / "runs"
    code, _, err = pianox("run", exp, "--quiet", "--set", f"source.root={root}", "--set", f"run.output_dir={out}",
                          "--set", "train.epochs=1")
    assert code == 1 and phrase in err and _names_a_corpus_file(err, root), err
    for run in out.glob("*"):  # a run that started records its failure, and nothing else of value
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "failed" and phrase in status["error"]
        assert not (run / "results.json").exists() and files_under(run / "checkpoints") == []


@pytest.mark.parametrize("case", CASES)
def test_data_check_lists_every_bad_file(case, spoiled, pianox):
    root, phrase = spoiled(case)
    code, stdout, err = pianox("data", "check", "percepiano", root, "--quiet")
    assert code == 1 and "problem(s)" in err
    code, stdout, err = pianox("data", "check", "percepiano", root)
    lines = [line for line in stdout.splitlines() if phrase in line]
    assert code == 1 and len(lines) == len(list((root / "audio").glob("*.wav"))), stdout


def test_decoder_noise_goes_into_the_error_not_onto_the_terminal(tmp_path, capfd):
    from pianox.audio import read_audio
    from pianox.errors import AudioError

    bad, _ = write_bad("text-mp3", tmp_path)
    with pytest.raises(AudioError) as error:
        read_audio(bad)
    assert capfd.readouterr().err == ""  # mpg123's "Note: Illegal Audio-MPEG-Header" is not printed...
    message = str(error.value)
    assert "it is not readable audio" in message and "does not exist" not in message
    assert "(decoder: Note: Illegal Audio-MPEG-Header" in message  # ...it is in the error
