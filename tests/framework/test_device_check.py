"""bench/device_check.py: its CPU branch end to end (quick), and the report of its GPU stages."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "device_check.py"
STAGES = ["numerics", "tests", "bench", "train", "compile", "ddp"]


def _module(name: str, monkeypatch):
    """bench/<name>.py imported as a module (bench/ is no package: its folder goes on sys.path)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location(name, SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="the branch of machines without CUDA")
def test_cpu_branch_says_so_runs_what_it_can_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--budget-s", "150", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "no CUDA device" in proc.stdout
    assert proc.stdout.count(f"device check report folder: {out}") == 2  # first and last line

    data = json.loads((out / "report.json").read_text())
    assert data["mode"] == "cpu" and data["quick"] and data["status"] == "passed"
    stages = data["stages"]
    assert list(stages) == STAGES
    assert stages["bench"]["status"] == "skipped" and stages["bench"]["reason"] == "needs CUDA"
    assert stages["ddp"]["status"] == "skipped" and stages["tests"]["status"] == "skipped"

    numerics = stages["numerics"]
    assert numerics["status"] == "passed" and {c["dtype"] for c in numerics["cases"]} == {"fp32", "fp16"}
    for case in numerics["cases"]:
        assert case["finite"] and case["fwd_max_err"] <= numerics["fwd_tolerance"][case["dtype"]]
        assert set(case["grad_rel_err"]) == {"dq", "dk", "dv"}

    runs = stages["train"]["runs"]  # quick: the dummy experiment, SDPA then eager (the pair a GPU trains)
    assert [(r["task"], r["attention"]) for r in runs] == [("dummy", "sdpa"), ("dummy", "eager")]
    for run in runs:
        assert run["passed"] and run["finite"] and run["falls"] and run["step_ms"] > 0
        assert run["steps"] == len(run["losses"]) > 2 and run["losses"][-1] < run["losses"][0]
    [versus] = stages["train"]["comparison"]
    assert versus["attention"] == "eager" and versus["speed_vs_sdpa"] > 0 and versus["memory_vs_sdpa"] is None

    compiled = stages["compile"]
    assert compiled["status"] == "passed" and compiled["attention"] == "triton"
    [row] = compiled["inputs"]  # quick: the padded batch, whose mask must not split the graph
    assert row["input"] == "padding mask" and row["graphs"] == 1 and row["graph_breaks"] == 0
    assert row["op_in_graph"] and row["out_rel_diff"] <= 1e-4 and row["grad_rel_diff"] <= 1e-4

    md = (out / "report.md").read_text()
    assert md.startswith("# pianox device check: CPU only")
    for heading in ("## Stages", "## Numerics", "## Smoke training", "## torch.compile"):
        assert heading in md
    assert "| numerics | passed |" in md and "| bench | skipped |" in md


def _bench_case(n, mode, ratio):
    return {"dtype": "bf16", "d": 64, "n": n, "mode": mode, "ms": {"triton": 1.0, "sdpa": ratio},
            "tflops": {"triton": 100.0}, "triton_vs_sdpa": ratio, **({"met": ratio >= 1} if n >= 1024 else {})}


def test_auto_choice_follows_the_measured_ratios_at_long_sequences(monkeypatch):
    dc = _module("device_check", monkeypatch)
    slow_backward = [_bench_case(256, "fwd", 0.5), _bench_case(1214, "fwd", 1.3), _bench_case(4096, "fwd", 1.1),
                     _bench_case(1214, "fwd+bwd", 0.9), _bench_case(4096, "fwd+bwd", 0.95)]
    auto = dc.auto_choice(slow_backward, "sm_90", "sdpa")
    assert auto["measured_pick"] == "sdpa" and "already picks sdpa" in auto["advice"]
    assert auto["triton_vs_sdpa_geomean"]["fwd"] == pytest.approx((1.3 * 1.1) ** 0.5)

    faster = [_bench_case(256, "fwd", 0.5), _bench_case(1214, "fwd", 1.2), _bench_case(1214, "fwd+bwd", 1.05)]
    auto = dc.auto_choice(faster, "sm_90", "sdpa")  # short sequences do not count
    assert auto["measured_pick"] == "triton" and 'add "sm_90" to TRITON_FASTER_ON' in auto["advice"]
    assert dc.auto_choice(faster[:2], "sm_90", "sdpa")["measured_pick"] is None  # no fwd+bwd numbers


