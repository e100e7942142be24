"""Corpus readers (the `source` stage): MAESTRO, PercePiano and E-GMD in their own formats.

Each reader is registered under the `pianox.sources` entry-point group and turns a corpus on
disk into `pianox.api.Example`s: an audio path, a span in seconds and targets. The synthetic
twins (distribution `pianox-synth`) write the same formats, so the same readers serve both.
Importing this package imports no reader; `pianox.registry.load("source", name)` does.
"""
