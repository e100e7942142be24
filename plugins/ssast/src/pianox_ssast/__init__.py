"""SSAST self-supervised pretraining task for pianox (masked spectrogram patch modelling)."""
