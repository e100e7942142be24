"""Device strings given on a command line (`--device cuda:1`), checked against this machine.

`torch.device("cuda:7")` is accepted on any machine and fails only when a tensor moves there,
with a driver message or a traceback. `parse_device` checks the string against the devices
torch can see now and raises a `BackendError` that lists them.
"""

from __future__ import annotations

import torch

from .errors import BackendError


def visible_devices() -> list[str]:
    """The devices torch can use here, e.g. ["cpu", "cuda:0", "cuda:1"] or ["cpu", "mps"]."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def parse_device(text: str, what: str = "--device") -> torch.device:
    """The torch device named by `text` ("cpu", "cuda", "cuda:1", "mps"); BackendError naming
    `what` and listing the visible devices when it is malformed or not on this machine.
    A bare "cuda" means cuda:0."""
    visible = visible_devices()
    listed = ", ".join(visible)
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        raise BackendError(f"{what} {text!r} is not a device name; devices here: {listed}") from None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)
    single = device.type in ("cpu", "mps") and device.index in (None, 0)  # one device of its kind
    name = device.type if single else f"{device.type}:{device.index}"
    if name not in visible:
        raise BackendError(f"{what} {text!r}: no such device on this machine; devices here: {listed}")
    return device
