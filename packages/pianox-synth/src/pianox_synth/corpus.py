"""Writing a twin corpus: staging folder + rename, per-item seeds, parallel rendering, stamp.

A corpus is rendered into a hidden sibling folder `.{name}.tmp-{pid}-XXXX` and renamed to its
final name only once every file and the index are written, so an interrupted run never leaves a
complete-looking corpus. A staging folder whose process is gone (killed, crashed machine) or
is younger than the folder (the pid was reused) is stale: the next render of `name` removes
it. Each item draws its randomness from `item_rng(seed, key)`, so the bytes written do not
depend on the number of worker processes or their scheduling.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import multiprocessing
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from pianox.atomic import write_text
from pianox.errors import DataError
from pianox.holdout import RENDER_STAMP

STAMP = RENDER_STAMP
"""File written last into every twin corpus: what rendered it and with which parameters."""

Progress = Callable[[int, int], None]
"""progress(done, total), called after each rendered item."""


def item_rng(seed: int, *key: Any) -> np.random.Generator:
    """A generator that depends only on `seed` and `key` (strings/ints), stable across runs."""
    words = [zlib.crc32(str(k).encode("utf-8")) for k in key]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words]))


def check_output(out: str | os.PathLike) -> None:
    """DataError unless `out` is absent or an empty folder that this process can create or
    fill: not a file, not under a file, not in a folder it cannot write (checked before any
    rendering)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"output folder {out} is a file, not a folder; choose a new folder")
    if out.is_dir() and any(out.iterdir()):
        raise DataError(f"{out} already exists and is not empty; choose another output "
                        f"folder or remove it")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"output folder {out} cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"output folder {out} cannot be created: no permission to write in {parent}")


def _process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch; Linux /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + float(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def _stale(stage: Path) -> bool:
    """True when the staging folder's owner (the pid in its name) is dead, or started after
    the folder was made (the pid was reused)."""
    try:
        pid = int(stage.name.rsplit(".tmp-", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return False  # not one of ours (or from before pids were in the name): leave it
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    started = _process_start(pid)
    try:
        made = stage.stat().st_mtime
    except OSError:
        return False
    return started is not None and started > made + 1.0


def remove_stale_stages(out: str | os.PathLike) -> list[Path]:
    """Remove the stale staging folders `.{out.name}.tmp-*` beside `out` (see module doc);
    returns the ones removed."""
    out = Path(out)
    removed = []
    if not out.parent.is_dir():
        return removed
    for stage in out.parent.glob(f".{glob.escape(out.name)}.tmp-*"):
        if stage.is_dir() and _stale(stage):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


@contextlib.contextmanager
def staged_corpus(out: str | os.PathLike, exist_ok: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder that becomes `out` when the block succeeds.

    `out` must not exist or be empty. With `exist_ok`, a complete corpus (one with `STAMP`)
    appearing at `out` meanwhile (another process rendered it) is kept and the staged copy
    dropped. On failure the staging folder is removed.
    """
    out = Path(out)
    check_output(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_stages(out)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as exc:
        raise DataError(f"output folder {out} cannot be created: {exc.strerror or exc}") from exc
    try:
        yield stage
        os.chmod(stage, 0o755)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        try:
            os.rename(stage, out)
        except OSError:
            if exist_ok and (out / STAMP).is_file():
                shutil.rmtree(stage, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write json atomically with sorted keys (byte-identical for equal data)."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write rows as csv atomically, `\\n` line ends (byte-identical for equal rows)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def write_stamp(root: Path, twin: str, params: dict[str, Any], items: int,
                timbres: dict[str, dict[str, Any]] | None = None, **extra: Any) -> None:
    """Write the stamp: what rendered the corpus, with which parameters, and `timbres` —
    {timbre name: pianox_synth.soundfont.timbre_record} of every preset it played — plus any
    `extra` top-level entries."""
    from . import __version__

    write_json(root / STAMP, {"twin": twin, "params": params, "items": items,
                              "pianox_synth": __version__, "timbres": timbres or {}, **extra})


def read_stamp(root: Path) -> dict[str, Any] | None:
    """The stamp of a complete twin corpus at `root`, or None."""
    try:
        return json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int = 1,
             progress: Progress | None = None) -> list[Any]:
    """`[fn(j) for j in jobs]`, in `workers` spawned processes when > 1, results in order.

    `fn` must be a module-level function and the jobs picklable. Spawned (not forked)
    workers, so a caller holding threads (torch) cannot deadlock them.
    """
    total = len(jobs)
    results: list[Any] = []
    if workers <= 1 or total <= 1:
        for i, job in enumerate(jobs):
            results.append(fn(job))
            if progress:
                progress(i + 1, total)
        return results
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, total)) as pool:
        for i, result in enumerate(pool.imap(fn, jobs, chunksize=1)):
            results.append(result)
            if progress:
                progress(i + 1, total)
    return results


def default_workers(jobs: int, items: int) -> int:
    """`jobs` when positive, else min(4, CPUs, items // 16): rendering is fast and a spawned
    worker costs seconds of imports, so small corpora render in-process."""
    if jobs > 0:
        return jobs
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus, items // 16))
