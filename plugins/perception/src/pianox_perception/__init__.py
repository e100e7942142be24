"""PercePiano perception task for pianox (19 perceptual ratings)."""
