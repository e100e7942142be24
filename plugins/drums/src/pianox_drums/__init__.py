"""Drum transcription task for pianox (multi-label frame head, charts)."""
