"""bench/ratio_report.py: a session's speed ratios as JSON, a Markdown table and a bar chart."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _ratio_report():
    spec = importlib.util.spec_from_file_location("bench_ratio_report", BENCH / "ratio_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_report_files_say_which_ratios_meet_their_targets(tmp_path):
    report = _ratio_report()
    ratios = [report.Ratio("frontend", "fbank 10 s B=1 threads=1 vs torch_fbank", "torch ops", 4.5, 3.0, "2 ms"),
              report.Ratio("model", "ast tiny train", "transformers.ASTModel", 0.8, 1.0)]
    paths = report.write_report(ratios, tmp_path / "out", machine_name="test machine, 2 cores")

    data = json.loads(paths["json"].read_text())
    assert data["machine"] == "test machine, 2 cores"
    assert [(r["suite"], r["ratio"], r["target"], r["met"]) for r in data["ratios"]] == [
        ("frontend", 4.5, 3.0, True), ("model", 0.8, 1.0, False)]

    table = paths["md"].read_text()
    assert "Machine: test machine, 2 cores." in table and "1 of 2 ratios meet their target." in table
    rows = [line for line in table.splitlines() if line.startswith("| frontend") or line.startswith("| model")]
    assert rows == ["| frontend | fbank 10 s B=1 threads=1 vs torch_fbank | torch ops | 4.50x | >= 3 | yes | 2 ms |",
                    "| model | ast tiny train | transformers.ASTModel | 0.80x | >= 1 | **no** |  |"]

    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = report.summary_lines(ratios)
    assert "met" in lines[0] and "MISSED" in lines[1]


def test_machine_names_cpu_and_cores():
    import os

    text = _ratio_report().machine()
    assert f"{os.cpu_count()} cores" in text and "Python" in text
