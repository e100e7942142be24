"""The progress display of the inference commands: a bar over the files and one per file over
its windows, drawn on the terminal while work runs, and nothing at all with --quiet."""

from __future__ import annotations

import io
import sys

from rich.console import Console

from pianox.inference.session import _Bar, run_inputs


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100, color_system=None), out


def test_the_bar_shows_each_file_and_its_windows():
    console, out = _terminal()
    bar = _Bar(False, 2, "transcribing", console=console)
    for name in ("take1.wav", "take2.wav"):
        advance, finish = bar.item(name)
        advance(3, 7)
        bar.progress.refresh()
        finish()
        bar.progress.refresh()
    bar.close()
    text = out.getvalue()
    assert "transcribing files" in text and "take1.wav" in text and "take2.wav" in text
    assert "3/7" in text and "1/2" in text and "2/2" in text


def test_quiet_draws_nothing_and_work_still_gets_a_progress_callback(capsys):
    seen = []

    def work(item, progress):
        progress(1, 2)
        progress(2, 2)
        seen.append(item)
        return item, f"{item}: done"

    outcomes = run_inputs(["a.wav", "b.wav"], work, quiet=True, echo=sys.stdout)
    assert [o.ok for o in outcomes] == [True, True] and seen == ["a.wav", "b.wav"]
    captured = capsys.readouterr()
    assert captured.out.splitlines()[:2] == ["a.wav: done", "b.wav: done"]
    assert "files" not in captured.err  # no bar
