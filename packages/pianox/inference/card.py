"""The model card (README.md) of a packed model folder, and the metrics it quotes.

A card says what the model is (task, run, experiment file, seed, commit), what it was trained
on (the run's `[source]` table, the SoundFonts), how big it is, how well it does on held-out
material and under which licence. Metrics come from the run's results.json (its final test)
and from evaluation reports given to `pianox models pack --metrics`; `report_rows` reads the
reports of `pianox eval -o` ("metrics"), `pianox drums-eval -o` ("model" / "baseline" with
"ci95") and `pianox transcribe-eval -o` ("systems", each metric with a "<name>_ci"), keeping
every figure's split, size and 95 % CI where the report has them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ..checkpoint import WEIGHTS

METRICS_HEADING = "## Metrics"

SIZE_KEYS = {"clips", "examples", "total", "recordings", "sample_seed"}
"""Numbers of a report that count what was scored: its size, not a metric."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = (_number(v) for v in value)
        if lo is not None and hi is not None:
            return lo, hi
    return None


def _groups(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label prefix, flat metrics table) of each system a report scores."""
    if isinstance(report.get("systems"), dict):  # transcribe-eval: pianox and its anchors
        return [("" if name == "pianox" else f"{name} ", table) for name, table in report["systems"].items()
                if isinstance(table, dict)]
    if isinstance(report.get("model"), dict):  # drums-eval: the model (+ its top-level velocity_mae)
        top = {k: v for k, v in report.items() if k not in SIZE_KEYS}  # and the band-onset baseline
        return [("", {**top, **report["model"]})] + ([("baseline ", report["baseline"])]
                                                     if isinstance(report.get("baseline"), dict) else [])
    if isinstance(report.get("metrics"), dict):  # pianox eval
        return [("", report["metrics"])]
    # a run's results.json: "<split>/<metric>" keys
    split = report.get("split", "test")
    return [("", {k.split("/", 1)[1]: v for k, v in report.items() if k.startswith(f"{split}/")})]


def _facts(report: dict[str, Any], split: str) -> dict[str, Any]:
    """What a report says about what it scored: its top level over its "scored" table (which
    results.json keeps per split)."""
    scored = report.get("scored")
    if isinstance(scored, dict) and isinstance(scored.get(split), dict):
        scored = scored[split]
    return {**(scored if isinstance(scored, dict) else {}), **report}


def _size(facts: dict[str, Any]) -> tuple[str, str]:
    """(count and unit, how they were drawn) of a report's scored set."""
    for unit in ("recordings", "clips", "examples"):
        n = facts.get(unit)
        if isinstance(n, int) and not isinstance(n, bool):
            if facts.get("sampled"):
                return f"{n} {unit}", (f"a seeded sample of {n} of its {facts.get('total')} {unit} "
                                       f"(seed {facts.get('sample_seed')})")
            return f"{n} {unit}", f"all {n} {unit}"
    return "not recorded", "size not recorded"


def _timbre(facts: dict[str, Any]) -> str:
    t = facts.get("timbre")
    if not isinstance(t, dict) or "disjoint" not in t:
        return ""
    names = ", ".join(map(str, t.get("held_out", []))) or "the evaluated timbre"
    return (f" Held-out timbre {names}: " + ("no sample shared with training." if t["disjoint"] else
            f"NOT held out ({t.get('shared_samples')} of its {t.get('held_out_samples')} samples are "
            f"played in training)."))


def report_rows(report: dict[str, Any], first: str = "") -> list[tuple[str, float, tuple[float, float] | None]]:
    """(metric, value, 95 % CI or None) of every finite number a report scores; `first` (a
    metric name, e.g. the run's [train] metric without "val/") leads, then those with a CI."""
    rows = []
    for label, table in _groups(report):
        ci95 = table.get("ci95") if isinstance(table.get("ci95"), dict) else {}
        for key, value in table.items():
            number = _number(value)
            if number is None or key.endswith("_ci"):
                continue
            rows.append((label + key, number, _interval(table.get(f"{key}_ci", ci95.get(key)))))
    return sorted(rows, key=lambda r: (r[0] != first, r[2] is None))  # stable: report order otherwise


