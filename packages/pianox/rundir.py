"""The run directory `<output_dir>/<name>-<hash8>/` and its lifecycle.

    config.toml      resolved experiment (written once, atomically)
    status.json      {"state": "running" | "finished" | "failed", ...}
    metrics.jsonl    one JSON object per logged step / evaluation
    history.json     per-epoch summary (train loss, val metrics, lr, time)
    checkpoints/     last/, best/ (and step-N/ when keep_last > 0)
    plots/           PNG curves and task figures

A finished run is never overwritten unless `force`; an interrupted one is continued only with
`resume`. Both refusals are `RunError`s that say which flag to use.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic
from .errors import RunError


@dataclass
class RunDir:
    """A run directory on disk and its metric log."""

    path: Path
    resumed: bool = False
    writable: bool = True
    """False on data-parallel ranks other than 0: their writes are skipped."""

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
        """Create (or re-open with `resume`) the run directory at `root`."""
        state = read_status(root).get("state") if root.exists() else None
        if root.exists() and any(root.iterdir()):
            if force:
                shutil.rmtree(root)
            elif state == "finished":
                raise RunError(f"run {root} already finished; use --force to replace it "
                               f"(or change the config or [run] name)")
            elif not resume:
                raise RunError(f"run {root} exists and was interrupted (state: {state or 'unknown'}); "
                               f"use --resume to continue it or --force to start over")
            else:
                saved = root / "config.toml"
                if saved.exists() and saved.read_text(encoding="utf-8") != config_text:
                    raise RunError(f"cannot resume {root}: its config.toml differs from this experiment "
                                   f"(same hash, different engine settings); use --force to start over")
                run = cls(root, resumed=True)
                run.set_status("running")
                return run
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / "checkpoints").mkdir(exist_ok=True)
            (root / "plots").mkdir(exist_ok=True)
            atomic.write_text(root / "config.toml", config_text)
        except OSError as exc:
            raise RunError(f"cannot create run directory {root}: {exc.strerror or exc} "
                           f"(is [run] output_dir writable?)") from exc
        run = cls(root)
        run.set_status("running")
        return run

    def set_status(self, state: str, **extra: Any) -> None:
        if not self.writable:
            return
        payload = {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
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


def read_status(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