def test_markdown_renders_the_gpu_stages(monkeypatch):
    dc, report = _module("device_check", monkeypatch), _module("device_report", monkeypatch)
    cases = [_bench_case(1214, "fwd", 1.2), _bench_case(1214, "fwd+bwd", 0.7)]
    data = {
        "status": "partial", "elapsed_s": 400.0, "budget_s": 420, "started": "20260101-000000", "quick": False,
        "mode": "cuda", "environment": {"gpu": "NVIDIA H100 80GB HBM3", "arch": "sm_90", "torch": "2.11"},
        "attention_auto": dc.auto_choice(cases, "sm_90", "sdpa"),
        "stages": {
            "numerics": {"status": "passed", "elapsed_s": 50, "cases": [
                {"dtype": "bf16", "n_q": 77, "n_k": 513, "d": 256, "causal": False, "mask": "random",
                 "fwd_max_err": 0.004, "grad_rel_err": {"dq": 0.01, "dk": 0.02, "dv": 0.01}, "passed": True},
                {"dtype": "fp16", "n_q": 1, "n_k": 300, "d": 96, "causal": True, "mask": "broadcast",
                 "passed": False, "error": "OutOfResources: shared memory"}]},
            "tests": {"status": "failed", "elapsed_s": 80, "command": "-m pytest tests/kernels",
                      "counts": {"passed": 50, "failed": 1}, "failures": ["tests/kernels/x.py::test_y"]},
            "bench": {"status": "partial", "elapsed_s": 120, "cases": cases, "mask_overhead": [
                {"n": 1214, "d": 64, "dtype": "bf16", "mode": "fwd", "mask": "full",
                 "ms": {"triton": 1.02, "sdpa": 1.3},
                 "triton_overhead": 1.02, "sdpa_overhead": 1.1, "triton_vs_sdpa": 1.27, "met": True}]},
            "train": {"status": "passed", "elapsed_s": 90, "runs": [
                {"task": "ssast", "attention": "triton", "precision": "bf16", "steps": 6, "losses": [9.0, 7.0],
                 "falls": True, "step_ms": 12.5, "peak_mib": 812.0, "passed": True}], "comparison": [
                {"task": "ssast", "attention": "triton", "step_ms": 12.5, "step_ms_sdpa": 10.0, "speed_vs_sdpa": 0.8,
                 "peak_mib": 812.0, "peak_mib_sdpa": 900.0, "memory_vs_sdpa": 0.902}]},
            "compile": {"status": "skipped", "reason": "budget spent"},
            "ddp": {"status": "skipped", "reason": "needs 2 CUDA devices, found 1"},
        },
    }
    md = report.markdown(data)
    assert md.startswith("# pianox device check: NVIDIA H100 80GB HBM3 (sm_90)")
    assert "pianox picks **sdpa** on sm_90; this run's numbers say **sdpa**" in md
    assert "| bf16 | 64 | 1214 | fwd+bwd | 1 | 100 | 0.7 | – | – | – | 0.7 | missed |" in md
    assert "| 1214 | fwd | full | 1.02 | 1.02 | 1.3 | 1.1 | 1.27 |" in md
    assert "OutOfResources: shared memory" in md and "tests/kernels/x.py::test_y" in md
    assert "| ssast | triton | bf16 | 6 | 9 | 7 | yes | 12.5 | 812 | yes |" in md
    assert "| ssast | triton | 12.5 | 10 | 0.8 | 812 | 900 | 0.902 |" in md
    assert "| compile | skipped | – | budget spent |" in md
