"""Fixtures of the inference tests: untrained runs of every task (tests/robustness/corpus.py
builds them in about a second each, no training) and an in-process `pianox` caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustness.corpus import pianox, task_tables, untrained_run, write_percepiano  # noqa: F401 (fixture)


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """task -> an untrained run directory."""
    corpus = write_percepiano(tmp_path_factory.mktemp("percepiano"))
    root = tmp_path_factory.mktemp("inference-runs")
    return {task: untrained_run(root / task, tables) for task, tables in task_tables(corpus).items()}
