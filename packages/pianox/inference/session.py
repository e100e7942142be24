"""Running a command over its inputs: a progress bar, `--jobs`, failures that stop nothing, a summary.

`run_inputs(items, work)` calls `work(item, progress)` for each item (in `jobs` threads: the
model is shared, torch and the front end release the GIL). An item that fails with an error a
user can act on (`PianoxError`: bad audio, a model that gave NaN, an output that appeared) is
reported — "pianox: error: <message naming the file>" — and the others go on; so is any other
exception, as one line with its type. Each finished item's line (what was written) goes to
`echo` even with --quiet; at the end, with several items or any failure, a summary says how
many succeeded and which failed. `exit_code` is 1 when anything failed.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, TextIO

from ..errors import PianoxError

Progress = Callable[[int, int], None]


@dataclass
class Outcome:
    """What became of one item: its result and line (when it succeeded) or its error."""

    item: Any
    result: Any = None
    line: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Bar:
    """A rich progress display on stderr: one bar over the items, one per item being worked on
    (over its windows). Nothing at all when `quiet`."""

    def __init__(self, quiet: bool, total: int, verb: str, console: Any = None):
        self.progress: Any = None
        self.lock = threading.Lock()
        if quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console or Console(stderr=True), transient=True)
        self.progress.start()
        self.overall = self.progress.add_task(f"{verb} files", total=total) if total > 1 else None

    def item(self, name: str) -> tuple[Progress, Callable[[], None]]:
        """(progress callback for the item's windows, function to call when it is done)."""
        if self.progress is None:
            return (lambda done, total: None), (lambda: None)
        with self.lock:
            task = self.progress.add_task(name, total=None)

        def advance(done: int, total: int) -> None:
            self.progress.update(task, completed=done, total=total)

        def finish() -> None:
            with self.lock:
                self.progress.remove_task(task)
                if self.overall is not None:
                    self.progress.advance(self.overall)

        return advance, finish

    def print(self, text: str, stream: TextIO) -> None:
        with self.lock:
            if self.progress is not None and stream is sys.stderr:
                self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                print(text, file=stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_inputs(items: Sequence[Any], work: Callable[[Any, Progress], tuple[Any, str]], *, jobs: int = 1,
               quiet: bool = False, verb: str = "processing", failed: Sequence[Any] = (),
               echo: TextIO | None = None) -> list[Outcome]:
    """Run `work(item, progress) -> (result, line)` over `items` (see module doc). `failed` are
    inputs that already failed (`inputs.Missing`: arguments naming no audio): reported and
    counted. Returns the outcomes in the order of `items`."""
    echo = sys.stdout if echo is None else echo
    bar = _Bar(quiet, len(items), verb)
    outcomes = [Outcome(item) for item in items]
    for message in failed:
        bar.print(f"pianox: error: {message}", sys.stderr)

    def one(k: int) -> None:
        item = outcomes[k].item
        advance, finish = bar.item(str(item))
        try:
            outcomes[k].result, outcomes[k].line = work(item, advance)
        except PianoxError as exc:
            outcomes[k].error = str(exc)
        except (Exception, SystemExit) as exc:  # one input must not take the others down
            outcomes[k].error = f"{item}: unexpected {type(exc).__name__}: {exc}"
        finally:
            finish()
        if outcomes[k].ok:
            if outcomes[k].line:
                bar.print(outcomes[k].line, echo)
        else:
            bar.print(f"pianox: error: {outcomes[k].error}", sys.stderr)

    try:
        if jobs <= 1 or len(items) <= 1:
            for k in range(len(items)):
                one(k)
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for f in [pool.submit(one, k) for k in range(len(items))]:
                    f.result()
    finally:
        bar.close()
    bad = [o for o in outcomes if not o.ok]
    if len(items) + len(failed) > 1 or bad or failed:
        done = len(items) - len(bad)
        summary = f"pianox: {done} of {len(items) + len(failed)} input(s) done"
        if bad or failed:
            names = [str(o.item) for o in bad] + [getattr(m, "arg", str(m)) for m in failed]
            summary += f", {len(names)} failed: {', '.join(names)}"
        print(summary, file=sys.stderr, flush=True)
    return outcomes


def exit_code(outcomes: Sequence[Outcome], failed: Sequence[Any] = ()) -> int:
    """0 when every input succeeded, else 1."""
    return 1 if failed or any(not o.ok for o in outcomes) else 0


def plan_inputs(args: Any, suffixes: Mapping[str, str]) -> tuple[list[Any], list[Any]]:
    """(targets, inputs that failed already) of a command's parsed shared options: the inputs
    expanded (`expand_inputs`) and their outputs planned and checked under `args.out` with one
    file per suffix (`plan_outputs`), before any model is loaded. Without `args.out` the
    targets have no files."""
    from .inputs import expand_inputs
    from .options import checked
    from .outputs import Target, plan_outputs

    checked(args)
    inputs, missing = expand_inputs(args.inputs)
    if getattr(args, "out", None) is None:
        targets = [Target(i, {}) for i in inputs]
    else:
        targets = plan_outputs(inputs, args.out, suffixes, overwrite=args.overwrite)
    return targets, list(missing)


def finish_inputs(args: Any, targets: Sequence[Any], work: Callable[[Any, Progress], tuple[Any, str]],
                  missing: Sequence[Any], *, verb: str, echo: TextIO | None = None,
                  outcomes: list[Outcome] | None = None) -> int:
    """Run `work` over `targets` with the shared options (--jobs, --quiet) and return the exit
    code; the outcomes are appended to `outcomes` when given."""
    done = run_inputs(targets, work, jobs=getattr(args, "jobs", 1), quiet=getattr(args, "quiet", False), verb=verb,
                      failed=missing, echo=echo)
    if outcomes is not None:
        outcomes.extend(done)
    return exit_code(done, missing)


def run_command(args: Any, suffixes: Mapping[str, str], setup: Callable[[], Callable[[Any, Progress], tuple[Any, str]]],
                *, verb: str, echo: TextIO | None = None, outcomes: list[Outcome] | None = None) -> int:
    """A whole inference command: plan and check the inputs and outputs (`plan_inputs`), then —
    only when there is something to do — `setup()` (load the model) for the function that works
    on one target, then run it over the targets (`finish_inputs`). Returns the exit code."""
    targets, missing = plan_inputs(args, suffixes)
    work = setup() if targets else (lambda target, progress: (None, ""))
    return finish_inputs(args, targets, work, missing, verb=verb, echo=echo, outcomes=outcomes)
