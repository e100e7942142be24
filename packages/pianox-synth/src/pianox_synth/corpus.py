"""Writing a twin corpus: staging folder + rename, per-item seeds, parallel rendering, stamp.

A corpus is rendered into a hidden sibling folder `.{name}.tmp-XXXX` and renamed to its final
name only once every file and the index are written, so an interrupted run never leaves a
complete-looking corpus. Each item draws its randomness from `item_rng(seed, key)`, so the
bytes written do not depend on the number of worker processes or their scheduling.
"""

from __future__ import annotations

import contextlib
import csv
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

STAMP = "pianox-twin.json"
"""File written last into every twin corpus: what rendered it and with which parameters."""

Progress = Callable[[int, int], None]
"""progress(done, total), called after each rendered item."""


def item_rng(seed: int, *key: Any) -> np.random.Generator:
    """A generator that depends only on `seed` and `key` (strings/ints), stable across runs."""
    words = [zlib.crc32(str(k).encode("utf-8")) for k in key]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words]))


def check_output(out: str | os.PathLike) -> None:
    """DataError unless `out` is absent or an empty folder (checked before any rendering)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out} already exists and is not empty; choose another output "
                        f"folder or remove it")


@contextlib.contextmanager
def staged_corpus(out: str | os.PathLike, exist_ok: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder that becomes `out` when the block succeeds.

    `out` must not exist or be empty. With `exist_ok`, a complete corpus (one with `STAMP`)
    appearing at `out` meanwhile (another process rendered it) is kept and the staged copy
    dropped. On failure the staging folder is removed.
    """
    out = Path(out)
    check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
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
                timbres: dict[str, dict[str, Any]] | None = None) -> None:
    """Write the stamp: what rendered the corpus, with which parameters, and `timbres` —
    {timbre name: pianox_synth.soundfont.timbre_record} of every preset it played."""
    from . import __version__

    write_json(root / STAMP, {"twin": twin, "params": params, "items": items,
                              "pianox_synth": __version__, "timbres": timbres or {}})


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
