"""Synthetic twins of MAESTRO, PercePiano and E-GMD in their real on-disk formats."""
