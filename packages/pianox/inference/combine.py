"""Joining the windows' per-frame outputs into one sequence per file, frames finished in order.

    CentreCrop   each frame comes from the window in which it is most central: a window gives
                 its frames up to the middle of its overlap with the next (back-to-back windows,
                 hop = window, simply lie end to end)
    OverlapAdd   every window's frames are weighted by a Hann taper (strictly positive, small
                 at the window edges where the encoder saw least context) and the weighted sum
                 is divided by the summed weights: where windows agree the result equals each
                 of them, where they differ it blends without seams
    PerWindow    no time axis (one vector per window, e.g. ratings): each window as it is

Windows arrive in order; `add` returns the frames no later window can change, so a consumer
(a decoder, a writer) can work through a long file while memory holds about one window. A
frame no window covers (possible only with framings that lose a frame at a window's end)
repeats the frame before it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def taper(length: int) -> np.ndarray:
    """(length,) float64 Hann weights sin^2(pi (i + 0.5) / length), all > 0."""
    i = np.arange(length, dtype=np.float64)
    return np.sin(np.pi * (i + 0.5) / length) ** 2


class _Frames:
    """Shared bookkeeping: `total` frames in all, `emitted` of them finished so far."""

    def __init__(self, total: int, window: int):
        self.total, self.window = int(total), int(window)
        self.emitted = 0
        self.last: list[np.ndarray] | None = None  # the last finished frame of each output

    def _gap(self, outputs: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """`n` frames repeating the last finished frame (zeros before any)."""
        ref = self.last or [np.zeros(o.shape[1:], np.float32) for o in outputs]
        return [np.repeat(r[None].astype(np.float32), n, axis=0) for r in ref]

    def _emit(self, parts: list[np.ndarray]) -> list[np.ndarray]:
        if len(parts[0]):
            self.last = [p[-1] for p in parts]
            self.emitted += len(parts[0])
        return parts


class CentreCrop(_Frames):
    """Per-frame outputs of windows `window` frames long, cropped to their central frames."""

    def add(self, start: int, outputs: Sequence[np.ndarray], valid: int, next_start: int | None
            ) -> list[np.ndarray]:
        """Add the outputs `(T_w, ...)` of the window whose frame 0 is file frame `start` (its
        first `valid` frames are real; `next_start` is the next window's first frame, None for
        the last window); returns the finished frames `(n, ...)` of each output."""
        if next_start is None:
            hi = start + valid
        else:
            hi = next_start + max(0, start + self.window - next_start) // 2
        hi = min(hi, self.total)
        body_lo = max(self.emitted, start)
        body_hi = max(body_lo, min(hi, start + min(len(outputs[0]), valid)))
        pieces: list[list[np.ndarray]] = []
        if self.emitted < min(start, hi):  # frames before this window that no window gave
            pieces.append(self._gap(outputs, min(start, hi) - self.emitted))
        if body_hi > body_lo:
            pieces.append([np.asarray(o[body_lo - start:body_hi - start], np.float32) for o in outputs])
            self.last = [p[-1] for p in pieces[-1]]
        if hi > max(body_hi, self.emitted):  # the window is shorter than its share
            pieces.append(self._gap(outputs, hi - max(body_hi, self.emitted)))
        out = [np.concatenate([p[k] for p in pieces]) if pieces else np.zeros((0, *o.shape[1:]), np.float32)
               for k, o in enumerate(outputs)]
        return self._emit(out)


class OverlapAdd(_Frames):
    """Per-frame outputs of overlapping windows, overlap-added with a Hann taper."""

    def __init__(self, total: int, window: int):
        super().__init__(total, window)
        self.sums: list[np.ndarray] | None = None  # frames [emitted, emitted + len) not yet final
        self.norm = np.zeros(0)

    def add(self, start: int, outputs: Sequence[np.ndarray], valid: int, next_start: int | None
            ) -> list[np.ndarray]:
        """As `CentreCrop.add`, the window's frames weighted into every window overlapping them."""
        n = min(len(outputs[0]), valid, self.total - start)
        if self.sums is None:
            self.sums = [np.zeros((0, *o.shape[1:])) for o in outputs]
        if n > 0:
            lo = start - self.emitted  # >= 0: windows arrive in order, none starts in finished frames
            need = lo + n
            if need > len(self.norm):
                grow = need - len(self.norm)
                self.sums = [np.concatenate([s, np.zeros((grow, *s.shape[1:]))]) for s in self.sums]
                self.norm = np.concatenate([self.norm, np.zeros(grow)])
            w = taper(len(outputs[0]))[:n]
            for s, o in zip(self.sums, outputs):
                s[lo:lo + n] += w.reshape(-1, *([1] * (s.ndim - 1))) * np.asarray(o[:n], np.float64)
            self.norm[lo:lo + n] += w
        final = self.total if next_start is None else min(next_start, self.total)
        k = max(0, final - self.emitted)
        covered = np.zeros(k, bool)
        covered[: min(k, len(self.norm))] = self.norm[:k] > 0
        done = []
        for s, o in zip(self.sums, outputs):
            part = np.zeros((k, *o.shape[1:]), np.float32)
            m = min(k, len(s))
            part[:m][covered[:m]] = (s[:m][covered[:m]] / self.norm[:m][covered[:m]].reshape(
                -1, *([1] * (s.ndim - 1)))).astype(np.float32)
            done.append(part)
        if k and not covered.all():  # repeat the frame before each uncovered one
            prev = self.last
            for j in range(k):
                if covered[j]:
                    prev = [d[j] for d in done]
                elif prev is not None:
                    for d, p in zip(done, prev):
                        d[j] = p
        self.sums = [s[k:] for s in self.sums]
        self.norm = self.norm[k:]
        return self._emit(done)


class PerWindow:
    """Outputs without a time axis: each window's `(...)` outputs, as they come."""

    def __init__(self, total: int = 0, window: int = 0):
        self.total, self.window = total, window

    def add(self, start: int, outputs: Sequence[np.ndarray], valid: int, next_start: int | None
            ) -> list[np.ndarray]:
        return list(outputs)


COMBINERS = {"crop": CentreCrop, "add": OverlapAdd, "each": PerWindow}
"""How a task joins its windows: by name."""
