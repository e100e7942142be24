"""One pass of a model over an input: windows → features → the task's forward → joined outputs.

A task supplies a `forward(features (B, T, F), frames (B,), mask (B, T))` returning named
batch-first outputs (e.g. {"onset posteriors": (B, T, C), "velocities": (B, T, C)}) and
chooses how windows are joined (`combine`: "crop", "add" or "each", see combine.py). `run`
yields each output's finished frames as they are final, so the caller decodes or writes a long
file piece by piece. Every numeric output is checked to be finite before it leaves here: an
InferenceError naming the input and the output, never NaN in a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..finite import require_finite
from .combine import COMBINERS
from .stream import Windows, featurise, frames_of, window_frame

Forward = Callable[[Any, Any, Any], dict[str, Any]]
Progress = Callable[[int, int], None]
"""progress(windows done, windows in all) after each batch."""


@dataclass(frozen=True)
class Plan:
    """How a task runs over audio: its windows, how they are joined, and its forward pass."""

    forward: Forward
    combine: str = "crop"
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.combine not in COMBINERS:
            raise ValueError(f"combine={self.combine!r}: expected one of {', '.join(COMBINERS)}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")


def _is_float_array(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.issubdtype(x.dtype, np.floating))
    return bool(getattr(x, "is_floating_point", lambda: False)())


def run(windows: Windows, features: Any, plan: Plan, progress: Progress | None = None
        ) -> Iterator[dict[str, Any]]:
    """The joined outputs of `plan.forward` over `windows`: dicts name -> finished part (frames
    `(n, ...)` for "crop"/"add", one window's output for "each"), in order."""
    per_frame = features.sample_rate / features.frame_rate
    total = frames_of(features, windows.total)
    # the frames one full window yields (not window / hop: non-centred framing, e.g. Kaldi's
    # snip_edges, needs a window longer than frames x hop)
    nominal = int(features.num_frames(windows.windowing.window))
    combiner = COMBINERS[plan.combine](total, nominal)
    starts = windows.windowing.starts(windows.total)
    done = 0
    for batch in windows.batches(plan.batch_size):
        feats, frames, mask = featurise(features, batch)
        outputs = plan.forward(feats, frames, mask)
        for name, value in outputs.items():
            if _is_float_array(value):
                require_finite(value, windows.source, name)
        arrays = {k: (v.detach().float().cpu().numpy() if hasattr(v, "detach") else v) for k, v in outputs.items()}
        for b, w in enumerate(batch):
            following = starts[w.index + 1] if w.index + 1 < len(starts) else None
            part = combiner.add(window_frame(features, w), [v[b] for v in arrays.values()], int(frames[b]),
                                None if following is None else int(round(following / per_frame)))
            yield dict(zip(arrays, part))
        done += len(batch)
        if progress is not None:
            progress(done, windows.count)


def collect(windows: Windows, features: Any, plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Every output of `run` joined: per-frame outputs concatenated to `(T, ...)`, per-window
    outputs as a list."""
    parts: dict[str, list[Any]] = {}
    for piece in run(windows, features, plan, progress):
        for k, v in piece.items():
            parts.setdefault(k, []).append(v)
    if plan.combine == "each":
        return parts
    return {k: np.concatenate(v) for k, v in parts.items()}
