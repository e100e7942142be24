"""pianox: Audio Spectrogram Transformers for piano and drum audio.

The package import is light on purpose (no torch, no plugins): `pianox plugins` and config
validation must not pay for them. Import the stage you need, e.g. `pianox.features`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pianox")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
