"""A trained run and anchor transcribers side by side on whole recordings, one scorer.

`pianox transcribe-eval RUN [--split test] [--set source.KEY=VALUE ...] [--anchor NAME=PYTHON]`
transcribes every recording of a split of the run's source (optionally re-rendered, e.g. with
another SoundFont) from its audio file with the run (the same path as `pianox transcribe`)
and with each anchor — basic-pitch run by the Python of a throwaway virtual environment that
has it (never a pianox dependency) — and scores all of them against the recording's MIDI with
`metrics.note_metrics`: per recording, their mean, and a 95 % percentile bootstrap CI over
recordings (scipy.stats.bootstrap, 2000 resamples, seed 0). Seconds per 10 s of audio are
measured from the file (decode, resample, transcribe) on the same machine. The report says
which split, how many recordings, whether the evaluated timbre's samples are disjoint from
the training timbre's (pianox.holdout), and which decoding thresholds the run's frame head used
(the run's transcription_thresholds.json when it has one, else its [task]'s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pianox.errors import ConfigError

from .metrics import note_metrics

KEYS = ("onset_f1", "onset_offset_f1", "onset_offset_velocity_f1", "frame_f1")
"""The metrics reported per system (with CIs)."""

BASIC_PITCH = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict
    model = Model(ICASSP_2022_MODEL_PATH)
    out = {}
    for path in sys.argv[1:]:
        t = time.perf_counter()
        _, _, events = predict(path, model)
        out[path] = {"seconds": time.perf_counter() - t,
                     "notes": [[float(a), float(b), int(p), float(v) * 127] for a, b, p, v, *_ in events]}
    print(json.dumps(out))
""")
"""basic-pitch from the file, as its users call it (onnx model shipped in its wheel)."""

ANCHORS = {"basic-pitch": BASIC_PITCH}


def recordings(source: Any, split: str) -> list[tuple[str, Path, Path, float]]:
    """(key, audio file, MIDI file, duration s) of every recording of `split`, whole."""
    if not hasattr(source, "recordings"):
        raise ConfigError(f"[source] kind = {source.name!r} does not list recordings with MIDI "
                          f"(maestro / maestro_twin do)")
    return sorted((r.key, Path(r.audio), Path(r.midi), float(r.duration)) for r in source.recordings(split))


