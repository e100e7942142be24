"""SSAST self-supervised pretraining task for pianox (masked spectrogram patch modelling).

Registered as the `ssast` task (entry point group `pianox.tasks`).
"""
