"""A plugin that calls sys.exit() cannot take the CLI down (issue 21, finding 2): every entry
point loads inside a guard that also catches SystemExit, and --version, --help and `pianox
plugins` import no command plugin at all."""

from __future__ import annotations

import json
import sys

import pytest

from pianox import registry
from pianox.errors import PluginError

from framework.plugin_factory import make_distribution

EXIT_AT_IMPORT = '''
import sys
sys.exit("the exiting plugin says bye")
'''

EXIT_IN_REGISTER = '''
import sys

def register(sub):
    sys.exit(3)
'''


@pytest.fixture(params=["at-import", "in-register"])
def exiting_command(request, tmp_path, monkeypatch):
    """A `pianox.commands` plugin (distribution pianox-exiter) that calls sys.exit()."""
    source = EXIT_AT_IMPORT if request.param == "at-import" else EXIT_IN_REGISTER
    make_distribution(tmp_path, "pianox-exiter", "pianox_exiter", source,
                      {"pianox.commands": {"exiter": "pianox_exiter:register"}}, version="2.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pianox_exiter", raising=False)
    return "SystemExit: the exiting plugin says bye" if request.param == "at-import" else "SystemExit: 3"


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_no_command_plugin(args, exiting_command, capsys):
    from pianox.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    out, err = capsys.readouterr()
    assert exit_.value.code == 0 and err == ""
    assert "pianox_exiter" not in sys.modules
    assert ("pianox 0.1.0" in out) if args == ["--version"] else ("exiter" in out and "pianox-exiter 2.0" in out)


def test_plugins_command_imports_no_command_plugin(exiting_command, pianox):
    code, out, err = pianox("plugins", "--json", "--group", "backend")
    assert code == 0 and err == "" and {r["name"] for r in json.loads(out)} >= {"cpu", "auto"}
    assert "pianox_exiter" not in sys.modules


def test_a_command_plugin_that_exits_is_reported_and_skipped(exiting_command, capsys):
    from pianox.cli import main

    with pytest.raises(SystemExit) as exit_:  # argparse's own exit after printing the help
        main(["data", "--help"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0 and "synth" in out
    assert (f"command plugin exiter (pianox_exiter:register) from pianox-exiter 2.0 failed to load and is "
            f"skipped: {exiting_command}") in err


def test_a_stage_plugin_that_exits_is_a_plugin_error(tmp_path, monkeypatch, pianox):
    make_distribution(tmp_path, "pianox-exittask", "pianox_exittask", EXIT_AT_IMPORT,
                      {"pianox.tasks": {"exittask": "pianox_exittask:Task"}}, version="1.5")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    with pytest.raises(PluginError, match=r"pianox.tasks:exittask from distribution pianox-exittask 1.5 "
                                          r"\(pianox_exittask:Task\) failed to import: SystemExit: the exiting"):
        registry.load("task", "exittask")
    code, out, _ = pianox("plugins", "--json", "--group", "task")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["exittask"]["error"] == "SystemExit: the exiting plugin says bye"
    assert rows["dummy"]["error"] is None  # the others still load
