"""The public Python API is importable where a user looks for it, lazily: every `pianox...` name
the README and docs/ mention resolves, `import pianox.models` / `pianox.features` /
`pianox.inference` import no torch, and running a trained model imports no training code."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pianox.api import GROUPS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GROUP_NAMES = {*GROUPS.values(), "pianox.commands", "pianox.pretrained"}  # entry-point groups, not modules


def _documented_names() -> dict[str, str]:
    """name -> the first document using it: dotted `pianox...` references and `from X import Y`."""
    found: dict[str, str] = {}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"\b((?:pianox|pianox_[a-z]+)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
            found.setdefault(m.group(1), doc.name)
        for m in re.finditer(r"from ((?:pianox|pianox_[a-z]+)[\w.]*) import ([\w, ]+)", text):
            for name in m.group(2).split(","):
                if name.strip():
                    found.setdefault(f"{m.group(1)}.{name.strip()}", doc.name)
    return {k: v for k, v in found.items() if k not in GROUP_NAMES}


def _resolve(name: str) -> object:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


PROMISED = ["pianox.models.ASTEncoder", "pianox.models.read_checkpoint", "pianox.features.kaldi_fbank",
            "pianox.features.melspectrogram", "pianox.features.patchify", "pianox.features.KaldiFeatures",
            "pianox.inference.load_model", "pianox.inference.stream_windows", "pianox.inference.expand_inputs",
            "pianox.inference.plan_outputs", "pianox.inference.publish", "pianox.inference.run_inputs",
            "pianox_transcription.inference.Transcriber", "pianox_drums.inference.Transcriber",
            "pianox_perception.rate.Rater"]


def test_the_documents_mention_names():
    names = _documented_names()
    assert len(names) > 20 and any(n.startswith("pianox.inference") for n in names)


@pytest.mark.parametrize("name", sorted(set(_documented_names()) | set(PROMISED)))
def test_every_documented_and_promised_name_imports(name):
    assert _resolve(name) is not None


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_public_packages_import_lazily():
    got = _run("import sys, pianox.models, pianox.features, pianox.inference, pianox.trained; "
               "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('pianox.train.')))")
    assert got == "[]"


def test_running_a_trained_model_imports_no_training_code(runs, tmp_path):
    """Inference reads weights (pianox.checkpoint), builds stages (pianox.stages) and batches
    windows (pianox.batching) without the training package."""
    from robustness.corpus import write_good

    audio = write_good(tmp_path / "take.wav")
    for command, task, extra in [("transcribe", "transcription", ["-o", str(tmp_path / "t")]),
                                 ("drums", "drums", ["-o", str(tmp_path / "d")]), ("rate", "perception", ["--json"])]:
        args = [command, str(audio), "--model", str(runs[task]), "--quiet", *extra]
        got = _run(f"import sys; from pianox.cli import main; code = main({args!r}); "
                   f"print(code, sorted(m for m in sys.modules if m.startswith('pianox.train')))")
        assert got.splitlines()[-1] == "0 []", (command, got)