def metrics_section(sources: Sequence[tuple[str, dict[str, Any]]], first: str = "") -> str:
    """The card's metrics: one table per (title, report), each with split, size and held-out timbre."""
    lines = [METRICS_HEADING, "", "Held-out figures; 95 % CIs are percentile bootstraps over the evaluated "
             "unit where the report has them (— where it has none).", ""]
    shown = 0
    for title, report in sources:
        rows = report_rows(report, first)
        if not rows:
            continue
        split = str(report.get("split", "test"))
        facts = _facts(report, split)
        size, drawn = _size(facts)
        lines += [f"### {title}", "", f"Split `{split}`, {drawn}.{_timbre(facts)}", "",
                  "| metric | value | 95 % CI | split | size |", "|---|---|---|---|---|"]
        for name, value, ci in rows:
            cell = f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "—"
            lines.append(f"| {name} | {value:.4g} | {cell} | {split} | {size} |")
        lines.append("")
        shown += 1
    if not shown:
        lines += ["No held-out metrics recorded: the run has no test results and no report was given "
                  "(`pianox models pack --metrics REPORT.json`).", ""]
    return "\n".join(lines)


def headline(card: str) -> str:
    """The first metric of a card as one line ("f1_micro 0.81 [0.79, 0.83] (test, 120 clips)"),
    or "" when it quotes none."""
    _, found, rest = card.partition(METRICS_HEADING)
    for line in rest.splitlines() if found else []:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0] != "metric" and not cells[0].startswith("---"):
            name, value, ci, split, size = cells
            return f"{name} {value}" + (f" {ci}" if ci != "—" else "") + f" ({split}, {size})"
    return ""


def _soundfonts(source: dict[str, Any]) -> list[str] | None:
    """The SoundFonts a synthetic source renders with (None: not a synthetic source)."""
    if "soundfonts" not in source and "soundfont" not in source:
        return None
    named = source.get("soundfonts") or source.get("soundfont") or []
    named = [named] if isinstance(named, str) else list(named)
    return named or ["TimGM6mb (pretty_midi's bundled SoundFont, the default)"]


def default_licence(source: dict[str, Any]) -> str:
    """The licence sentence of a card packed without --licence."""
    if _soundfonts(source) is not None:
        return ("The training material is synthetic: renders of music21's corpus (and of generated "
                "études or grooves) through the SoundFonts named under Training data, whose licences "
                "apply, as does music21's corpus licence.")
    return (f"The model was trained on the `{source.get('kind', '?')}` corpus named under Training data; "
            f"its licence applies to these weights.")


def _toml_lines(table: dict[str, Any]) -> list[str]:
    import tomli_w

    return tomli_w.dumps(table).strip().splitlines()


def model_card(*, name: str, task: str, config: dict[str, Any], created_from: str, commit: str | None,
               experiment: str | None = None, parameters: dict[str, int], dtype: str, weights_bytes: int,
               metrics: Sequence[tuple[str, dict[str, Any]]], licence: str | None = None) -> str:
    """README.md of a packed model: `config` is the run's experiment (tables), `parameters`
    the tensor elements per prefix ("model": the encoder, "head"), `metrics` (title, report)
    pairs, `commit` None when the run recorded none."""
    run = config.get("run", {})
    source = config.get("source", {})
    first = str(config.get("train", {}).get("metric", "")).split("/", 1)[-1]
    fonts = _soundfonts(source)
    counts = ", ".join(f"{'encoder' if prefix == 'model' else prefix} {n:,}"
                       for prefix, n in sorted(parameters.items(), key=lambda kv: kv[0] != "model"))
    lines = [
        f"# {name}", "",
        f"A pianox **{task}** model, packed from `{created_from}` by `pianox models pack`.", "",
        "| | |", "|---|---|",
        f"| task | {task} |",
        (f"| experiment file | `{experiment}` |" if experiment else
         f"| experiment file | not recorded (run name `{run.get('name', '?')}`: the experiment file's stem "
         f"unless `[run] name` was set) |"),
        f"| seed | {run.get('seed', 'not recorded')} |",
        f"| commit | {commit or 'not recorded'} |",
        f"| parameters | {sum(parameters.values()):,} ({counts}) |",
        f"| weights | {WEIGHTS}, {dtype}, {weights_bytes / 1e6:.1f} MB on disk |", "",
        "## Training data", "", "The run's `[source]`:", "", "```toml", *_toml_lines(source), "```", "",
    ]
    if fonts is not None:
        lines += ["SoundFonts: " + ", ".join(f"`{f}`" for f in fonts), ""]
    lines += [metrics_section(metrics, first), "## Licence", "", licence or default_licence(source), "",
              "## Use", "", "```python", "from pianox.inference import load_model", "",
              f'loaded = load_model("{name}", task="{task}")', "```", ""]
    return "\n".join(lines)


def read_card(folder: Path) -> str:
    """The README.md of a model folder ("" when it has none)."""
    card = folder / "README.md"
    return card.read_text(encoding="utf-8") if card.is_file() else ""
