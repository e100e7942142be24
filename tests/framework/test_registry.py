"""Discovery reads metadata only; loading names the distribution; broken plugins are isolated."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pianox import registry
from pianox.errors import PluginError

from .plugin_factory import BROKEN, MEAN_TASK, make_distribution


def test_builtins_are_registered_through_entry_points():
    found = {(i.group, i.name): i for i in registry.discover()}
    for name in ("auto", "cpu", "cuda", "mps"):
        assert found[("pianox.backends", name)].dist == "pianox"
    assert found[("pianox.tasks", "dummy")].value == "pianox.testing.dummies:DummyTask"


def test_discovery_imports_no_plugin_and_no_torch():
    code = ("import sys; from pianox import registry; infos = registry.discover(); "
            "assert infos; print(sorted(m for m in sys.modules if m.startswith(('torch', 'pianox.testing', 'pianox.backends'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_by_stage_or_group_name():
    from pianox.backends import CPUBackend

    assert registry.load("backend", "cpu") is CPUBackend
    assert registry.load("pianox.backends", "cpu") is CPUBackend


def test_unknown_plugin_lists_available():
    with pytest.raises(PluginError, match=r"unknown pianox.backends plugin 'tpu'; available: auto, cpu, cuda, mps"):
        registry.load("backend", "tpu")


def test_env_restricts_third_party_plugins(tmp_path, monkeypatch):
    site = make_distribution(tmp_path, "pianox-meantask", "pianox_meantask", MEAN_TASK,
                             {"pianox.tasks": {"mean-task": "pianox_meantask:MeanTask"}})
    monkeypatch.syspath_prepend(str(site))
    registry.clear_cache()
    assert "mean-task" in registry.names("pianox.tasks")
    monkeypatch.setenv("PIANOX_PLUGINS", "something-else")
    assert "mean-task" not in registry.names("pianox.tasks")
    assert "cpu" in registry.names("pianox.backends")  # built-ins always allowed
    with pytest.raises(PluginError, match="excluded by PIANOX_PLUGINS"):
        registry.load("task", "mean-task")
    monkeypatch.setenv("PIANOX_PLUGINS", "pianox-meantask")
    assert registry.load("task", "mean-task").name == "mean-task"


def test_broken_plugin_is_reported_and_isolated(tmp_path, monkeypatch):
    make_distribution(tmp_path, "pianox-broken", "pianox_broken", BROKEN,
                      {"pianox.tasks": {"broken": "pianox_broken:Task"}}, version="9.9")
    make_distribution(tmp_path, "pianox-meantask", "pianox_meantask", MEAN_TASK,
                      {"pianox.tasks": {"mean-task": "pianox_meantask:MeanTask"}})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    loaded, failures = registry.load_all("task")
    assert "mean-task" in loaded and "dummy" in loaded and "broken" not in loaded
    [failure] = failures
    assert failure.info.dist == "pianox-broken" and failure.info.version == "9.9"
    assert "RuntimeError: this plugin is broken on purpose" in failure.error
    with pytest.raises(PluginError, match=r"pianox.tasks:broken from distribution pianox-broken 9.9 .*failed to import"):
        registry.load("task", "broken")


def test_contract_violations_are_plugin_errors(tmp_path, monkeypatch):
    make_distribution(tmp_path, "pianox-badname", "pianox_badname",
                      "from dataclasses import dataclass\nclass T:\n    name = 'other'\n    @dataclass\n    class Config: pass\n",
                      {"pianox.tasks": {"badname": "pianox_badname:T"}})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    with pytest.raises(PluginError, match="does not match the entry point name 'badname'"):
        registry.load("task", "badname")


def test_cli_plugins_lists_everything_with_errors(tmp_path, cli):
    make_distribution(tmp_path, "pianox-broken", "pianox_broken", BROKEN,
                      {"pianox.tasks": {"broken": "pianox_broken:Task"}})
    proc = cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    rows = {(r["group"], r["name"]): r for r in json.loads(proc.stdout)}
    assert rows[("pianox.backends", "cpu")]["error"] is None
    assert rows[("pianox.backends", "cpu")]["distribution"] == "pianox"
    assert "broken on purpose" in rows[("pianox.tasks", "broken")]["error"]
    table = cli("plugins", env={"PYTHONPATH": str(tmp_path)})
    assert table.returncode == 0 and "pianox-broken" in table.stdout and "mps" in table.stdout


def test_command_plugins_extend_the_cli_and_broken_ones_are_skipped(tmp_path, cli):
    source = '''
def register(sub):
    p = sub.add_parser("hello", help="say hello")
    p.add_argument("who")
    p.set_defaults(func=lambda args: print(f"hello {args.who}") or 0)
'''
    make_distribution(tmp_path, "pianox-hello", "pianox_hello", source,
                      {"pianox.commands": {"hello": "pianox_hello:register"}})
    make_distribution(tmp_path, "pianox-badcmd", "pianox_badcmd", BROKEN,
                      {"pianox.commands": {"bad": "pianox_badcmd:register"}})
    proc = cli("hello", "world", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.strip() == "hello world"
    assert "command plugin bad (pianox_badcmd:register) from pianox-badcmd 0.1.0 failed to load" in proc.stderr
    assert "data" in cli("--help").stdout
