"""Timing helper for bench/: the fastest of interleaved rounds, so that load from other
processes hits every contender alike."""

from __future__ import annotations

import time
from typing import Callable


def interleaved_best(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Fastest seconds per call of each function, timed round-robin after one warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}
