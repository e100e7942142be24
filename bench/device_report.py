"""The report of bench/device_check.py: report.json (all data) and report.md (its summary),
rewritten together on every save so that a run cut short leaves a consistent pair."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class Report:
    """report.json (the data) and report.md (its summary) in `folder`, rewritten on every save."""

    def __init__(self, folder: Path, data: dict[str, Any]):
        self.folder = folder
        self.data = data
        self.t0 = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].setdefault(name, {"status": "pending"})

    def save(self) -> None:
        self.data["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        for name, text in (("report.json", json.dumps(self.data, indent=1, default=str) + "\n"),
                           ("report.md", markdown(self.data))):
            tmp = self.folder / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.folder / name)


def _f(x: Any, spec: str = ".3g") -> str:
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, float):
        return format(x, spec)
    return "–" if x is None else str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(_f(c) for c in r) + " |" for r in rows] + [""]


def markdown(data: dict[str, Any]) -> str:
    """The report's human summary."""
    env, stages = data["environment"], data["stages"]
    where = env.get("gpu") and f"{env['gpu']} ({env.get('arch')})" or "CPU only"
    lines = [f"# pianox device check: {where}", "",
             f"status **{data['status']}**, {data['elapsed_s']} s of a {data['budget_s']} s budget, started "
             f"{data['started']}" + (", quick" if data["quick"] else ""), ""]
    if data["mode"] == "cpu":
        lines += ["No CUDA device: the CPU side only (Triton interpreter, CPU smoke training); the GPU numbers "
                  "stay open.", ""]
    lines += _table(["", ""], [[k, v] for k, v in env.items()])
    auto = data.get("attention_auto")
    if auto:
        lines += ["## attention = \"auto\"", "", f"pianox picks **{auto['pianox_picks']}** on {auto['arch']}; this "
                  f"run's numbers say **{auto['measured_pick']}** (Triton/SDPA geometric mean at N >= {auto['min_n']}: "
                  + ", ".join(f"{m} {_f(v)}x" for m, v in auto["triton_vs_sdpa_geomean"].items())
                  + f"). {auto['advice']}.", ""]
    lines += ["## Stages", ""] + _table(["stage", "status", "seconds", "note"], [
        [n, s.get("status"), s.get("elapsed_s"), s.get("reason") or s.get("error", "")] for n, s in stages.items()])
    num = stages.get("numerics", {}).get("cases")
    if num:
        lines += ["## Numerics (Triton vs fp32 reference)", ""] + _table(
            ["dtype", "Nq", "Nk", "D", "causal", "mask", "fwd max err", "grad rel err", "ok"],
            [[c["dtype"], c["n_q"], c["n_k"], c["d"], c["causal"], c["mask"], c.get("fwd_max_err"),
              max(c["grad_rel_err"].values()) if "grad_rel_err" in c else c.get("error"), c["passed"]] for c in num])
    tests = stages.get("tests", {})
    if "counts" in tests:
        lines += ["## Kernel tests", "", f"`{tests['command']}`: {tests['counts']}"
                  + (f"; failed: {', '.join(tests['failures'])}" if tests.get("failures") else ""), ""]
    bench = stages.get("bench", {})
    if bench.get("cases"):
        lines += ["## Attention speed (ms; TFLOP/s of Triton; Triton speed / SDPA speed)", ""] + _table(
            ["dtype", "D", "N", "mode", "triton", "TFLOP/s", "sdpa", "flash", "efficient", "eager", "triton/sdpa",
             "target"],
            [[c["dtype"], c["d"], c["n"], c["mode"], c["ms"].get("triton"), c["tflops"].get("triton"),
              c["ms"].get("sdpa"), c["ms"].get("sdpa_flash"), c["ms"].get("sdpa_efficient"), c["ms"].get("eager"),
              c.get("triton_vs_sdpa"),
              ("met" if c["met"] else "missed") if "met" in c else ""] for c in bench["cases"]])
    if bench.get("mask_overhead"):
        lines += ["## Padding-mask overhead (bf16, D 64)", ""] + _table(
            ["N", "mode", "mask", "triton ms", "triton overhead", "sdpa ms", "sdpa overhead", "triton/sdpa"],
            [[r["n"], r["mode"], r["mask"], r["ms"].get("triton", r.get("triton_error")), r.get("triton_overhead"),
              r["ms"].get("sdpa", r.get("sdpa_error")), r.get("sdpa_overhead"), r.get("triton_vs_sdpa")]
             for r in bench["mask_overhead"]])
    train = stages.get("train", {})
    if train.get("runs"):
        lines += ["## Smoke training", ""] + _table(
            ["task", "attention", "precision", "steps", "first loss", "last loss", "falls", "step ms", "peak MiB",
             "ok"],
            [[r["task"], r["attention"], r["precision"], r.get("steps"), (r.get("losses") or [None])[0],
              (r.get("losses") or [None])[-1], r.get("falls"), r.get("step_ms"), r.get("peak_mib"),
              r["passed"] if "error" not in r else r["error"]] for r in train["runs"]])
    if train.get("comparison"):
        lines += ["Against SDPA in the same run (speed = SDPA step time / this one's; memory = this peak / SDPA's):",
                  ""] + _table(["task", "attention", "step ms", "sdpa step ms", "speed", "peak MiB", "sdpa peak MiB",
                                "memory"],
                               [[c["task"], c["attention"], c["step_ms"], c["step_ms_sdpa"], c["speed_vs_sdpa"],
                                 c["peak_mib"], c["peak_mib_sdpa"], c["memory_vs_sdpa"]] for c in train["comparison"]])
    comp = stages.get("compile", {})
    if comp.get("inputs"):
        lines += [f"## torch.compile ({comp['model']}, attention {comp['attention']}, {comp['backend']})", ""] + _table(
            ["input", "graphs", "breaks", "op in graph", "output diff", "grad diff", "ok"],
            [[r["input"], r.get("graphs"), r.get("graph_breaks"), r.get("op_in_graph"), r.get("out_rel_diff"),
              r.get("grad_rel_diff"), r["passed"] if "error" not in r else r["error"]] for r in comp["inputs"]])
    return "\n".join(lines) + "\n"
