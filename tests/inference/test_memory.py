"""An hour of audio in every inference command under 2 GB peak RSS (issue 21, finding 11: it
took 2.94 GB in `transcribe`, 1.28 GB in `drums`, 0.84 GB in `rate`): the file is read,
resampled and featurised a window at a time, frame posteriors are decoded in blocks, and
outputs are rendered one file at a time. Each command runs in its own process, which reports
its own peak RSS (ru_maxrss)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

LIMIT_BYTES = 2 * 1024**3
HOUR = 3600

# Peak RSS of this process's own memory: /proc/self/status VmHWM (the high-water mark of the
# address space exec created). Not ru_maxrss: Linux carries it over execve from the process
# that forked, so a child of a big pytest process reports pytest's size (2.37 GB for all three
# commands once, in the full suite).
RUNNER = """
import json, resource, sys
from pianox.cli import main
code = main(sys.argv[2:])
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "max_rss_bytes": peak}, f)
"""


def write_long(path, seconds: float, rate: int = 22050) -> None:
    """`seconds` of tones (a new pitch every second, a 2 Hz tremolo, a little noise) written
    10 s at a time, so the test itself never holds the hour."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for start in range(0, int(seconds * rate), 10 * rate):
            n = min(10 * rate, int(seconds * rate) - start)
            t = (start + np.arange(n)) / rate
            f0 = 220.0 * 2 ** ((np.floor(t) % 24) / 12)
            y = 0.2 * np.sin(2 * np.pi * f0 * t) * (0.5 + 0.5 * np.cos(4 * np.pi * t)) + 0.01 * rng.standard_normal(n)
            f.write(y.astype(np.float32))


@pytest.fixture(scope="module")
def hour(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "hour.wav"
    write_long(path, HOUR)
    assert sf.info(path).duration == pytest.approx(HOUR)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("command, task, extra, outputs", [
    ("transcribe", "transcription", ["--head", "frames"], {"hour.mid", "hour.csv"}),
    ("drums", "drums", [], {"hour.mid", "hour.chart", "hour.csv"}),
    ("rate", "perception", ["--json"], {"hour.json"}),
])
def test_an_hour_of_audio_stays_under_2_gb(command, task, extra, outputs, hour, runs, tmp_path):
    report = tmp_path / "rss.json"
    out = tmp_path / "out"
    args = [sys.executable, "-c", RUNNER, str(report), command, str(hour), "--model", str(runs[task]),
            "-o", str(out), "--quiet", "--device", "cpu", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(report.read_text())
    print(f"{command}: peak RSS {got['max_rss_bytes'] / 2**30:.2f} GiB for {HOUR} s of audio")
    assert got["code"] == 0 and {p.name for p in out.iterdir()} == outputs
    assert got["max_rss_bytes"] < LIMIT_BYTES
