"""One live process per run directory: an OS-level lock held for the whole run.

`RunLock.acquire(root)` takes an exclusive POSIX record lock (`fcntl.lockf`) on
`<root>/.lock` and writes the owner (PID, host, start time) into it. The kernel drops the
lock when the owning process exits in any way, kill -9 included, so a dead run never
leaves a stale lock; and record locks are not inherited by forked children (data-loader
workers), so a lock never outlives its run. A second process finds the lock held and gets
a `RunError` naming the owner's PID and host; on network filesystems the lock is shared
through the NFS lock manager, so runs on other hosts are seen too.

A POSIX record lock belongs to the process, and closing *any* descriptor of the file
releases it; so this process keeps one descriptor per locked file and refuses a second
acquisition of a file it already holds instead of opening it again. Where locking is not
possible (no `fcntl`, a filesystem without locks) the run goes on unlocked with a warning.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from .errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
"""The lock file inside a run directory (kept by --force, which empties the rest)."""

_HELD: dict[tuple[int, int], "RunLock"] = {}
"""Locks this process holds, by the (device, inode) of their file."""


class RunLock:
    """An exclusive lock on a run directory, held until `release()` or the process ends."""

    def __init__(self, path: Path, fd: int | None):
        self.path, self._fd = path, fd
        self._key = _key(path) if fd is not None else None
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        """Who holds the lock: what the lock file says while it is held."""

    @classmethod
    def acquire(cls, root: Path) -> "RunLock":
        """Lock `root` (which must exist) for this process, or raise RunError naming the owner."""
        path = root / LOCK_NAME
        if fcntl is None:  # pragma: no cover
            warnings.warn(f"{root}: no fcntl on this platform; the run directory is not locked", stacklevel=2)
            return cls(path, None)
        held = _HELD.get(_key(path))
        if held is not None:  # opening (and closing) the file again would drop our own lock
            raise RunError(_in_use(root, held.owner))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise RunError(_in_use(root, _read_owner(path))) from None
            warnings.warn(f"{root}: cannot lock the run directory ({exc.strerror or exc}); a second "
                          f"process could use it at the same time", stacklevel=2)
            return cls(path, None)
        lock = cls(path, fd)
        _HELD[lock._key] = lock
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(lock.owner) + "\n").encode())
        return lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let another process use the run directory (idempotent)."""
        if self._fd is None:
            return
        _HELD.pop(self._key, None)
        os.close(self._fd)  # closing the descriptor drops the record lock
        self._fd = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to other data-parallel ranks inside a RunDir: they get an inert handle.
        return {**self.__dict__, "_fd": None, "_key": None}


def _key(path: Path) -> tuple[int, int] | None:
    """(device, inode) of `path` (stat opens nothing), None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _read_owner(path: Path) -> dict[str, Any]:
    """The owner recorded in a held lock file ({} while the owner is still writing it)."""
    for _ in range(20):
        try:
            text = path.read_text(encoding="utf-8").strip()
            if text:
                return json.loads(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    return {}


def _in_use(root: Path, owner: dict[str, Any]) -> str:
    who = (f"process {owner.get('pid', '?')} on host {owner.get('host', '?')}"
           + (f" (running since {owner['since']})" if owner.get("since") else ""))
    return (f"run {root} is in use by a live {who}; it cannot be replaced or resumed while that "
            f"process runs. Wait for it to finish, or stop it first (kill -TERM {owner.get('pid', '<pid>')} "
            f"saves a checkpoint; then resume it)")
