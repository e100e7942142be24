"""Each task learns: a small model trained for a few seconds on a handful of rendered clips
must fit them (finding 8 of the evaluation issue: smoke runs only checked that a run finished,
so a task that stopped learning passed CI). The model is scored on its own training clips
([eval] split = "train"): this is a test of the learning machinery (targets, loss, head,
decoding, metrics), not a quality figure."""

from __future__ import annotations

import json

import pytest

from pianox.runner import run_file

COMMON = """
[run]
seed = 0
output_dir = "{out}"

[backend]
kind = "cpu"

[eval]
split = "train"
test = false
"""

DRUMS = COMMON + """
[source]
kind = "egmd_twin"
minutes = 0.5
segment_seconds = 2.56
max_files = 4

[features]
kind = "kaldi"
target_frames = 256

[model]
kind = "ast"
preset = "tiny"
depth = 1
patch = "frame"
max_frames = 256

[task]
kind = "drums"
bootstrap = 0
tune = false

[train]
epochs = 30
batch_size = 8
lr = 3e-3
warmup_steps = 5
metric = "val/f1_micro"
mode = "max"
"""

# Transcription fits its clips only with a front end that resolves semitones: a 2048-sample
# window (128 ms), 229 log-mel bins from 30 Hz (the Onsets-and-Frames front end). With the
# 25 ms Kaldi window the same model plateaus at onset F1 0.45-0.74 on these clips (harmonics
# fire as extra onsets: precision 0.6); with this one it reaches 0.96 by step 700 (seeds 0 and
# 1). Frame-head output biases start at the events' rarity (frames.PRIOR_LOGITS).
TRANSCRIPTION = COMMON + """
[source]
kind = "maestro_twin"
minutes = 0.3
segment_seconds = 2.0
max_files = 2

[features]
kind = "mel"
n_fft = 2048
n_mels = 229
fmin = 30.0
fmax = 8000.0
mean = -50.0
std = 20.0

[model]
kind = "ast"
preset = "tiny"
depth = 2
patch = "frame"
max_frames = 200

[task]
kind = "transcription"
head = "frames"
segment_seconds = 2.0
frame_hidden = 128
frame_channels = 64
positive_weight = 2.0
dropout = 0.0

[train]
epochs = 300
batch_size = 2
lr = 2e-3
warmup_steps = 5
eval_every = 50
metric = "val/onset_f1"
mode = "max"
"""

PERCEPTION = COMMON + """
[source]
kind = "percepiano_twin"
minutes = 0.2
performers = 1
split_by = "piece"
segment_seconds = 2.56

[features]
kind = "kaldi"
target_frames = 256

[model]
kind = "ast"
preset = "tiny"
depth = 1
fstride = 16
tstride = 16
max_frames = 256

[task]
kind = "perception"
hidden = 64
bootstrap = 0

[train]
epochs = 15
batch_size = 4
lr = 2e-3
warmup_steps = 5
metric = "val/pearson"
mode = "max"
"""


@pytest.mark.slow
@pytest.mark.parametrize("text,metric,floor", [
    (DRUMS, "val/f1_micro", 0.9),
    (TRANSCRIPTION, "val/onset_f1", 0.9),
    (PERCEPTION, "val/pearson", 0.9),
], ids=["drums", "transcription", "perception"])
def test_task_fits_its_training_clips(write_exp, text, metric, floor):
    run = run_file(write_exp(text), quiet=True)
    results = json.loads((run.path / "results.json").read_text())
    assert results["metric"] == metric
    assert results["best"] >= floor, f"{metric} on the training clips reached only {results['best']:.3f}"
