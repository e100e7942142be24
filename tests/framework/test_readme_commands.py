"""CI (.ci/run) collects every `uv run pytest ...` command the README shows, splitting it with
shlex. A command whose quoted argument wraps onto the next line cannot be split, and CI failed
on exactly that once: catch it here, in the suite, before CI does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_readme_uv_run_command_splits():
    text = re.sub(r"\\\n\s*", " ", README.read_text(encoding="utf-8"))
    found = re.findall(r"uv run (pytest|pianox)\b([^`\n#]*)", text)
    assert any(tool == "pytest" for tool, _ in found) and any(tool == "pianox" for tool, _ in found)
    broken = []
    for tool, rest in found:
        try:
            shlex.split(rest)
        except ValueError as exc:
            broken.append(f"uv run {tool}{rest}: {exc}")
    assert not broken, "README commands that shlex cannot split (keep each on one line):\n" + "\n".join(broken)
