"""A model whose output is not finite is an error naming the file, never NaN in a result or a
traceback in a decoder (issue 21, finding 3: the stage outputs). The runs here have all-NaN
weights, the plainest way a checkpoint yields NaN for ordinary audio."""

from __future__ import annotations

import numpy as np
import pytest

from pianox.errors import InferenceError
from pianox.finite import require_finite

from .corpus import files_under, write_good


@pytest.mark.parametrize("command, what", [
    (["transcribe", "--head", "frames"], "frame posteriors"),
    (["transcribe", "--head", "seq2seq"], "encoder states"),
    (["drums"], "onset posteriors"),
    (["rate", "--json"], "ratings"),
])
def test_non_finite_model_output_is_an_error_naming_the_file(command, what, nan_runs, pianox, tmp_path):
    audio = write_good(tmp_path / "in" / "take.wav")
    out = tmp_path / "out"
    task = {"transcribe": "transcription", "drums": "drums", "rate": "perception"}[command[0]]
    extra = [] if command[0] == "rate" else ["-o", out]
    code, stdout, err = pianox(command[0], audio, "--model", nan_runs[task], *command[1:], *extra)
    assert code == 1 and str(audio) in err and f"{what} hold" in err and "non-finite" in err, err
    assert files_under(out) == [] and "NaN" not in stdout


def test_require_finite_counts_and_names():
    require_finite(np.zeros((2, 3)), "a.wav", "posteriors")
    values = np.zeros((2, 3), np.float32)
    values[0, 1], values[1, 2] = np.nan, np.inf
    with pytest.raises(InferenceError, match=r"^a\.wav: the model's posteriors hold 2 non-finite values .* of 6"):
        require_finite(values, "a.wav", "posteriors")
    import torch

    with pytest.raises(InferenceError, match="b.wav"):
        require_finite(torch.tensor([0.0, float("nan")]), "b.wav", "states")
