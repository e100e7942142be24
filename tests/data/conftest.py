"""Shared fixtures of the data tests: real-format miniature corpora and an isolated cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _twin_cache(tmp_path_factory, monkeypatch):
    """Twin sources render into the test's own user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture
def corpus_copy(tmp_path):
    """copy("maestro") -> a writable copy of a fixture corpus under tmp_path."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst)
        return dst

    return copy
