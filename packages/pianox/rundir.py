"""The run directory `<output_dir>/<name>-<hash8>/` and its lifecycle.

    config.toml      resolved experiment (written once, atomically)
    status.json      {"state": "running" | "finished" | "failed", "commit", "experiment", ...}
    metrics.jsonl    one JSON object per logged step / evaluation
    history.json     per-epoch summary (train loss, val metrics, lr, time)
    checkpoints/     last/, best/ (and step-N/ when keep_last > 0)
    plots/           PNG curves and task figures

    .lock            held by the live process that owns the run (see runlock)

A finished run is never overwritten unless `force`; an interrupted one is continued only with
`resume`. Both refusals are `RunError`s that say which flag to use. A run whose process is
still alive is refused whatever the flags (the error names its PID and host): `force` would
delete the folder under it and `resume` would start a second trainer writing the same files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import atomic
from .errors import RunError
from .runlock import LOCK_NAME, RunLock


def git_commit(where: Path | None = None) -> str | None:
    """The git commit of the checkout holding pianox (or `where`), with "+dirty" when tracked
    files differ from it; None outside a git checkout or without git."""
    folder = str(where or Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


@dataclass
class RunDir:
    """A run directory on disk and its metric log."""

    path: Path
    resumed: bool = False
    writable: bool = True
    """False on data-parallel ranks other than 0: their writes are skipped."""
    lock: RunLock | None = field(default=None, repr=False, compare=False)
    """Held from `open` until `close` (or the process's end): no other process may use the run."""
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)
    """What produced the run ({"commit", "experiment"}), written into every status.json."""

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, config_text: str, *, force: bool = False, resume: bool = False) -> "RunDir":
        """Create (or re-open with `resume`) the run directory at `root` and lock it for this
        process; RunError when another live process holds it (naming that process)."""
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {root}: {exc.strerror or exc} "
                           f"(is [run] output_dir writable?)") from exc
        lock = RunLock.acquire(root)
        try:
            run = cls._open_locked(root, config_text, force=force, resume=resume)
        except BaseException:
            lock.release()
            raise
        run.lock = lock
        run.set_status("running", pid=lock.owner["pid"], host=lock.owner["host"])
        return run

    @classmethod
    def _open_locked(cls, root: Path, config_text: str, *, force: bool, resume: bool) -> "RunDir":
        status = read_status(root)
        state = status.get("state")
        entries = [p for p in root.iterdir() if p.name != LOCK_NAME]
        if entries:
            if force:
                for p in entries:  # the lock file stays: this process holds it
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
            elif state == "finished":
                raise RunError(f"run {root} already finished; use --force to replace it "
                               f"(or change the config or [run] name)")
            elif not resume:
                raise RunError(f"run {root} {_stopped(status)}; use --resume to continue it from its "
                               f"last checkpoint or --force to start over")
            else:
                saved = root / "config.toml"
                if saved.exists() and saved.read_text(encoding="utf-8") != config_text:
                    raise RunError(f"cannot resume {root}: its config.toml differs from this experiment "
                                   f"(same hash, different engine settings); use --force to start over")
                return cls(root, resumed=True)
        try:
            (root / "checkpoints").mkdir(exist_ok=True)
            (root / "plots").mkdir(exist_ok=True)
            atomic.write_text(root / "config.toml", config_text)
        except OSError as exc:
            raise RunError(f"cannot create run directory {root}: {exc.strerror or exc} "
                           f"(is [run] output_dir writable?)") from exc
        return cls(root)

    def close(self) -> None:
        """Release the run directory for other processes (idempotent; the status stays)."""
        if self.lock is not None:
            self.lock.release()

    def set_status(self, state: str, **extra: Any) -> None:
        if not self.writable:
            return
        payload = {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **self.provenance, **extra}
        atomic.write_text(self.path / "status.json", json.dumps(payload, indent=2) + "\n")

    # -- metrics ---------------------------------------------------------------------------

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl (flushed, so a killed run keeps its log)."""
        if not self.writable:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=float) + "\n")
            f.flush()

    def truncate_metrics(self, after_step: int) -> None:
        """Drop metric lines logged after `after_step` (they are redone on resume)."""
        if not self.writable or not self.metrics_path.exists():
            return
        keep = [line for line in self.metrics_path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= after_step]
        atomic.write_text(self.metrics_path, "".join(line + "\n" for line in keep))

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text(encoding="utf-8").splitlines()
                if line.strip()]

    def write_json(self, name: str, obj: Any) -> None:
        if not self.writable:
            return
        atomic.write_text(self.path / name, json.dumps(obj, indent=2, default=float) + "\n")


def _stopped(status: dict[str, Any]) -> str:
    """How a run that nobody holds any more ended, for the refusal to reopen it."""
    state = status.get("state")
    if state == "running":  # its process died without a word: SIGKILL, OOM killer, power loss
        return ("was interrupted: the process that ran it is gone (killed or crashed while "
                "status.json said 'running')")
    if state == "interrupted":
        return "was interrupted (stopped by a signal after saving a checkpoint)"
    if state == "failed":
        return f"failed ({status.get('error', 'no error recorded')})"
    return f"exists but holds no finished run (state: {state or 'unknown'})"


def read_status(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
