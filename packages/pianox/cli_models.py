"""`pianox models ...`: shipped models.

    pianox models [list] [--json]
    pianox models pack MODEL --name NAME -o FOLDER [--fp16] [--metrics REPORT.json ...]
                       [--licence TEXT] [--overwrite]

`list` (the default) shows every installed model of the `pianox.pretrained` entry-point group:
its task, the distribution that ships it, whether it is its task's default, its size and the
first metric of its card. `pack` writes a model folder from a run (pianox.inference.pack).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `models` with its `list` and `pack` subcommands to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "models", help="list the installed shipped models, or pack a run into a model folder",
        description="List the shipped models (entry points of the `pianox.pretrained` group) or pack a "
                    "trained run into a model folder that can ship in a distribution.")
    parser.add_argument("--json", action="store_true", help="machine-readable list")
    parser.set_defaults(func=run_list)
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    p = sub.add_parser("list", help="list the installed shipped models (the default)")
    p.add_argument("--json", action="store_true", help="machine-readable list")
    p.set_defaults(func=run_list)
    p = sub.add_parser(
        "pack", help="write a model folder (weights, config, decoding files, card, manifest) from a run",
        description="Write a model folder from a run: config.toml, model.safetensors, the task's decoding "
                    "files, a README.md model card and a manifest.json of sha256 sums checked on every load.")
    p.add_argument("model", metavar="MODEL", help="a run directory, a checkpoint folder inside one, or a model folder")
    p.add_argument("--name", required=True, help="the model's name (its card title; the entry point name it "
                                                 "will ship under)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="FOLDER", help="the model folder to write")
    p.add_argument("--fp16", action="store_true", help="store float32 weights as float16 (loaded as float32); "
                                                       "check the metrics do not move (pianox eval on the folder)")
    p.add_argument("--metrics", action="extend", nargs="+", default=[], type=Path, metavar="REPORT.json",
                   help="evaluation reports (pianox eval / drums-eval / transcribe-eval -o) quoted in the card")
    p.add_argument("--licence", default=None, metavar="TEXT",
                   help="the card's licence section (default: a sentence naming the training material)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.set_defaults(func=run_pack)
    return parser


def run_pack(args: argparse.Namespace) -> int:
    """`pianox models pack`: write the folder and say what it holds."""
    from .inference.models import MANIFEST
    from .inference.pack import pack

    folder = pack(args.model, args.out, name=args.name, fp16=args.fp16, reports=args.metrics,
                  licence=args.licence, overwrite=args.overwrite)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    size = sum((folder / f).stat().st_size for f in manifest["files"])
    print(f"wrote {folder}: {manifest['task']} model {manifest['name']!r}, {manifest['dtype']}, "
          f"{size / 1e6:.1f} MB ({', '.join(manifest['files'])})")
    return 0


def shipped_rows() -> list[dict[str, Any]]:
    """One row per installed shipped model: name, task, distribution, version, default, bytes,
    metric (the card's first), error (when its entry point fails)."""
    from .errors import CheckpointError
    from .inference.card import headline, read_card
    from .inference.models import MANIFEST, pretrained_models, pretrained_path

    rows = []
    for name, ep in pretrained_models().items():
        dist = getattr(ep, "dist", None)
        row: dict[str, Any] = {"name": name, "task": None, "distribution": dist.metadata["Name"] if dist else None,
                               "version": dist.version if dist else None, "default": False, "bytes": None,
                               "metric": "", "error": None}
        try:
            folder = pretrained_path(name)
        except CheckpointError as exc:
            rows.append({**row, "error": str(exc)})
            continue
        row["task"] = _task_of(folder, MANIFEST)
        row["default"] = name == row["task"]
        row["bytes"] = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        row["metric"] = headline(read_card(folder))
        rows.append(row)
    return rows


def _task_of(folder: Path, manifest: str) -> str | None:
    """The task of a model folder: its manifest's, else its config's [task] kind."""
    try:
        if (folder / manifest).is_file():
            return json.loads((folder / manifest).read_text(encoding="utf-8")).get("task")
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        return tomllib.loads((folder / "config.toml").read_text(encoding="utf-8")).get("task", {}).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def run_list(args: argparse.Namespace) -> int:
    """`pianox models [list]`: a table (or JSON) of the installed shipped models."""
    rows = shipped_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no shipped models are installed; pass --model RUN_OR_DIR, or install a distribution that "
              "registers `pianox.pretrained` entry points (see docs/inference.md)")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="pianox shipped models")
    for col in ("name", "task", "distribution", "default", "size", "metric"):
        table.add_column(col)
    for r in rows:
        size = f"{r['bytes'] / 1e6:.1f} MB" if r["bytes"] is not None else ""
        metric = (f"[red]error: {escape(r['error'])}[/red]" if r["error"] else
                  escape(r["metric"] or "no metrics in its card"))
        table.add_row(escape(r["name"]), r["task"] or "?", escape(f"{r['distribution']} {r['version']}"),
                      "yes" if r["default"] else "", size, metric)
    Console(width=200, file=sys.stdout).print(table)
    return 0
