"""Fixtures of the robustness suite: a PercePiano-format corpus, untrained runs of every task
(see corpus.py) and an in-process `pianox` caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import task_tables, untrained_run, write_percepiano


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_percepiano(tmp_path_factory.mktemp("percepiano"))


@pytest.fixture(scope="session")
def runs(tmp_path_factory, corpus) -> dict[str, Path]:
    """task -> an untrained run directory (built once per session)."""
    root = tmp_path_factory.mktemp("runs")
    return {task: untrained_run(root / task, tables) for task, tables in task_tables(corpus).items()}


@pytest.fixture(scope="session")
def nan_runs(tmp_path_factory, corpus) -> dict[str, Path]:
    """task -> a run directory whose every weight is NaN."""
    root = tmp_path_factory.mktemp("nan-runs")
    return {task: untrained_run(root / task, tables, nan_weights=True)
            for task, tables in task_tables(corpus).items()}


@pytest.fixture
def pianox(capsys):
    """Call `pianox.cli.main(args)` in-process; returns (exit code, stdout, stderr). Any
    exception escaping main (a traceback for a user) fails the test, and so does the word
    "Traceback" in the output."""
    from pianox.cli import main

    def call(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, err
        return code, out, err

    return call
