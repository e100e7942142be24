"""The check between a model and what reads its output: posteriors, predictions and ratings
must be finite before a decoder, a writer or a report sees them.

A NaN that reaches peak picking or a ratings table becomes a traceback or, worse, a result
("NaN" ratings, an empty MIDI file). Audio is validated on the way in (`pianox.audio`); this is
the guard on the way out, for what input validation cannot rule out (a checkpoint with
non-finite weights, an input that drives a model out of its range).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InferenceError


def require_finite(values: Any, source: str, what: str) -> None:
    """Raise InferenceError naming `source` (the input file) and `what` (e.g. "onset
    posteriors") unless every element of the array or tensor `values` is finite."""
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().float().cpu().numpy()
    arr = np.asarray(values)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InferenceError(f"{source}: the model's {what} hold {int(bad.sum())} non-finite values "
                             f"(NaN or inf) of {arr.size}; nothing was decoded or written for it. Check "
                             f"that the checkpoint's weights are finite and the input is ordinary audio")
