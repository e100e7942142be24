"""Benchmark fixtures: the backend to time on, and a timer that synchronises it.

Timed calls must include device synchronisation, or asynchronous CUDA launches would be timed
instead of the work. Use `bench_sync(fn)` to wrap a callable so every timed call ends with
`backend.synchronize()`. Ratios against references measured in the same run are printed at the
end of the session (tests never time things; speed lives here).
"""

from __future__ import annotations

from typing import Callable

import pytest

from pianox.backends import AutoBackend

_RATIOS: list[tuple[str, float, str]] = []


@pytest.fixture(scope="session")
def backend():
    return AutoBackend()


@pytest.fixture
def bench_sync(backend) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            out = fn(*args, **kwargs)
            backend.synchronize()
            return out

        return timed

    return wrap


@pytest.fixture(scope="session")
def report_ratio():
    """Record `name: ratio (note)`; every recorded ratio is printed when the session ends."""

    def record(name: str, ratio: float, note: str = "") -> None:
        _RATIOS.append((name, ratio, note))

    return record


def pytest_terminal_summary(terminalreporter):
    if not _RATIOS:
        return
    terminalreporter.section("pianox speed ratios (higher = pianox faster)")
    for name, ratio, note in _RATIOS:
        terminalreporter.write_line(f"{name:<60} {ratio:8.2f}x  {note}")
