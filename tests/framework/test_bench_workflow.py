"""The README's regression workflow, end to end on one small front-end case: store a baseline
with `--benchmark-autosave`, compare with `--benchmark-compare-fail`, and see the compare fail
when pianox is made slower (PIANOX_BENCH_INJECT_DELAY_MS, read only by bench/bench_frontend.py).
Outcomes are exit codes and pytest-benchmark's messages; nothing here reads a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASES = [f"bench/bench_frontend.py::test_frontend_speed[{impl}-10-1-1]" for impl in ("pianox_fbank", "rfft_floor")]
# The injected 100 ms is ~50x a 10 s fbank; the compare fails past +400 % of the baseline's minimum,
# a margin no busy machine reaches on the fastest of 10 rounds.
FAIL_IF = "--benchmark-compare-fail=min:400%"


def _bench(tmp_path: Path, *args: str, delay_ms: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIANOX_BENCH_INJECT_DELAY_MS=str(delay_ms))
    command = [sys.executable, "-m", "pytest", *CASES, "-p", "no:cacheprovider",
               f"--benchmark-storage={tmp_path / 'storage'}", f"--ratio-report={tmp_path / 'ratios'}", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_compare_passes_unchanged_and_fails_on_injected_slowdown(tmp_path):
    baseline = _bench(tmp_path, "--benchmark-autosave")
    assert baseline.returncode == 0, baseline.stdout[-3000:] + baseline.stderr[-3000:]
    saved = list((tmp_path / "storage").glob("*/0001_*.json"))
    assert len(saved) == 1
    assert sorted(b["name"] for b in json.loads(saved[0].read_text())["benchmarks"]) == [
        "test_frontend_speed[pianox_fbank-10-1-1]", "test_frontend_speed[rfft_floor-10-1-1]"]
    ratios = json.loads((tmp_path / "ratios" / "ratios.json").read_text())["ratios"]
    assert [(r["suite"], r["name"], r["target"]) for r in ratios] == [
        ("frontend", "fbank 10 s B=1 threads=1 vs rfft_floor", pytest.approx(1 / 1.5))]
    assert (tmp_path / "ratios" / "ratios.md").is_file() and (tmp_path / "ratios" / "ratios.png").is_file()

    unchanged = _bench(tmp_path, "--benchmark-compare", FAIL_IF)
    assert unchanged.returncode == 0, unchanged.stdout[-3000:] + unchanged.stderr[-3000:]
    assert "Comparing against benchmarks from: " in unchanged.stdout + unchanged.stderr
    assert "Performance has regressed" not in unchanged.stdout + unchanged.stderr

    slower = _bench(tmp_path, "--benchmark-compare", FAIL_IF, delay_ms=100)
    assert slower.returncode != 0
    output = slower.stdout + slower.stderr
    assert "Performance has regressed" in output
    regressed = output[output.index("Performance has regressed"):]
    assert "test_frontend_speed[pianox_fbank-10-1-1]" in regressed
    assert "test_frontend_speed[rfft_floor-10-1-1]" not in regressed
