"""Shared fixtures: experiment files written into a temp folder, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dummy_experiment import DUMMY_EXPERIMENT

CACHE_VARIABLES = ("XDG_CACHE_HOME", "PIANOX_CACHE", "PIANOX_SCORE_CACHE")
"""Where pianox caches rendered twins, features and parsed scores."""


@pytest.fixture(autouse=True, scope="session")
def hermetic_cache(tmp_path_factory):
    """Every test (and every CLI subprocess it starts) caches into one temp folder of this
    session, never into the user's ~/.cache/pianox: twins rendered by a test cannot leak into
    a user's runs, and a stale user cache cannot make a test pass."""
    root = tmp_path_factory.mktemp("cache")
    saved = {k: os.environ.get(k) for k in CACHE_VARIABLES}
    os.environ["XDG_CACHE_HOME"] = str(root)
    os.environ["PIANOX_CACHE"] = str(root / "pianox")
    os.environ["PIANOX_SCORE_CACHE"] = str(root / "scores")  # fixed even where a test moves XDG
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_sessionstart(session):
    """Under PIANOX_REQUIRE_CORE (set by .ci/run) a missing compiled core fails the run before
    any test: otherwise the front-end tests would compare the torch fallback with itself."""
    if os.environ.get("PIANOX_REQUIRE_CORE"):
        try:
            from pianox import _core  # noqa: F401
        except ImportError as exc:
            raise pytest.UsageError(f"PIANOX_REQUIRE_CORE is set but pianox._core does not import: {exc}")


@pytest.fixture
def write_exp(tmp_path):
    """Write an experiment TOML (default: the dummy experiment, runs under tmp_path/runs)."""

    def write(text: str | None = None, name: str = "exp.toml", **fmt: str) -> Path:
        body = DUMMY_EXPERIMENT if text is None else text
        path = tmp_path / name
        path.write_text(textwrap.dedent(body).format(out=(tmp_path / "runs").as_posix(), **fmt))
        return path

    return write


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run `python -m pianox.cli ARGS` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pianox.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
