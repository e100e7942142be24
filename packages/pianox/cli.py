"""The `pianox` command line: run, eval, plugins, models (and the subcommands each domain adds)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import __version__
from .errors import PianoxError


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_file

    run = run_file(args.experiment, args.set, force=args.force, resume=args.resume, quiet=args.quiet)
    if not run.writable:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    results = json.loads((run.path / "results.json").read_text(encoding="utf-8"))
    print(f"run finished: {run.path}")
    for k, v in results.items():
        if isinstance(v, float):
            print(f"  {k} = {v:.4f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from . import atomic
    from .inference.outputs import check_file
    from .trained import evaluate_run

    if args.out is not None:  # before any work: a report that cannot be written stops us now
        check_file(args.out, args.overwrite, "report")
    report = evaluate_run(args.run, args.split, args.set, device=args.device, batch_size=args.batch_size)
    text = json.dumps(report, indent=2)
    if args.out:
        atomic.write_text(args.out, text + "\n")
    if args.json:
        print(text)
        return 0
    scored = (f"a seeded sample of {report['examples']} of {report['total']} examples (seed "
              f"{report['sample_seed']})" if report["sampled"] else f"all {report['examples']} examples")
    print(f"{report['run']} ({report['checkpoint']}), split {report['split']!r}, {scored}"
          + (f", {' '.join(report['overrides'])}" if report["overrides"] else ""))
    timbre = report.get("timbre")
    if timbre is not None:
        verdict = ("held out: no sample shared with training" if timbre["disjoint"] else
                   f"NOT held out: {timbre['shared_samples']} of its {timbre['held_out_samples']} samples "
                   f"are played in training")
        print(f"  timbre {', '.join(timbre['held_out'])}: {verdict}")
    for k, v in report["metrics"].items():
        print(f"  {args.split}/{k} = {v:.4f}")
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from . import registry

    infos = registry.discover(args.group and registry.GROUPS.get(args.group, args.group))
    rows = []
    for info in infos:
        error = None
        if not args.no_load:
            try:
                registry.load(info.group, info.name)
            except PianoxError as exc:
                error = registry.short_error(exc)
        rows.append({"group": info.group, "name": info.name, "distribution": info.dist,
                     "version": info.version, "target": info.value, "error": error})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pianox plugins")
    for col in ("group", "name", "distribution", "version", "status"):
        table.add_column(col)
    for r in rows:
        status = "[red]error: " + r["error"] + "[/red]" if r["error"] else ("not loaded" if args.no_load else "ok")
        table.add_row(r["group"], r["name"], r["distribution"], r["version"], status)
    Console(width=200).print(table)
    return 0


def build_parser(plugin_commands: bool = True) -> argparse.ArgumentParser:
    """The `pianox` parser: the built-in commands, plus those of every `pianox.commands` plugin
    when `plugin_commands` (else the plugins are listed in the help from metadata only)."""
    parser = argparse.ArgumentParser(prog="pianox", description="Audio Spectrogram Transformers for piano and drums",
                                     epilog=None if plugin_commands else _plugin_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pianox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run an experiment file")
    p.add_argument("experiment", help="TOML experiment file")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set train.lr=3e-4")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--force", action="store_true", help="replace an existing run of the same config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    from .inference.options import add_output_file, add_running

    p = sub.add_parser("eval", help="evaluate a finished run on a split, optionally of another source")
    g = p.add_argument_group("inputs and model")
    g.add_argument("run", metavar="MODEL", help="a run directory, a checkpoint folder inside one, or a model "
                                                "folder (its recorded source is evaluated)")
    g.add_argument("--split", default="test", help="source split to evaluate (default test)")
    g.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="override the recorded experiment, e.g. --set source.program=2")
    add_output_file(p, "also write the report as JSON to this file (checked before any work)")
    add_running(p, jobs=False, quiet=False, recorded=True)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("plugins", help="list every plugin found (and load errors)")
    p.add_argument("--group", help="only this stage or entry-point group (e.g. task, pianox.tasks)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-load", action="store_true", help="read metadata only; do not import plugins")
    p.set_defaults(func=_cmd_plugins)

    from .cli_models import register as add_models

    add_models(sub)
    if plugin_commands:
        _add_plugin_commands(sub)
    return parser


COMMANDS_GROUP = "pianox.commands"
"""Entry points `name = "module:register"`; `register(subparsers)` adds subcommands (the data
commands, and each task's inference command, come this way)."""


BUILTIN_COMMANDS = ("run", "eval", "plugins", "models")
"""Commands of the core; naming one (or none: --version, --help) imports no command plugin."""


def _command_entry_points() -> list:
    from importlib import metadata

    return sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name)


def _origin(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "an unknown distribution"


def _plugin_epilog() -> str:
    """The command plugins, from metadata only (for `pianox --help`)."""
    eps = _command_entry_points()
    if not eps:
        return ""
    rows = "\n".join(f"  {ep.name:14s} from {_origin(ep)}" for ep in eps)
    return ("command plugins, each adding one or more commands (imported only when a command that is "
            f"not built in is named; an unknown COMMAND lists them all):\n{rows}")


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    import traceback

    for ep in _command_entry_points():
        try:
            ep.load()(sub)
        except (Exception, SystemExit) as exc:  # a broken command plugin must not take the CLI down,
            # not even by calling sys.exit() while it imports
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            print(f"pianox: warning: command plugin {ep.name} ({ep.value}) from {_origin(ep)} failed to "
                  f"load and is skipped: {detail}", file=sys.stderr)


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_word(argv)
    parser = build_parser(plugin_commands=command is not None and command not in BUILTIN_COMMANDS)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PianoxError as exc:
        print(f"pianox: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pianox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