def bootstrap_ci(values: Sequence[float], seed: int = 0) -> list[float]:
    """95 % percentile bootstrap interval of the mean of `values` (over recordings)."""
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2 or np.all(x == x[0]):
        return [float(x.mean()), float(x.mean())] if len(x) else [float("nan")] * 2
    res = bootstrap((x,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile",
                    random_state=np.random.default_rng(seed))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def summarise(per_piece: dict[str, dict[str, float]], seconds: float, audio_seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"per_piece": per_piece,
                           "seconds_per_10s": 10.0 * seconds / max(audio_seconds, 1e-9)}
    for k in KEYS:
        vals = [m[k] for m in per_piece.values()]
        out[k] = float(np.mean(vals))
        out[f"{k}_ci"] = bootstrap_ci(vals)
    return out


def _reference(midi: Path, duration: float) -> np.ndarray:
    from pianox.midi import read_notes

    notes = read_notes(midi, sustain=True)
    return notes[notes[:, 0] < duration] if duration else notes


def run_anchor(name: str, python: str, files: list[Path]) -> dict[str, Any]:
    """{file: {"seconds", "notes"}} of anchor `name` run by `python` (2 threads)."""
    if name not in ANCHORS:
        raise ConfigError(f"unknown anchor {name!r}; known: {', '.join(ANCHORS)}")
    env = dict(os.environ, OMP_NUM_THREADS="2", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([python, "-c", ANCHORS[name], *map(str, files)], capture_output=True, text=True,
                          env=env, timeout=3600)
    if proc.returncode != 0:
        raise ConfigError(f"anchor {name} ({python}) failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(run: str | Path, split: str = "test", overrides: Sequence[str] = (),
            anchors: dict[str, str] | None = None, threads: int = 2) -> dict[str, Any]:
    """The report of the module doc (a dict ready for JSON)."""
    import torch

    from pianox.audio import read_audio
    from pianox.holdout import timbre_report
    from pianox.trained import load_experiment_of

    from .inference import Transcriber, load_trained

    bad = [s for s in overrides if not s.strip().startswith("source.")]
    if bad:
        raise ConfigError(f"transcribe-eval only overrides [source] values, got {', '.join(bad)}")
    run_dir, _, exp = load_experiment_of(run, list(overrides), task="transcription")
    source = exp.stages["source"].build()
    recs = recordings(source, split)
    if not recs:
        raise ConfigError(f"the {split} split of {run_dir} has no recordings")
    training = load_experiment_of(run)[2].stages["source"].build() if overrides else source
    torch.set_num_threads(threads)
    transcriber = Transcriber(load_trained(run_dir))
    sr = transcriber.t.features.sample_rate
    refs = {key: _reference(midi, dur) for key, _, midi, dur in recs}
    audio_seconds = sum(dur for *_, dur in recs)
    systems: dict[str, Any] = {}
    per_piece, spent = {}, 0.0
    for key, audio, _, _ in recs:
        t = time.perf_counter()
        y, _ = read_audio(audio, sr)
        notes = transcriber.transcribe(y, source=str(audio))
        spent += time.perf_counter() - t
        per_piece[key] = note_metrics(refs[key], notes)
    systems["pianox"] = summarise(per_piece, spent, audio_seconds)
    for name, python in (anchors or {}).items():
        got = run_anchor(name, python, [a for _, a, _, _ in recs])
        per_piece = {key: note_metrics(refs[key], np.asarray(got[str(a)]["notes"]).reshape(-1, 4))
                     for key, a, _, _ in recs}
        systems[name] = summarise(per_piece, sum(v["seconds"] for v in got.values()), audio_seconds)
    return {"run": str(run_dir), "split": split, "overrides": list(overrides), "recordings": len(recs),
            "audio_seconds": audio_seconds, "threads": threads,
            "timbre": timbre_report(training, source, split), "systems": systems,
            "thresholds": transcriber.thresholds.to_json() if transcriber.thresholds is not None else None}


def table(report: dict[str, Any]) -> str:
    """A Markdown table of the systems of a `compare` report."""
    lines = ["| system | onset F1 | onset+offset F1 | +velocity F1 | frame F1 | s per 10 s |",
             "|---|---|---|---|---|---|"]
    for name, s in report["systems"].items():
        cells = [f"{s[k]:.3f} [{s[k + '_ci'][0]:.3f}, {s[k + '_ci'][1]:.3f}]" for k in KEYS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {s['seconds_per_10s']:.3f} |")
    return "\n".join(lines)


def main_compare(args: Any) -> int:
    from pianox import atomic

    anchors = {}
    for item in args.anchor:
        name, sep, python = item.partition("=")
        if not sep:
            raise ConfigError(f"--anchor {item!r}: expected NAME=PYTHON (e.g. basic-pitch=/venv/bin/python)")
        anchors[name] = python
    report = compare(args.run, args.split, args.set, anchors, args.threads)
    if args.out:
        atomic.write_text(args.out, json.dumps(report, indent=2) + "\n")
    t = report["timbre"]
    print(f"{report['run']}: {report['split']} split, {report['recordings']} recordings "
          f"({report['audio_seconds']:.0f} s), whole files" + (f", {' '.join(report['overrides'])}" if report["overrides"] else ""))
    if t is not None:
        print(f"timbre {', '.join(t['held_out'])}: " + ("samples disjoint from training" if t["disjoint"] else
              f"NOT held out ({t['shared_samples']} of {t['held_out_samples']} samples shared with training)"))
    th = report["thresholds"]
    if th is not None:
        print(f"pianox frame head: onset {th['onset_threshold']:g}, frame {th['frame_threshold']:g}, offset "
              f"{th['offset_threshold']:g} ({'[task] config' if th['source'] == 'config' else th['source']})")
    print(table(report))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("transcribe-eval", help="score a transcription run and anchors side by side on whole recordings")
    p.add_argument("run", help="transcription run directory (or a checkpoint folder in one)")
    p.add_argument("--split", default="test")
    p.add_argument("--set", action="append", default=[], metavar="source.KEY=VALUE",
                   help="re-render / re-read the source, e.g. --set source.soundfont=/path/other.sf3")
    p.add_argument("--anchor", action="append", default=[], metavar="NAME=PYTHON",
                   help="also run an anchor from a venv that has it: basic-pitch=/venv/bin/python")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-o", "--out", type=Path, help="write the report as JSON")
    p.set_defaults(func=main_compare)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `pianox transcribe-eval`")
