"""End to end on a tiny trained run: finish's outputs, `pianox rate`, rollout, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianox.audio import write_audio
from pianox.cli import main
from pianox.sources.percepiano import DIMENSIONS


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """`pianox ARGS` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_finish_writes_predictions_results_and_plots(trained_run):
    status = json.loads((trained_run / "status.json").read_text())
    assert status["state"] == "finished"
    table = json.loads((trained_run / "perception_results.json").read_text())
    assert table["split"] == "test" and [d["name"] for d in table["dimensions"]] == list(DIMENSIONS)
    for row in table["dimensions"]:
        if row["pearson"] is not None and row["pearson_ci"][0] is not None:
            assert row["pearson_ci"][0] <= row["pearson"] + 1e-9 <= row["pearson_ci"][1] + 2e-9
    assert table["splits"]["split_by"] == "piece"
    preds = json.loads((trained_run / "predictions" / "test.json").read_text())
    assert len(preds["clips"]) == table["clips"] == 4 and np.array(preds["pred"]).shape == (4, 19)
    assert "| **mean (19)** |" in (trained_run / "perception_results.md").read_text()
    for png in ("perception_results.png", "rollout_0.png", "curves.png"):
        assert (trained_run / "plots" / png).read_bytes()[:4] == b"\x89PNG"


def test_rate_json_has_the_19_named_ratings_per_file(trained_run, tmp_path, cli, capsys):
    sr = 16000
    t = np.arange(int(2.6 * sr)) / sr
    files = []
    for i, amp in enumerate((0.1, 0.6)):
        path = tmp_path / f"clip{i}.wav"
        write_audio(path, (amp * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
        files.append(str(path))
    res = cli("rate", *files, "--model", str(trained_run), "--json", "--segment-seconds", "1.0")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [r["file"] for r in out] == files
    for r in out:
        assert set(r) == {"file", "ratings"} and list(r["ratings"]) == list(DIMENSIONS)
        assert all(0.0 <= v <= 1.0 for v in r["ratings"].values())
    code, stdout, _ = run_main(capsys, "rate", files[0], "--model", str(trained_run / "checkpoints" / "best"),
                               "--json", "--segments", "--segment-seconds", "1.0")
    assert code == 0
    got = json.loads(stdout)[0]
    starts = [s["start"] for s in got["segments"]]
    assert starts == [0.0, 1.0, 1.6] and got["segments"][-1]["end"] == pytest.approx(2.6)
    mean = np.mean([[s["ratings"][d] for d in DIMENSIONS] for s in got["segments"]], axis=0)
    np.testing.assert_allclose([got["ratings"][d] for d in DIMENSIONS], mean, atol=2e-4)
    code, stdout, _ = run_main(capsys, "rate", files[0], "--model", str(trained_run))
    assert code == 0 and "Timing_Stable_Unstable" in stdout and "clip0.wav" in stdout


def test_rate_errors_name_the_problem(trained_run, tmp_path, capsys):
    code, _, err = run_main(capsys, "rate", str(tmp_path / "nope.wav"), "--model", str(trained_run))
    assert code == 1 and "audio file not found" in err and "nope.wav" in err
    corrupt = tmp_path / "bad.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    code, _, err = run_main(capsys, "rate", str(corrupt), "--model", str(trained_run))
    assert code == 1 and "cannot open audio file" in err and "bad.wav" in err
    good = tmp_path / "ok.wav"
    write_audio(good, np.zeros(1600, np.float32) + 0.1, 16000)
    code, _, err = run_main(capsys, "rate", str(good), "--model", str(tmp_path))
    assert code == 1 and "neither a run directory" in err
    code, _, err = run_main(capsys, "rate", str(good), "--model", str(tmp_path / "missing-run"))
    assert code == 1 and "no such run directory" in err
    ssast = tmp_path / "ssast-run"
    (ssast / "checkpoints" / "best").mkdir(parents=True)
    text = (trained_run / "config.toml").read_text().replace('kind = "perception"', 'kind = "ssast"')
    (ssast / "config.toml").write_text(text.split("[task]")[0] + '[task]\nkind = "ssast"\n\n[backend]' +
                                       text.split("[backend]")[1])
    code, _, err = run_main(capsys, "rate", str(good), "--model", str(ssast))
    assert code == 1 and "is a 'ssast' run, not a 'perception' run" in err


def test_rollout_command_writes_a_png(trained_run, tmp_path, capsys):
    sr = 16000
    path = tmp_path / "tone.wav"
    write_audio(path, (0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32), sr)
    out = tmp_path / "rollout.png"
    code, _, err = run_main(capsys, "perception", "rollout", str(path), "--model", str(trained_run), "--out", str(out))
    assert code == 0, err
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_compare_command_on_a_run_against_itself(trained_run, capsys):
    code, stdout, _ = run_main(capsys, "perception", "compare", str(trained_run), "--baseline", str(trained_run),
                               "--json")
    assert code == 0
    got = json.loads(stdout)
    assert got["clips"] == 4 and got["p"] == 1.0 and got["mse_diff"] == 0.0
