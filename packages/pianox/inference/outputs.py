"""Output files of the inference commands: checked before any work, written atomically, published
together, never overwritten unless asked.

`plan_outputs` computes every input's targets (`OUTDIR/<name><suffix>` per format) and checks,
before a model is even loaded: that OUTDIR is (or can be made) a writable folder, that no two
inputs write the same file, that no output replaces an input, and that nothing exists already
unless `overwrite`. Every refusal is one `OutputError` (exit code 1) naming the path.

`publish` writes one input's files: each to a hidden temporary beside its target
(`.<name>.<pid>-<token>.tmp<suffix>`), then a small manifest, then renames them all into place,
then deletes the manifest. So a reader never sees half a file, and a pair of outputs (.mid +
.csv, .chart + .mid) appears together or not at all: a run killed before the manifest leaves
only temporaries, which the next run in that folder deletes; one killed during the renames
leaves a manifest, which the next run completes (every temporary it lists was written in
full). Temporaries of a process that is still alive are left alone.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..errors import OutputError
from .inputs import Input

MANIFEST = ".publish"
"""Suffix of a publication manifest."""


@dataclass(frozen=True)
class Target:
    """An input and the files it will be written to: format -> path."""

    input: Input
    paths: dict[str, Path]

    def __str__(self) -> str:
        return str(self.input)


def prepare_dir(folder: str | Path, what: str = "output folder") -> Path:
    """Create `folder` (and its parents) unless it exists, and check that files can be written
    in it; OutputError naming it when it is a file, lies under a file or is not writable."""
    p = Path(folder).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {p} is a file, not a folder")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{what} {p} cannot be created: {parent} is a file")
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {p} cannot be created: {exc.strerror or exc}") from exc
    probe = p / f".pianox-write-check.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{what} {p} is not writable: {exc.strerror or exc}") from exc
    return p


def check_file(path: str | Path, overwrite: bool, what: str = "output file") -> Path:
    """Check before any work that a single output file (a report) can be written: its folder is
    prepared (`prepare_dir`), it is not a folder, and it does not exist unless `overwrite`."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputError(f"{what} {p} is a folder")
    prepare_dir(p.parent, f"folder of {what} {p}")
    if p.exists() and not overwrite:
        raise OutputError(f"{what} {p} exists; pass --overwrite to replace it")
    clean_stale(p.parent, [p])
    return p


def plan_outputs(inputs: Sequence[Input], out_dir: str | Path, suffixes: Mapping[str, str], *,
                 overwrite: bool = False) -> list[Target]:
    """Every input's targets `out_dir/<name><suffix>` (format -> path), checked as the module
    doc says; folders are created. Stale temporaries of dead runs there are cleaned up."""
    root = prepare_dir(out_dir)
    targets = [Target(i, {fmt: root / f"{i.name}{suffix}" for fmt, suffix in suffixes.items()}) for i in inputs]
    sources = {i.path.resolve() for i in inputs}
    for t in targets:
        for p in t.paths.values():
            if p.resolve() in sources:
                raise OutputError(f"output {p} would replace an input file; choose another output folder")
    folders = sorted({p.parent for t in targets for p in t.paths.values()})
    for folder in folders:
        prepare_dir(folder)
        clean_stale(folder, [p for t in targets for p in t.paths.values() if p.parent == folder])
    check_targets([(str(t.input), t.paths.values()) for t in targets], overwrite)
    return targets


def check_targets(owners: Sequence[tuple[str, Iterable[Path]]], overwrite: bool) -> None:
    """OutputError when two owners (inputs, by name) would write the same path, or — unless
    `overwrite` — when a path exists already, naming them all (up to four)."""
    owner: dict[Path, int] = {}
    for k, (name, paths) in enumerate(owners):
        for p in paths:
            other = owner.setdefault(Path(p), k)
            if other != k:
                raise OutputError(f"{owners[other][0]} and {name} would write the same outputs ({p}); rename "
                                  f"one, or give their folder instead of the files (outputs then keep its "
                                  f"sub-folders)")
    if not overwrite:
        taken = [str(p) for p in owner if p.exists()]
        if taken:
            raise OutputError(f"{len(taken)} output file(s) already exist: {', '.join(taken[:4])}"
                              f"{' ...' if len(taken) > 4 else ''}; pass --overwrite to replace them")


def _pid_of(name: str) -> int | None:
    """The process id in a temporary's or manifest's name `.<x>.<pid>-<token>.tmp...`."""
    for part in name.split("."):
        pid, sep, token = part.partition("-")
        if sep and pid.isdigit() and len(token) == 8 and all(c in "0123456789abcdef" for c in token):
            return int(pid)
    return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(folder: Path, targets: Iterable[Path] = ()) -> list[Path]:
    """Finish or remove what interrupted runs left in `folder` (module doc); also removes the
    plain temporaries (`.<target name>.<random>.tmp`) that an interrupted atomic write of one of
    `targets` left. Returns the paths removed or completed."""
    touched: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return touched
    for manifest in (e for e in entries if e.name.startswith(".") and e.name.endswith(MANIFEST)):
        pid = _pid_of(manifest.name)
        if pid is None or _alive(pid):
            continue
        try:
            pairs = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pairs = []
        for tmp, target in pairs:
            if Path(tmp).exists():
                os.replace(tmp, target)  # every temporary was complete before the manifest
                touched.append(Path(target))
        manifest.unlink(missing_ok=True)
    names = {Path(t).name for t in targets}
    for e in entries:
        if not (e.name.startswith(".") and ".tmp" in e.name and e.exists()):
            continue
        pid = _pid_of(e.name)
        plain = pid is None and any(e.name.startswith(f".{n}.") and e.name.endswith(".tmp") for n in names)
        if (pid is not None and not _alive(pid)) or plain:
            if e.is_dir():
                import shutil

                shutil.rmtree(e, ignore_errors=True)
            else:
                e.unlink(missing_ok=True)
            touched.append(e)
    return touched


Writer = Callable[[Path], None]
"""Writes one output to the path it is given (a temporary beside the target)."""


def publish(writers: Mapping[Path, Writer], *, overwrite: bool = False) -> list[Path]:
    """Write each target through its writer and put them all in place together (module doc);
    returns the targets. Nothing is left behind when a writer fails; OutputError naming the file
    when a target appeared meanwhile and not `overwrite`."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staged: list[tuple[Path, Path]] = []
    manifest = None
    try:
        for target, write in writers.items():
            tmp = target.with_name(f".{target.name}.{token}.tmp{target.suffix}")
            staged.append((tmp, target))
            write(tmp)
            if not tmp.is_file():
                raise OutputError(f"{target}: its writer wrote nothing")
        if not overwrite:
            taken = [str(t) for _, t in staged if t.exists()]
            if taken:
                raise OutputError(f"{', '.join(taken)} appeared while this input ran; pass --overwrite to "
                                  f"replace it")
        if len(staged) > 1:
            first = staged[0][1]
            manifest = first.with_name(f".{first.name}.{token}{MANIFEST}")
            part = manifest.with_name(f".{first.name}.{token}.tmp")
            part.write_text(json.dumps([[str(a), str(b)] for a, b in staged]), encoding="utf-8")
            os.replace(part, manifest)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    interrupted: BaseException | None = None
    for tmp, target in staged:  # committed: finish the renames even when interrupted meanwhile
        try:
            os.replace(tmp, target)
        except KeyboardInterrupt as exc:
            interrupted = exc
            os.replace(tmp, target)
    if manifest is not None:
        manifest.unlink(missing_ok=True)
    if interrupted is not None:
        raise interrupted
    return [t for _, t in staged]
