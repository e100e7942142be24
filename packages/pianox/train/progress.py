"""A training progress bar (rich) with loss, learning rate and throughput; silent when disabled."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Context manager showing step/total, loss, lr and steps per second on stderr."""

    def __init__(self, total: int, *, disable: bool = False, initial: int = 0, description: str = "train"):
        self.total, self.disable, self.initial, self.description = total, disable, initial, description
        self._bar: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()

    def __enter__(self) -> "Progress":
        if not self.disable:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
            from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     console=Console(file=sys.stderr), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total, completed=self.initial, info="")
        return self

    def update(self, step: int, **values: float) -> None:
        if self._bar is None:
            return
        rate = (step - self.initial) / max(1e-9, time.perf_counter() - self._t0)
        info = " ".join(f"{k}={v:.4g}" for k, v in values.items()) + f" {rate:.2f} step/s"
        self._bar.update(self._task, completed=step, info=info)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
