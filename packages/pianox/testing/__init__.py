"""Test helpers for pianox and for plugin authors: dummy plugins and experiment builders."""

from .dummies import DummyFeatures, DummyModel, DummySource, DummyTask

__all__ = ["DummyFeatures", "DummyModel", "DummySource", "DummyTask"]
