"""AST encoder speed against Hugging Face's ASTModel with the same config and weights.

Train step (forward + backward + AdamW step) and inference, AST tiny/small on CPU (fp32) and
base on CUDA when present (bf16 autocast on both sides), SDPA attention on both sides. The
pianox step is the pytest-benchmark measurement (for stored baselines); the ratio HF / pianox
comes from interleaved rounds of both in the same test, taking each side's fastest round, so
load from other processes on a shared machine skews neither side. Target: HF / pianox >= 1.

    uv run pytest bench/bench_model.py --benchmark-only
"""

from __future__ import annotations

import contextlib
from typing import Callable

import pytest
import torch

from pianox.models.ast import ASTEncoder, PRESETS
from pianox.testing.timing import interleaved_best

transformers = pytest.importorskip("transformers")

CASES = [  # preset, batch, frames, device
    ("tiny", 2, 1024, "cpu"),
    ("small", 2, 512, "cpu"),
    ("base", 4, 1024, "cuda"),
]
ROUNDS = 5


def _pair(preset: str, frames: int, device: torch.device, attention: str, tmp_path
          ) -> tuple[torch.nn.Module, ASTEncoder]:
    """A random HF ASTModel (SDPA) and the pianox encoder loaded from its save_pretrained dir."""
    dim, depth, heads = PRESETS[preset]
    config = transformers.ASTConfig(hidden_size=dim, num_hidden_layers=depth, num_attention_heads=heads,
                                    intermediate_size=4 * dim, max_length=frames, num_mel_bins=128)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    hf = transformers.ASTModel(config)
    hf.save_pretrained(tmp_path / "hf")
    ours = ASTEncoder.from_pretrained(tmp_path / "hf", attention=attention)
    return hf.to(device), ours.to(device)


def _step(model: torch.nn.Module, call: Callable, x: torch.Tensor, mode: str, autocast) -> Callable[[], None]:
    """One training step (AdamW, default settings for both sides) or one inference pass."""
    if mode == "infer":
        model.eval()

        def infer() -> None:
            with torch.inference_mode(), autocast():
                call(model, x)

        return infer
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train() -> None:
        with autocast():
            out = call(model, x)
        out.float().square().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return train


def _params():
    out = []
    for preset, batch, frames, device in CASES:
        attentions = ["sdpa", "triton"] if device == "cuda" else ["sdpa"]
        for attention in attentions:
            for mode in ("train", "infer"):
                marks = [pytest.mark.cuda] if device == "cuda" else []
                out.append(pytest.param(preset, batch, frames, device, attention, mode, marks=marks,
                                        id=f"{preset}-{device}-{attention}-{mode}-B{batch}-T{frames}"))
    return out


@pytest.mark.parametrize("preset,batch,frames,device,attention,mode", _params())
def test_ast_vs_hf(benchmark, bench_sync, bench_disabled, report_ratio, tmp_path, preset, batch, frames, device,
                   attention, mode):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    dev = torch.device(device)
    if device == "cuda":
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext
    hf, ours = _pair(preset, frames, dev, attention, tmp_path)
    x = torch.randn(batch, frames, 128, device=dev)
    run_ours = bench_sync(_step(ours, lambda m, x: m(x), x, mode, autocast))
    run_hf = bench_sync(_step(hf, lambda m, x: m(x).last_hidden_state, x, mode, autocast))
    if bench_disabled:  # a test run: one step of each side (a train step here takes seconds on CPU)
        run_hf()
        benchmark(run_ours)
        return
    best = interleaved_best({"pianox": run_ours, "hf": run_hf}, ROUNDS)
    ratio = best["hf"] / best["pianox"]
    benchmark.extra_info.update(hf_best_s=best["hf"], pianox_best_s=best["pianox"], ratio_vs_hf=ratio)
    benchmark.group = f"ast-{preset}-{mode}"
    benchmark.pedantic(run_ours, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    report_ratio(f"ast {preset} {mode} B={batch} T={frames} {device} {attention}", ratio,
                 reference="transformers.ASTModel (SDPA), same config and weights", target=1.0,
                 note=f"pianox {best['pianox'] * 1e3:.0f} ms, HF {best['hf'] * 1e3:.0f} ms (best of {ROUNDS})")
