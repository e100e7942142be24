"""`pianox run`: resolve an experiment, build its five stages, train, and finish the run dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Experiment, load_experiment
from .errors import PianoxError
from .rundir import RunDir, git_commit
from .stages import build_stages

__all__ = ["RunContext", "build_stages", "ensure_run", "run_dir_for", "run_experiment", "run_file"]


@dataclass
class RunContext:
    """What a task's `finish(run)` gets: the run directory, the experiment and the trained parts."""

    run: RunDir
    experiment: Experiment
    stages: Any
    model: Any
    head: Any
    results: dict[str, float]


def run_dir_for(exp: Experiment) -> Path:
    """`<output_dir>/<name>-<hash8>`."""
    return Path(exp.run.output_dir) / f"{exp.run.name}-{exp.hash()}"


def run_experiment(exp: Experiment, *, force: bool = False, resume: bool = False, quiet: bool = False) -> RunDir:
    """Train and evaluate `exp`; returns the finished run directory.

    Under torchrun every rank calls this; rank 0 owns the run directory (see train.distributed).
    """
    from .train import distributed
    from .train.engine import Interrupted, Trainer

    world = distributed.world_from_env()
    if world.active and hasattr(exp.stages["backend"].config, "device_index"):
        exp.stages["backend"].config.device_index = world.local_rank
    stages = build_stages(exp)
    stages.source.examples("train")  # missing data fails here, before a run directory exists
    distributed.setup(world, stages.backend.device.type)
    owned: RunDir | None = None  # rank 0's handle, which holds the run directory's lock
    try:
        root = run_dir_for(exp)
        run, error = None, None
        if world.is_main:
            try:
                run = owned = RunDir.open(root, exp.dumps(), force=force, resume=resume)
                run.provenance = {"commit": git_commit(), "experiment": str(exp.path) if exp.path else None}
            except PianoxError as exc:
                error = exc
        run, error = distributed.broadcast(world, (run, error))  # every rank fails alike
        if error is not None:
            raise error
        if not world.is_main:
            run = RunDir(run.path, resumed=run.resumed, writable=False)
        try:
            trainer = Trainer(stages, exp, run, quiet=quiet or not world.is_main, world=world)
            results = trainer.fit()
            if world.is_main:
                stages.task.finish(RunContext(run, exp, stages, trainer.model, trainer.head, results))
        except Interrupted:
            run.set_status("interrupted")
            raise
        except BaseException as exc:
            run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        run.set_status("finished", results=results)
        return run
    finally:
        if owned is not None:
            owned.close()
        distributed.teardown(world)


def ensure_run(exp: Experiment, label: str = "", *, force: bool = False, quiet: bool = False) -> Path:
    """The run directory of `exp`, trained first unless a finished run is there (`force`
    retrains it; an interrupted one is resumed). `label` prefixes the progress lines."""
    from .rundir import read_status

    root = run_dir_for(exp)
    state = read_status(root).get("state") if root.exists() else None
    prefix = f"{label}: " if label else ""
    if state != "finished" or force:
        if not quiet:
            print(f"{prefix}training {root}")
        run_experiment(exp, force=force, resume=state is not None and not force, quiet=quiet)
    elif not quiet:
        print(f"{prefix}reusing the finished run {root}")
    return root


def run_file(path: str | Path, overrides: list[str] | None = None, **kwargs: Any) -> RunDir:
    """Load the experiment at `path` (with `--set` overrides) and run it."""
    return run_experiment(load_experiment(path, overrides), **kwargs)
