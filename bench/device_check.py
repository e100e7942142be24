"""The GPU path in one command: Triton numerics and tests, attention speed, bf16 training,
torch.compile and DDP, with one JSON + Markdown report.

    uv run python bench/device_check.py [--budget-s 420] [--out DIR] [--quick] [--stages a,b]

A GPU machine without network access (torch and Triton installed, pianox not) runs it from a kit
made beforehand on a development machine (see device_kit.py), e.g. with the report under $OUT:

    uv run python bench/device_check.py --make-kit .whl           # here: ~3 min, ~25 MiB
    python3 bench/device_check.py --kit .whl --budget-s 400 --out $OUT/device-check   # there

Stages run in order of importance, each given a share of what is left of --budget-s and stopping
between cases when its share is spent; report.json and report.md are rewritten after every case,
so a run cut short still leaves its results. The report folder is printed first and last.

  numerics  Triton forward and dq, dk, dv against the fp32 reference: fp32/fp16/bf16, padding
            masks, causal, odd lengths, Nq != Nk, head dims 32..256. Targets: forward max error
            <= 5e-3 (fp16) / 2e-2 (bf16), gradients within 5e-2 of the reference's largest value
  tests     pytest tests/kernels: compiled on CUDA, in Triton's interpreter on a CPU machine
  bench     Triton vs torch SDPA (its default choice, flash, efficient) vs eager, N in {256,
            1214, 4096}, D in {64, 128}, fp16/bf16, fwd and fwd+bwd: TFLOP/s and ratio to SDPA,
            mask overhead; then which implementation attention="auto" should pick on this GPU
            (targets at N >= 1024: fwd >= 1.0x SDPA, fwd+bwd >= 1/1.2x, mask overhead <= 5 %)
  train     each task's smoke experiment (at least 3 epochs) with bf16 autocast, attention sdpa
            then triton: finite losses that fall, step time (forward + backward + update), peak
            memory
  compile   torch.compile of the AST encoder with the registered op: no graph breaks, outputs
            and gradients as eager
  ddp       a 2-process NCCL run when two GPUs are visible

Without CUDA it says so and runs the CPU side (numerics and tests in Triton's interpreter, CPU
smoke training with SDPA, the compile graph check); the GPU numbers stay open. Exit status 1
means a check failed; speed targets that are missed are reported, never failures.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from device_report import Report

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "experiments" / "smoke"
TASKS = ["ssast", "perception", "drums", "transcription"]  # smoke experiments, most important first
FWD_TOL = {"fp32": 2e-4, "fp16": 5e-3, "bf16": 2e-2}  # max abs error of outputs ~N(0, 1)
GRAD_TOL = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 5e-2}  # max abs error / max abs of the reference
SPEED_TARGET = {"fwd": 1.0, "fwd+bwd": 1 / 1.2}  # Triton speed / SDPA speed at N >= LONG
MASK_OVERHEAD_TARGET = 1.05
LONG = 1024
FAILED = ("failed", "error", "interrupted")


class Stage:
    """What a stage function gets: its report entry, its deadline and the run's settings."""

    def __init__(self, report: Report, name: str, deadline: float, args: argparse.Namespace, cuda: bool):
        self.report, self.name, self.deadline, self.args, self.cuda = report, name, deadline, args, cuda
        self.data = report.stage(name)
        self.device = "cuda" if cuda else "cpu"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        self.report.save()

    def log(self, message: str) -> None:
        print(f"[{self.name} {time.monotonic() - self.report.t0:6.1f}s] {message}", flush=True)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:800]


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _run_child(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """(exit status or None on timeout, stdout + stderr) of `cmd` in its own process group, which
    is killed whole (pytest-xdist workers, torchrun ranks) when `timeout` seconds pass."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(1.0, timeout))
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out


def _pool_map(fn: Callable[[Any], dict], items: list, workers: int, deadline: float) -> list[dict]:
    """fn(item) for each item in `workers` spawned processes, in completion order, until `deadline`
    (Triton compiles on the CPU, one kernel at a time per process: processes compile in parallel)."""
    import multiprocessing

    results: list[dict] = []
    with multiprocessing.get_context("spawn").Pool(min(workers, len(items))) as pool:
        pending = pool.imap_unordered(fn, items)
        for _ in items:
            try:
                results.append(pending.next(timeout=max(0.1, deadline - time.monotonic())))
            except multiprocessing.TimeoutError:
                break
    return results


def _workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2) // 2))


# ---------------------------------------------------------------------------------- numerics

def _numerics_cases(cuda: bool, quick: bool) -> list[dict]:
    if cuda:  # (Nq, Nk, D, causal, mask): AST tokens, odd causal, cross with D 256, Nq > Nk, a decoder step
        shapes = [(1214, 1214, 64, False, "prefix"), (333, 333, 128, True, None), (77, 513, 256, False, "random"),
                  (513, 77, 32, True, "prefix"), (1, 300, 96, True, "broadcast")]
        dtypes = ["bf16", "fp16", "fp32"]
    else:  # the interpreter: tiny shapes, and no bf16 (its tl.dot is not exact there)
        shapes = [(17, 23, 32, True, "prefix")] if quick else [
            (33, 47, 32, True, "prefix"), (1, 20, 64, False, "random"), (20, 20, 256, False, None)]
        dtypes = ["fp32", "fp16"]
    return [dict(dtype=dt, n_q=nq, n_k=nk, d=d, causal=c, mask=m, device="cuda" if cuda else "cpu")
            for dt in dtypes for nq, nk, d, c, m in shapes]


def _numerics_case(case: dict) -> dict:
    """Errors of one Triton forward + backward against the fp32 reference (runs in a worker)."""
    import torch

    from pianox.kernels.attention import triton_attention
    from pianox.testing.attention import attention_inputs, reference_grads

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[case["dtype"]]
    start = time.monotonic()
    try:
        q, k, v, mask = attention_inputs(2, 2, case["n_q"], case["n_k"], case["d"], dtype, case["device"],
                                         case["mask"])
        out = triton_attention(q, k, v, mask, case["causal"])
        grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(case["device"], dtype)
        out.backward(grad)
        want = reference_grads(q, k, v, mask, case["causal"], grad)
        got = (out.detach(), q.grad, k.grad, v.grad)
        finite = all(bool(torch.isfinite(t).all()) for t in got)
        fwd = (got[0].float().cpu() - want[0]).abs().max().item()
        grads = {name: (g.float().cpu() - w).abs().max().item() / max(w.abs().max().item(), 1e-6)
                 for name, g, w in zip(("dq", "dk", "dv"), got[1:], want[1:])}
        passed = finite and fwd <= FWD_TOL[case["dtype"]] and max(grads.values()) <= GRAD_TOL[case["dtype"]]
        result = {**case, "fwd_max_err": fwd, "grad_rel_err": grads, "finite": finite, "passed": passed}
    except Exception as exc:  # noqa: BLE001 - a case that cannot run is a failed case, reported
        result = {**case, "passed": False, "error": _short(exc)}
    return {**result, "seconds": round(time.monotonic() - start, 2)}


def stage_numerics(st: Stage) -> str:
    cases = _numerics_cases(st.cuda, st.args.quick)
    st.data.update(fwd_tolerance=FWD_TOL, grad_tolerance=GRAD_TOL, cases=[], planned=len(cases))
    if st.cuda:
        workers = _workers()
        st.log(f"{len(cases)} cases in {workers} processes (Triton compiles and autotunes each shape)")
        results = _pool_map(_numerics_case, cases, workers, st.deadline)
    else:
        results = []
        for case in cases:
            if st.left() <= 0:
                break
            results.append(_numerics_case(case))
    for r in results:
        st.log(f"{r['dtype']} Nq={r['n_q']} Nk={r['n_k']} D={r['d']} causal={r['causal']} mask={r['mask']}: "
               + (r.get("error") or f"fwd {r['fwd_max_err']:.2e}, grads {max(r['grad_rel_err'].values()):.2e}")
               + ("" if r["passed"] else "  FAILED"))
    st.data["cases"] = results
    if not all(r["passed"] for r in results):
        return "failed"
    return "passed" if len(results) == len(cases) else "partial"


# ------------------------------------------------------------------------------------- tests

def stage_tests(st: Stage) -> str:
    cmd = [sys.executable, "-m", "pytest", "tests/kernels", "-q", "-p", "no:cacheprovider"]
    env = dict(os.environ)
    if st.cuda:
        cmd += ["-k", "not interpreter_cases"]  # the interpreter's half is the CPU machine's check
        if importlib.util.find_spec("xdist") is not None:
            cmd += ["-n", str(_workers())]  # Triton compiles in parallel processes
    else:
        env["TRITON_INTERPRET"] = "1"
    st.data["command"] = " ".join(cmd[1:]) + ("" if st.cuda else "  (TRITON_INTERPRET=1)")
    st.log(st.data["command"])
    rc, out = _run_child(cmd, st.left(), env)
    (st.report.folder / "kernel_tests.log").write_text(out, encoding="utf-8")
    counts = {key: int(n) for n, key in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", out[-3000:])}
    st.data.update(returncode=rc, counts=counts, log="kernel_tests.log",
                   failures=re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)[:40])
    st.log(f"exit {rc}: {counts}")
    if rc is None:
        return "partial"
    return "passed" if rc == 0 else "failed"


# ------------------------------------------------------------------------------------- bench

def _warm_triton(case: tuple) -> dict:
    """Run Triton's forward and backward once on a benchmark shape (worker): autotuning compiles
    every tile config into Triton's on-disk cache, which the timing process then reads."""
    import torch

    from pianox.kernels.attention import triton_attention
    from pianox.testing.attention import DTYPES, bench_inputs

    n, d, dtype, mask = case
    try:
        q, k, v, m = bench_inputs(n, d, DTYPES[dtype], mask)
        out = triton_attention(q, k, v, m)
        torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
        torch.cuda.synchronize()
        return {"case": case, "ok": True}
    except Exception as exc:  # noqa: BLE001 - the timing process reports it again
        return {"case": case, "ok": False, "error": _short(exc)}


def _providers() -> dict[str, Callable]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from pianox.kernels.attention import reference, sdpa, triton_attention

    def pinned(backend):
        def run(q, k, v, mask):
            with sdpa_kernel([backend]):
                return sdpa(q, k, v, mask)
        return run

    return {"triton": triton_attention, "sdpa": sdpa, "sdpa_flash": pinned(SDPBackend.FLASH_ATTENTION),
            "sdpa_efficient": pinned(SDPBackend.EFFICIENT_ATTENTION), "eager": reference}


def stage_bench(st: Stage) -> str:
    import torch

    from pianox.testing.attention import (DTYPES, HEAD_DIMS, MODES, attention_tflops, bench_inputs, cuda_median_ms,
                                          timed_step)

    order = [(dt, d, n) for dt in ("bf16", "fp16") for d in HEAD_DIMS for n in (1214, 4096, 256)]
    masked = [(n, mode, mask) for n in (1214, 4096) for mode in MODES for mask in ("full", "padded")]
    warm = [(n, d, dt, None) for dt, d, n in order] + sorted({(n, 64, "bf16", m) for n, _, m in masked})
    start = time.monotonic()
    warmed = _pool_map(_warm_triton, warm, _workers(), time.monotonic() + 0.6 * st.left())
    st.data["prewarm"] = {"shapes": len(warm), "done": len(warmed), "seconds": round(time.monotonic() - start, 1),
                          "errors": [w for w in warmed if not w["ok"]]}
    st.log(f"prewarmed {len(warmed)}/{len(warm)} shapes in {st.data['prewarm']['seconds']} s")
    providers = _providers()
    cases: list[dict] = st.data.setdefault("cases", [])
    close = True
    for dt, d, n in order:
        if st.left() < 5:
            break
        q, k, v, _ = bench_inputs(n, d, DTYPES[dt], None)
        try:
            with torch.no_grad():
                diff = (providers["triton"](q, k, v, None).float() - providers["sdpa"](q, k, v, None).float()
                        ).abs().max().item()
        except Exception as exc:  # noqa: BLE001 - reported below, with the timings that still run
            diff = _short(exc)
        close &= isinstance(diff, float) and diff < 2e-2
        for mode in MODES:
            row: dict[str, Any] = {"dtype": dt, "d": d, "n": n, "mode": mode, "batch": q.shape[0], "heads": q.shape[1],
                                   "max_diff_vs_sdpa": diff, "ms": {}, "tflops": {}, "errors": {}}
            for name, fn in providers.items():
                if name == "eager" and n > 1214 and mode == "fwd+bwd":
                    continue  # (B, H, N, N) fp32 scores kept for backward: slow and not informative
                try:
                    ms = cuda_median_ms(timed_step(fn, mode, q, k, v, None), reps=10)
                except Exception as exc:  # noqa: BLE001 - e.g. a pinned SDPA backend that refuses the case
                    row["errors"][name] = _short(exc)
                    continue
                row["ms"][name], row["tflops"][name] = ms, attention_tflops(q, mode, ms)
            if "triton" in row["ms"] and "sdpa" in row["ms"]:
                row["triton_vs_sdpa"] = row["ms"]["sdpa"] / row["ms"]["triton"]
                if n >= LONG:
                    row["target"] = SPEED_TARGET[mode]
                    row["met"] = row["triton_vs_sdpa"] >= SPEED_TARGET[mode]
            cases.append(row)
            st.log(f"{dt} D={d} N={n} {mode}: " + ", ".join(f"{p} {ms:.3f} ms" for p, ms in row["ms"].items()))
            st.save()
        del q, k, v
        torch.cuda.empty_cache()
    st.data["mask_overhead"] = _mask_overhead(st, cases, providers)
    from pianox.kernels.attention import auto_impl, cuda_arch

    st.data["auto"] = auto_choice(cases, cuda_arch(0), auto_impl(torch.device("cuda", 0)))
    st.report.data["attention_auto"] = st.data["auto"]
    if not close:
        return "failed"
    return "passed" if len(cases) == 2 * len(order) else "partial"


def _mask_overhead(st: Stage, cases: list[dict], providers: dict[str, Callable]) -> list[dict]:
    """Time with a key padding mask over time without (bf16, D = 64), Triton and SDPA."""
    import torch

    from pianox.testing.attention import bench_inputs, cuda_median_ms, timed_step

    unmasked = {(c["n"], c["mode"]): c["ms"] for c in cases if c["dtype"] == "bf16" and c["d"] == 64}
    rows: list[dict] = []
    for n in (1214, 4096):
        for mask in ("full", "padded"):
            if st.left() < 3:
                return rows
            q, k, v, m = bench_inputs(n, 64, torch.bfloat16, mask)
            for mode in ("fwd", "fwd+bwd"):
                row: dict[str, Any] = {"n": n, "d": 64, "dtype": "bf16", "mode": mode, "mask": mask, "ms": {}}
                for name in ("triton", "sdpa"):
                    try:
                        ms = cuda_median_ms(timed_step(providers[name], mode, q, k, v, m), reps=10)
                    except Exception as exc:  # noqa: BLE001 - reported in the row
                        row[f"{name}_error"] = _short(exc)
                        continue
                    row["ms"][name] = ms
                    base = unmasked.get((n, mode), {}).get(name)
                    if base:
                        row[f"{name}_overhead"] = ms / base
                if len(row["ms"]) == 2:
                    row["triton_vs_sdpa"] = row["ms"]["sdpa"] / row["ms"]["triton"]
                if mask == "full" and "triton_overhead" in row:
                    row["met"] = row["triton_overhead"] <= MASK_OVERHEAD_TARGET
                rows.append(row)
                st.log(f"{mask} mask N={n} {mode}: " + ", ".join(f"{p} {ms:.3f} ms" for p, ms in row["ms"].items()))
            del q, k, v, m
    return rows


def auto_choice(cases: list[dict], arch: str, current: str) -> dict[str, Any]:
    """Which implementation attention="auto" should run on GPUs of `arch` (where it runs `current`
    now), from the benchmark `cases`: Triton when its geometric-mean speed over SDPA at N >= 1024
    is at least 1, forward and forward+backward; else SDPA."""
    from pianox.kernels.attention import TRITON_FASTER_ON

    means = {mode: _geomean([c["triton_vs_sdpa"] for c in cases if c["mode"] == mode and c["n"] >= LONG
                             and "triton_vs_sdpa" in c]) for mode in SPEED_TARGET}
    if None in means.values():
        return {"arch": arch, "pianox_picks": current, "measured_pick": None, "triton_vs_sdpa_geomean": means,
                "min_n": LONG, "advice": f"not enough measurements at N >= {LONG} to say"}
    pick = "triton" if all(m >= 1.0 for m in means.values()) else "sdpa"
    if pick == current:
        advice = f'attention="auto" already picks {pick} on {arch}'
    elif pick == "triton":
        advice = f'add "{arch}" to TRITON_FASTER_ON in kernels/attention.py to make Triton the default here'
    else:
        advice = f'remove "{arch}" from TRITON_FASTER_ON ({sorted(TRITON_FASTER_ON)}) in kernels/attention.py'
    return {"arch": arch, "pianox_picks": current, "measured_pick": pick, "triton_vs_sdpa_geomean": means,
            "min_n": LONG, "advice": advice}


# ------------------------------------------------------------------------------------- train

def _time_steps(trainer: Any, backend: Any) -> list[float]:
    """Record the seconds of each optimizer step's compute (the micro steps' forward and backward
    plus the update, synchronised; loading and moving batches excluded) by wrapping the two
    methods on this trainer instance. Returns the list it fills."""
    times: list[float] = []
    pending = [0.0]
    micro, update = trainer._micro_step, trainer._optimizer_step

    def timed_micro(batch):
        backend.synchronize()
        t = time.perf_counter()
        loss = micro(batch)
        backend.synchronize()
        pending[0] += time.perf_counter() - t
        return loss

    def timed_update():
        t = time.perf_counter()
        update()
        backend.synchronize()
        times.append(pending[0] + time.perf_counter() - t)
        pending[0] = 0.0

    trainer._micro_step, trainer._optimizer_step = timed_micro, timed_update
    return times


def _train_once(st: Stage, stem: str, impl: str, out: Path) -> dict[str, Any]:
    """Train experiments/smoke/<stem>.toml once on this machine's backend with `impl` attention."""
    import torch

    from pianox.config import load_experiment
    from pianox.rundir import RunDir
    from pianox.runner import build_stages, run_dir_for
    from pianox.train.engine import Trainer

    precision = "bf16" if st.cuda else "fp32"
    overrides = [f"run.output_dir={out}", "run.tensorboard=false", "train.log_every=1", "eval.test=false",
                 f"backend.kind={st.device}", f"backend.precision={precision}", f"backend.attention={impl}"]
    corpus = Path(st.args.corpora) / stem if st.args.corpora else None
    if corpus is not None and corpus.is_dir():
        overrides.append(f"source.cache_dir={corpus}")
    row: dict[str, Any] = {"task": stem, "attention": impl, "precision": precision, "passed": False}
    start = time.monotonic()
    try:
        exp = load_experiment(SMOKE / f"{stem}.toml", overrides)
        if st.cuda:  # steps are cheap there: enough of them for "the loss falls" to mean something
            exp.train.epochs = max(exp.train.epochs, 3)
        stages = build_stages(exp)
        stages.source.examples("train")  # a twin corpus renders here, outside the timed steps
        row["data_s"] = round(time.monotonic() - start, 1)
        run = RunDir.open(run_dir_for(exp), exp.dumps(), force=True)
        try:
            trainer = Trainer(stages, exp, run, quiet=True)
            steps = _time_steps(trainer, stages.backend)
            if st.cuda:
                torch.cuda.reset_peak_memory_stats()
            trainer.fit()
            records = run.read_metrics()
        finally:
            run.close()
    except Exception as exc:  # noqa: BLE001 - reported as this run's failure
        row.update(error=_short(exc), traceback=traceback.format_exc()[-3000:])
        return row
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    third = max(1, len(losses) // 3)
    finite = all(math.isfinite(x) for x in losses) and not any("skipped_batch" in r for r in records)
    falls = len(losses) >= 2 and statistics.mean(losses[-third:]) < statistics.mean(losses[:third])
    warm = steps[2:] if len(steps) > 3 else steps
    row.update(steps=len(steps), losses=losses, finite=finite, falls=falls, passed=finite and falls,
               first_step_ms=steps[0] * 1e3 if steps else None,
               step_ms=statistics.median(warm) * 1e3 if warm else None,
               peak_mib=torch.cuda.max_memory_allocated() / 2**20 if st.cuda else None,
               seconds=round(time.monotonic() - start, 1))
    return row


def _train_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return row["error"]
    losses = row["losses"]
    return (f"{row['steps']} steps, loss " + (f"{losses[0]:.4g} -> {losses[-1]:.4g}" if losses else "not logged")
            + (f", step {row['step_ms']:.1f} ms" if row["step_ms"] else "")
            + (f", peak {row['peak_mib']:.0f} MiB" if row["peak_mib"] else ""))


def stage_train(st: Stage) -> str:
    if st.cuda:
        impls = ["sdpa", "triton"]
    else:  # SDPA is what runs on CPU; --quick pairs it with eager to keep the comparison exercised
        impls = ["sdpa", "eager"] if st.args.quick else ["sdpa"]
    stems = ["dummy"] if st.args.quick else TASKS
    runs: list[dict] = st.data.setdefault("runs", [])
    planned = [(stem, impl) for stem in stems for impl in impls]
    out = Path(tempfile.mkdtemp(prefix="pianox-device-check-"))
    try:
        for stem, impl in planned:
            if st.left() < 10:
                break
            row = _train_once(st, stem, impl, out / impl)  # the attention is not in the run's hash
            runs.append(row)
            st.log(f"{stem} {impl}: {_train_line(row)}")
            st.save()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    by = {(r["task"], r["attention"]): r for r in runs if r.get("step_ms")}
    st.data["comparison"] = [  # speed = SDPA's step time / this one's; memory = this peak / SDPA's
        {"task": stem, "attention": impl, "step_ms": by[stem, impl]["step_ms"],
         "step_ms_sdpa": by[stem, "sdpa"]["step_ms"],
         "speed_vs_sdpa": by[stem, "sdpa"]["step_ms"] / by[stem, impl]["step_ms"],
         "peak_mib": by[stem, impl]["peak_mib"], "peak_mib_sdpa": by[stem, "sdpa"]["peak_mib"],
         "memory_vs_sdpa": by[stem, impl]["peak_mib"] / by[stem, "sdpa"]["peak_mib"]
         if by[stem, impl]["peak_mib"] and by[stem, "sdpa"]["peak_mib"] else None}
        for stem in stems for impl in impls[1:] if (stem, impl) in by and (stem, "sdpa") in by]
    if not all(r["passed"] for r in runs):
        return "failed"
    return "passed" if len(runs) == len(planned) else "partial"


# ----------------------------------------------------------------------------------- compile

def stage_compile(st: Stage) -> str:
    import torch

    from pianox.kernels.attention import TRITON_INSTALLED
    from pianox.models.ast import ASTEncoder

    if st.cuda:  # AST-base width (D 64 per head), 514 tokens
        cfg = ASTEncoder.Config(preset="base", depth=2, fstride=16, tstride=16)
        batch, frames, backend = 4, 1024, "inductor"
    else:  # Triton's interpreter runs the op: keep it tiny; aot_eager still traces the op's autograd
        cfg = ASTEncoder.Config(preset="tiny", depth=1, fstride=16, tstride=16, max_frames=64)
        batch, frames, backend = 2, 64, "aot_eager"
    torch.manual_seed(0)
    enc = ASTEncoder(cfg, num_bins=128).to(st.device)
    enc.attention_impl = "triton" if TRITON_INSTALLED else "sdpa"
    x = torch.randn(batch, frames, 128, device=st.device)
    padding = torch.ones(batch, frames, dtype=torch.bool, device=st.device)
    padding[-1, frames * 2 // 3:] = False
    tol = 5e-2 if st.cuda else 1e-4  # bf16 autocast on CUDA: eager and inductor round differently
    st.data.update(model=f"ast {cfg.preset} depth {cfg.depth}", attention=enc.attention_impl, backend=backend,
                   batch=batch, frames=frames, inputs=[])
    inputs = [("no padding", None), ("padding mask", padding)]
    for label, mask in inputs[1:] if st.args.quick else inputs:
        if st.left() < 5:
            return "partial"
        row: dict[str, Any] = {"input": label}
        try:
            torch._dynamo.reset()
            with torch.autocast(st.device, dtype=torch.bfloat16, enabled=st.cuda):
                explained = torch._dynamo.explain(enc)(x, mask)
            code = "\n".join(g.code for g in explained.graphs)
            row.update(graphs=explained.graph_count, graph_breaks=explained.graph_break_count,
                       break_reasons=[str(r.reason).splitlines()[0][:300] for r in explained.break_reasons],
                       op_in_graph="flash_attention" in code)
            torch._dynamo.reset()
            compiled = torch.compile(enc, backend=backend)
            outputs, grads = [], []
            for module in (enc, compiled):
                xi = x.clone().requires_grad_()
                with torch.autocast(st.device, dtype=torch.bfloat16, enabled=st.cuda):
                    y = module(xi, mask)
                (g,) = torch.autograd.grad(y.float().square().mean(), xi)
                outputs.append(y.detach().float())
                grads.append(g)
            row["out_rel_diff"] = ((outputs[1] - outputs[0]).abs().max() / outputs[0].abs().max()).item()
            row["grad_rel_diff"] = ((grads[1] - grads[0]).abs().max() / grads[0].abs().max()).item()
            row["passed"] = (row["graph_breaks"] == 0 and row["out_rel_diff"] <= tol and row["grad_rel_diff"] <= tol
                             and (row["op_in_graph"] or enc.attention_impl != "triton"))
        except Exception as exc:  # noqa: BLE001 - reported
            row.update(passed=False, error=_short(exc))
        st.data["inputs"].append(row)
        st.log(f"{label}: " + (row.get("error") or f"{row['graphs']} graph(s), {row['graph_breaks']} break(s) "
                               f"{row['break_reasons']}, op in graph {row['op_in_graph']}, "
                               f"outputs {row['out_rel_diff']:.1e}, grads {row['grad_rel_diff']:.1e}"))
        st.save()
    return "passed" if all(r["passed"] for r in st.data["inputs"]) else "failed"


# --------------------------------------------------------------------------------------- ddp

def stage_ddp(st: Stage) -> str:
    out = Path(tempfile.mkdtemp(prefix="pianox-device-check-ddp-"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "pianox.cli", "run", str(SMOKE / "dummy.toml"), "--quiet", "--set", "backend.kind=cuda",
           "--set", f"run.output_dir={out}", "--set", "run.tensorboard=false"]
    st.data["command"] = " ".join(cmd[1:])
    try:
        rc, log = _run_child(cmd, st.left())
        histories = list(out.glob("*/history.json"))
        st.data.update(returncode=rc, log_tail=log[-3000:], history=bool(histories))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if rc is None:
        return "partial"
    return "passed" if rc == 0 and histories else "failed"


def _skip_reason(name: str, cuda: bool, args: argparse.Namespace) -> str | None:
    """Why stage `name` does not apply to this machine and these options, or None."""
    from pianox.kernels.attention import TRITON_INSTALLED

    if name in ("numerics", "tests") and not TRITON_INSTALLED:
        return "Triton is not installed"
    if name == "tests" and args.quick:
        return "--quick (CI runs tests/kernels itself)"
    if name == "bench" and not cuda:
        return "needs CUDA"
    if name == "ddp":
        import torch

        gpus = torch.cuda.device_count() if cuda else 0
        return None if gpus >= 2 else f"needs 2 CUDA devices, found {gpus} (gloo DDP on CPU: tests/framework)"
    return None


# (name, share of the budget, function), most important first
STAGES: list[tuple[str, float, Callable[[Stage], str]]] = [
    ("numerics", 2, stage_numerics), ("tests", 2, stage_tests), ("bench", 3, stage_bench),
    ("train", 3, stage_train), ("compile", 1.5, stage_compile), ("ddp", 1, stage_ddp)]


# ---------------------------------------------------------------------------------------- main

def _environment(cuda: bool) -> dict[str, Any]:
    import torch

    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
    except OSError:  # no git on the machine
        git = ""
    env = {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
           "cuda_runtime": torch.version.cuda, "triton": installed("triton"), "pianox": installed("pianox"),
           "git": git or None}
    if cuda:
        from pianox.kernels.attention import cuda_arch

        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, arch=cuda_arch(0), gpus=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2**30, 1), sms=props.multi_processor_count)
    return env


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=420.0, help="wall-clock budget in seconds (default 420)")
    parser.add_argument("--out", help="report folder (default runs/device-check/<time>-<cuda|cpu>)")
    parser.add_argument("--quick", action="store_true", help="the smallest cases (CI on a CPU machine)")
    parser.add_argument("--stages", help=f"comma-separated subset of {', '.join(s for s, _, _ in STAGES)}")
    parser.add_argument("--corpora", help="pre-rendered smoke corpora, <DIR>/<experiment> (set by --kit)")
    parser.add_argument("--kit", help="install this kit's wheels privately, then run with them (bare GPU machine)")
    parser.add_argument("--make-kit", metavar="DIR", help="build a kit in DIR (development machine with network)")
    parser.add_argument("--kit-python", help="Python to build pianox's compiled core with for the kit (default 3.12)")
    return parser.parse_args(argv)


def _relaunch_with_kit(kit: Path, argv: list[str]) -> None:
    """Install the kit and replace this process by the same command on the kit's packages."""
    from device_kit import install_kit

    site = install_kit(kit)
    rest, args = [], iter(argv)
    for arg in args:
        if arg == "--kit":
            next(args, None)
        elif not arg.startswith("--kit="):
            rest.append(arg)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    if (kit / "corpora").is_dir() and "--corpora" not in rest:
        rest += ["--corpora", str((kit / "corpora").resolve())]
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *rest], env)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    if args.make_kit:
        from device_kit import make_kit

        make_kit(Path(args.make_kit).resolve(), args.kit_python)
        return 0
    if args.kit:
        _relaunch_with_kit(Path(args.kit).resolve(), argv)
    deadline = time.monotonic() + args.budget_s
    import torch  # not before --kit: it may be what makes pianox importable

    cuda = torch.cuda.is_available()
    if cuda:
        os.environ.pop("TRITON_INTERPRET", None)  # compiled kernels on the GPU
    else:
        os.environ["TRITON_INTERPRET"] = "1"  # before anything imports triton: kernels on CPU tensors
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = Path(args.out) if args.out else REPO / "runs" / "device-check" / f"{stamp}-{'cuda' if cuda else 'cpu'}"
    report = Report(folder.resolve(), {
        "pianox_device_check": 1, "started": stamp, "status": "running", "mode": "cuda" if cuda else "cpu",
        "quick": args.quick, "budget_s": args.budget_s, "environment": _environment(cuda), "stages": {},
        "attention_auto": None})
    print(f"device check report folder: {report.folder}", flush=True)
    if not cuda:
        print("no CUDA device: running the CPU side only (Triton interpreter, CPU smoke training); "
              "the GPU numbers stay open", flush=True)
    wanted = set(args.stages.split(",")) if args.stages else {s for s, _, _ in STAGES}
    todo = []
    for name, share, fn in STAGES:
        reason = "not selected (--stages)" if name not in wanted else _skip_reason(name, cuda, args)
        report.stage(name).update({"status": "skipped", "reason": reason} if reason else {})
        if not reason:
            todo.append((name, share, fn))
    report.save()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for i, (name, share, fn) in enumerate(todo):
            stage_deadline = time.monotonic() + (deadline - time.monotonic()) * share / sum(s for _, s, _ in todo[i:])
            st = Stage(report, name, stage_deadline, args, cuda)
            if st.left() < 3:
                st.data.update(status="skipped", reason="budget spent")
                continue
            st.data.update(status="running", allotted_s=round(st.left(), 1))
            report.save()
            start = time.monotonic()
            try:
                st.data["status"] = fn(st)
            except KeyboardInterrupt:
                st.data["status"] = "interrupted"
                raise
            except Exception as exc:  # noqa: BLE001 - one broken stage must not hide the others
                st.data.update(status="error", error=_short(exc), traceback=traceback.format_exc()[-4000:])
                st.log(traceback.format_exc())
            finally:
                st.data["elapsed_s"] = round(time.monotonic() - start, 1)
                report.save()
            st.log(st.data["status"])
    except KeyboardInterrupt:
        report.data["status"] = "interrupted"
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report.data["status"] != "interrupted":
        report.data["status"] = _overall(report.data["stages"].values())
    report.save()
    auto = report.data.get("attention_auto")
    if auto:
        print(f'attention="auto": pianox picks {auto["pianox_picks"]} on {auto["arch"]}; this run\'s numbers say '
              f'{auto["measured_pick"]} ({auto["advice"]})', flush=True)
    print(f"device check {report.data['status']} in {report.data['elapsed_s']} s: "
          + ", ".join(f"{n} {s['status']}" for n, s in report.data["stages"].items()), flush=True)
    print(f"device check report folder: {report.folder}", flush=True)
    return 1 if report.data["status"] in FAILED else 0


def _overall(stages: Any) -> str:
    """failed when a stage failed; partial when one ran out of time or was left out for want of
    it; else passed (stages that do not apply to the machine do not count)."""
    if any(s["status"] in FAILED for s in stages):
        return "failed"
    if any(s["status"] == "partial" or s.get("reason") == "budget spent" for s in stages):
        return "partial"
    return "passed"


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
