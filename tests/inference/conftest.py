"""Fixtures of the inference tests: untrained runs of every task (tests/robustness/corpus.py
builds them in about a second each, no training) and an in-process `pianox` caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustness.corpus import task_tables, untrained_run, write_percepiano


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """task -> an untrained run directory."""
    corpus = write_percepiano(tmp_path_factory.mktemp("percepiano"))
    root = tmp_path_factory.mktemp("inference-runs")
    return {task: untrained_run(root / task, tables) for task, tables in task_tables(corpus).items()}


@pytest.fixture
def pianox(capsys):
    """Call `pianox.cli.main(args)` in-process; returns (exit code, stdout, stderr), failing the
    test on a traceback."""
    from pianox.cli import main

    def call(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, err
        return code, out, err

    return call
