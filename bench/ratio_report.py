"""The speed ratios a bench/ session measured, written where a person looks: JSON, Markdown, PNG.

Every suite records `reference time / pianox time` (higher = pianox faster) beside the target
that ratio should meet; `write_report` turns a session's ratios into `ratios.json` (for tools),
`ratios.md` (a table with a pass/miss column) and `ratios.png` (one bar per ratio, the target
marked on each). Not a suite: pytest collects only bench_*.py here.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class Ratio:
    """One measured ratio: `reference` seconds / pianox seconds, which should be >= `target`."""

    suite: str  # the bench file without "bench_", e.g. "frontend"
    name: str  # the case, e.g. "fbank 10 s B=1 threads=1 vs torch"
    reference: str  # what pianox is measured against, e.g. "torch ops (pianox.features.reference)"
    ratio: float
    target: float
    note: str = ""

    @property
    def met(self) -> bool:
        return self.ratio >= self.target


def machine() -> str:
    """One line naming the hardware the ratios were measured on: CPU model, cores, GPU if any."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"
    import torch

    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


def summary_lines(ratios: list[Ratio]) -> list[str]:
    """The terminal table: one line per ratio with its target and whether it is met."""
    return [f"{r.suite:<14} {r.name:<58} {r.ratio:8.2f}x  (target >= {r.target:.3g}, "
            f"{'met' if r.met else 'MISSED'})  {r.note}" for r in ratios]


def markdown(ratios: list[Ratio], header: dict) -> str:
    lines = [f"# pianox speed ratios ({header['date']})", "",
             f"Machine: {header['machine']}. Ratio = reference time / pianox time (higher = pianox faster).",
             f"{sum(r.met for r in ratios)} of {len(ratios)} ratios meet their target.", "",
             "| suite | case | reference | ratio | target | met | note |",
             "|---|---|---|---:|---:|---|---|"]
    lines += [f"| {r.suite} | {r.name} | {r.reference} | {r.ratio:.2f}x | >= {r.target:.3g} | "
              f"{'yes' if r.met else '**no**'} | {r.note} |" for r in ratios]
    return "\n".join(lines) + "\n"


def bar_chart(ratios: list[Ratio], header: dict, path: Path) -> None:
    """Horizontal bars on a log axis (ratios span 0.5x to 100x), green when the target is met,
    a black tick at each target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.suite}: {r.name}" for r in ratios]
    fig, ax = plt.subplots(figsize=(11, 1.0 + 0.32 * len(ratios)))
    rows = range(len(ratios))
    ax.barh(rows, [r.ratio for r in ratios], color=["tab:green" if r.met else "tab:red" for r in ratios])
    ax.scatter([r.target for r in ratios], rows, marker="|", s=300, color="black", label="target", zorder=3)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(list(rows), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("reference time / pianox time (higher = pianox faster)")
    ax.set_title(f"pianox speed ratios, {header['date']}\n{header['machine']}", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(ratios: list[Ratio], out_dir: Path, machine_name: str | None = None) -> dict[str, Path]:
    """Write ratios.json, ratios.md and ratios.png under `out_dir` (replacing the last run's);
    returns their paths by suffix."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine_name or machine()}
    paths = {"json": out_dir / "ratios.json", "md": out_dir / "ratios.md", "png": out_dir / "ratios.png"}
    rows = [dict(asdict(r), met=r.met) for r in ratios]
    paths["json"].write_text(json.dumps({**header, "ratios": rows}, indent=2) + "\n")
    paths["md"].write_text(markdown(ratios, header))
    bar_chart(ratios, header, paths["png"])
    return paths
