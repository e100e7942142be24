"""A kit that lets bench/device_check.py run on a GPU machine without network access.

The lent GPU machines hold python3 with torch, triton, numpy, scipy, scikit-learn, matplotlib,
safetensors, rich and pytest, but not pianox nor a few of its dependencies, and nothing can be
downloaded there. `make_kit(folder)` runs on a development machine (uv and pip with network):

    folder/*.whl        pianox (its compiled core built for that Python), pianox-synth and the
                        task plugins, and the missing third-party wheels at the versions of uv.lock
    folder/corpora/<e>  the synthetic twin corpus of experiments/smoke/<e>.toml, pre-rendered, so
                        the GPU machine needs neither music21 nor a SoundFont renderer

`install_kit(folder)` runs there: it installs the wheels into a private folder with pip (no
index, no dependencies) and returns the PYTHONPATH entry to use. Without a pianox wheel in the
kit it builds pianox from this checkout instead (scikit-build-core and nanobind must be there).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Runtime dependencies of pianox and its plugins that the GPU image lacks (smoke trainings only:
# rendering and the tasks' librosa baselines are not needed there).
MISSING_ON_DEVICE = ["tomli-w", "soundfile", "cffi", "pycparser", "soxr", "pretty-midi", "mido",
                     "importlib-resources", "decorator", "mir-eval"]
WORKSPACE = ["pianox-synth", "pianox-ssast", "pianox-perception", "pianox-transcription", "pianox-drums"]
TARGET_PYTHON = "3.12"  # the GPU image's python3
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
SITE = Path(tempfile.gettempdir()) / "pianox-kit-site"


def _locked_version(name: str) -> str:
    """The newest version of `name` in uv.lock (the lock holds one per Python range)."""
    import tomllib  # the kit is made with Python >= 3.11

    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    versions = [p["version"] for p in lock["package"] if p["name"] == name]
    if not versions:
        raise SystemExit(f"device kit: {name} is not in uv.lock")
    return max(versions, key=lambda v: [int(x) if x.isdigit() else 0 for x in v.replace("post", ".").split(".")])


def _run(cmd: list[str], **kwargs) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO, **kwargs)


def make_kit(folder: Path, python: str | None) -> None:
    """Fill `folder` with wheels and pre-rendered smoke corpora (see the module docstring).

    `python` is an interpreter of the GPU machine's Python version (default: `uv python find
    3.12`): pianox's compiled core is built with it and the wheels are fetched for its version."""
    folder.mkdir(parents=True, exist_ok=True)
    if python is None:
        found = subprocess.run(["uv", "python", "find", TARGET_PYTHON], capture_output=True, text=True)
        if found.returncode != 0:
            raise SystemExit(f"device kit: no Python {TARGET_PYTHON} found; pass --kit-python PATH")
        python = found.stdout.strip()
    target = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    _run(["uv", "build", "--wheel", "--python", python, "--out-dir", str(folder)])
    for package in WORKSPACE:
        _run(["uv", "build", "--wheel", "--package", package, "--out-dir", str(folder)])
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip = ["uv", "tool", "run", "pip"]  # the uv environment itself has no pip
    for name in MISSING_ON_DEVICE:
        _run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", target,
              "--implementation", "cp", *platforms, "-d", str(folder), f"{name}=={_locked_version(name)}"])
    _render_corpora(folder / "corpora")
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"device kit: {folder} ({size / 2**20:.1f} MiB); carry it and run "
          f"`python3 bench/device_check.py --kit {folder.name}`")


def _render_corpora(root: Path) -> None:
    """Render the twin corpus of every smoke experiment whose source is a synthetic twin."""
    from pianox.config import load_experiment
    from pianox.runner import build_stages

    for path in sorted((REPO / "experiments" / "smoke").glob("*.toml")):
        exp = load_experiment(path)
        if not exp.stages["source"].kind.endswith("_twin"):
            continue
        exp = load_experiment(path, [f"source.cache_dir={root / path.stem}"])
        print(f"device kit: rendering the {path.stem} corpus", flush=True)
        build_stages(exp).source.examples("train")


def install_kit(folder: Path) -> Path:
    """Install the kit's wheels into a private site folder (no index, no dependencies); returns it."""
    wheels = sorted(str(w) for w in folder.glob("*.whl"))
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--no-cache-dir", "--upgrade", "--target", str(SITE)]
    if wheels:
        _run([*pip, *wheels])
    if not any(Path(w).name.split("-")[0] == "pianox" for w in wheels):
        _run([*pip, "--no-build-isolation", str(REPO)])  # builds the compiled core here
    return SITE
