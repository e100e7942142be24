"""Benchmark fixtures: the backend to time on, a timer that synchronises it, whether benchmarks
are disabled (a test run), and the ratio report.

Timed calls must include device synchronisation, or asynchronous CUDA launches would be timed
instead of the work. Use `bench_sync(fn)` to wrap a callable so every timed call ends with
`backend.synchronize()`. Each suite records its ratios against references measured in the same
run with `report_ratio`; at the end of the session they are printed and written to
`ratios.json`, `ratios.md` and `ratios.png` under `--ratio-report` (default
`.benchmarks/ratios/`). With `--benchmark-disable` (CI runs every case once as a test) each
case calls each side once (`bench_disabled`); ratios recorded then are printed flagged as such
but not written: one call is not a measurement.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from pianox.backends import AutoBackend
from ratio_report import Ratio, summary_lines, write_report

_RATIOS: list[Ratio] = []


def pytest_addoption(parser):
    parser.addoption("--ratio-report", default=".benchmarks/ratios", metavar="DIR",
                     help="folder for ratios.json / ratios.md / ratios.png (pianox bench/, relative to the rootdir)")


def _disabled(config) -> bool:
    return bool(config.getoption("benchmark_disable", False))


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
def bench_disabled(pytestconfig) -> bool:
    """True under `--benchmark-disable` (a test run): a suite then calls each side once, untimed,
    instead of its interleaved rounds."""
    return _disabled(pytestconfig)


@pytest.fixture(scope="session")
def run_from_env() -> Callable[[str], str | None]:
    """`run_from_env(VARIABLE)`: the trained run (or checkpoint) the environment variable names,
    None when it is unset (a suite then times random weights); skips, naming the variable and
    the path, when it names no run."""
    from pianox.errors import CheckpointError
    from pianox.trained import locate

    def get(variable: str) -> str | None:
        run = os.environ.get(variable)
        if run:
            try:
                locate(run)
            except CheckpointError as exc:
                pytest.skip(f"{variable}: {exc}")
        return run

    return get


@pytest.fixture
def report_ratio(request) -> Callable[..., None]:
    """`report_ratio(name, ratio, reference=..., target=..., note="")`: record reference time /
    pianox time for this suite (the bench file); every ratio is reported when the session ends."""
    suite = request.node.path.stem.removeprefix("bench_")

    def record(name: str, ratio: float, *, reference: str, target: float, note: str = "") -> None:
        _RATIOS.append(Ratio(suite, name, reference, float(ratio), float(target), note))

    return record


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark, whose failed compare raises there
def pytest_terminal_summary(terminalreporter, config):
    if not _RATIOS:
        return
    title = "pianox speed ratios: reference time / pianox time (higher = pianox faster)"
    if _disabled(config):
        title += " -- benchmarks disabled, one call each: NOT measurements"
    terminalreporter.section(title)
    for line in summary_lines(_RATIOS):
        terminalreporter.write_line(line)
    if not _disabled(config):
        out = Path(config.getoption("ratio_report"))
        paths = write_report(_RATIOS, out if out.is_absolute() else config.rootpath / out)
        terminalreporter.write_line(f"written: {', '.join(str(p) for p in paths.values())}")
