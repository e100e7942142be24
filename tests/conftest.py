"""Shared fixtures: experiment files written into a temp folder, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dummy_experiment import DUMMY_EXPERIMENT


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
