"""One exception type per concern. Each message names the file, key or plugin involved.

`PianoxError` subclasses are *user* errors: the CLI prints their message (no traceback) and
exits non-zero. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class PianoxError(Exception):
    """Base of all errors a user can cause and fix (bad config, bad data, bad plugin)."""

    exit_code = 1


class ConfigError(PianoxError):
    """An experiment file or override is malformed: names the file, table, key and line."""

    exit_code = 2


class PluginError(PianoxError):
    """A plugin is unknown, fails to import or does not honour its contract."""


class AudioError(PianoxError):
    """Audio that cannot be used: missing, corrupt, empty, non-finite or of an unusable rate."""


class MidiError(PianoxError):
    """A MIDI file that cannot be read or holds absurd content."""


class DataError(PianoxError):
    """A corpus, label file or manifest that is missing or inconsistent."""


class CheckpointError(PianoxError):
    """A checkpoint that is missing, unsafe to load, or does not fit the model."""


class RunError(PianoxError):
    """A run directory that cannot be created, resumed or overwritten as asked."""


class TrainingError(PianoxError):
    """Training cannot go on (for example a non-finite loss), naming the step."""


class BackendError(PianoxError):
    """A backend (device) that is unavailable or cannot do what was asked."""


class InferenceError(PianoxError):
    """A trained model gave unusable output (NaN or inf) for an input, naming the input."""


class OutputError(PianoxError):
    """An output that cannot be written as asked: it exists (without --overwrite), its folder is
    a file or lies under one, or the folder is not writable. Names the path; raised before any
    model work."""
