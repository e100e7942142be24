"""Attention speed on CUDA: Triton kernels vs torch SDPA vs the eager reference.

Run: `pytest bench/bench_attention.py` (add `--benchmark-json out.json` to keep the numbers). Each
case records in `extra_info` the median time from CUDA events, TFLOP/s (forward 4·B·H·N²·D,
backward 2.5× that, so fwd+bwd is 3.5×) and `speedup_vs_sdpa`, SDPA's time over this provider's,
measured in the same test. `test_mask_overhead` times a provider with a key padding mask against
itself without one. Shapes keep B·N ≈ 16k tokens and H·D = 768 (AST-base width).
"""

from __future__ import annotations

import statistics

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("the attention benchmarks need a CUDA device", allow_module_level=True)

from pianox.kernels.attention import TRITON_INSTALLED, reference, sdpa, triton_attention  # noqa: E402

PROVIDERS = {"triton": triton_attention, "sdpa": sdpa, "eager": reference}
LENGTHS = [256, 1214, 4096]  # 1214 = AST's patch tokens for 10 s (+2 class tokens)
HEAD_DIMS = [64, 128]
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
MODES = ["fwd", "fwd+bwd"]


def _inputs(n: int, head_dim: int, dtype: torch.dtype, mask: str | None):
    batch, heads = max(1, 16384 // n), 768 // head_dim
    q, k, v = (torch.randn(batch, heads, n, head_dim, device="cuda", dtype=dtype, requires_grad=True)
               for _ in range(3))
    if mask is None:
        key_padding_mask = None
    elif mask == "full":  # every key real: pure cost of reading and applying the mask
        key_padding_mask = torch.ones(batch, n, dtype=torch.bool, device="cuda")
    else:  # "padded": lengths spread over [N/2, N], as a batch of clips of different durations
        lengths = torch.linspace(n // 2, n, batch, device="cuda").long()
        key_padding_mask = torch.arange(n, device="cuda")[None, :] < lengths[:, None]
    return q, k, v, key_padding_mask


def _step(fn, mode: str, q, k, v, key_padding_mask):
    grad = torch.randn_like(q)

    def run():
        if mode == "fwd":
            with torch.no_grad():
                fn(q, k, v, key_padding_mask)
        else:
            torch.autograd.grad(fn(q, k, v, key_padding_mask), (q, k, v), grad)

    return run


def _check_close(fn, q, k, v, key_padding_mask) -> None:
    """The timed provider computes the same thing as SDPA (bf16/fp16 rounding aside)."""
    with torch.no_grad():
        err = (fn(q, k, v, key_padding_mask).float() - sdpa(q, k, v, key_padding_mask).float()).abs().max().item()
    assert err < 2e-2, f"max abs difference to SDPA {err:.3g}"


def _median_ms(run, reps: int = 20) -> float:
    """Median CUDA-event time of `run` in milliseconds, after warm-up (and autotuning)."""
    for _ in range(3):
        run()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _tflops(q, mode: str, ms: float) -> float:
    batch, heads, n, head_dim = q.shape
    flops = 4 * batch * heads * n * n * head_dim * (3.5 if mode == "fwd+bwd" else 1.0)
    return flops / (ms * 1e-3) / 1e12


def _benchmark(benchmark, run) -> None:
    def synced():
        run()
        torch.cuda.synchronize()

    benchmark.pedantic(synced, rounds=10, warmup_rounds=2, iterations=1)


def _skip_unavailable(provider: str, n: int, mode: str) -> None:
    if provider == "triton" and not TRITON_INSTALLED:
        pytest.skip("Triton is not installed")
    if provider == "eager" and n > 1214 and mode == "fwd+bwd":
        pytest.skip("the eager reference keeps (B, H, N, N) fp32 scores for backward: too slow to be useful")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_attention_speed(benchmark, provider, n, head_dim, dtype, mode):
    _skip_unavailable(provider, n, mode)
    q, k, v, _ = _inputs(n, head_dim, DTYPES[dtype], None)
    run = _step(PROVIDERS[provider], mode, q, k, v, None)
    ms = _median_ms(run)
    sdpa_ms = ms if provider == "sdpa" else _median_ms(_step(sdpa, mode, q, k, v, None))
    _benchmark(benchmark, run)
    benchmark.extra_info.update(ms=ms, tflops=_tflops(q, mode, ms), sdpa_ms=sdpa_ms, speedup_vs_sdpa=sdpa_ms / ms)
    _check_close(PROVIDERS[provider], q, k, v, None)


@pytest.mark.parametrize("mask", ["full", "padded"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1214, 4096])
@pytest.mark.parametrize("provider", ["triton", "sdpa"])
def test_mask_overhead(benchmark, provider, n, mode, mask):
    """Time with a (B, N) key padding mask over time without: > 1 is the mask's cost; the padded
    batch (lengths N/2..N) also shows how much of the padding work a provider skips."""
    _skip_unavailable(provider, n, mode)
    q, k, v, key_padding_mask = _inputs(n, 64, torch.bfloat16, mask)
    fn = PROVIDERS[provider]
    run = _step(fn, mode, q, k, v, key_padding_mask)
    ms = _median_ms(run)
    unmasked_ms = _median_ms(_step(fn, mode, q, k, v, None))
    sdpa_ms = ms if provider == "sdpa" else _median_ms(_step(sdpa, mode, q, k, v, key_padding_mask))
    _benchmark(benchmark, run)
    benchmark.extra_info.update(ms=ms, unmasked_ms=unmasked_ms, mask_overhead=ms / unmasked_ms,
                                sdpa_ms=sdpa_ms, speedup_vs_sdpa=sdpa_ms / ms)
    _check_close(fn, q, k, v, key_padding_mask)
