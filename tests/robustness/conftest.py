"""Fixtures of the robustness suite: a PercePiano-format corpus, untrained runs of every task
(see corpus.py) and an in-process `pianox` caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import pianox, task_tables, untrained_run, write_percepiano  # noqa: F401 (pianox: a fixture)


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
