"""Attention speed on CUDA: Triton kernels vs torch SDPA vs the eager reference.

Run: `pytest bench/bench_attention.py` (add `--benchmark-json out.json` to keep the numbers). Each
case records in `extra_info` the median time from CUDA events, TFLOP/s (forward 4·B·H·N²·D,
backward 2.5× that, so fwd+bwd is 3.5×) and `speedup_vs_sdpa`, SDPA's time over this provider's,
measured in the same test (Triton's goes to the ratio report, target >= 1). `test_mask_overhead`
times a provider with a key padding mask against itself without one. Shapes keep B·N ≈ 16k
tokens and H·D = 768 (AST-base width).
"""

from __future__ import annotations

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("the attention benchmarks need a CUDA device", allow_module_level=True)

from pianox.kernels.attention import TRITON_INSTALLED, reference, sdpa, triton_attention  # noqa: E402
from pianox.testing.attention import (DTYPES, HEAD_DIMS, LENGTHS, MODES, attention_tflops as _tflops,  # noqa: E402
                                      bench_inputs as _inputs, cuda_median_ms as _median_ms,
                                      timed_step as _step)

PROVIDERS = {"triton": triton_attention, "sdpa": sdpa, "eager": reference}


def _check_close(fn, q, k, v, key_padding_mask) -> None:
    """The timed provider computes the same thing as SDPA (bf16/fp16 rounding aside)."""
    with torch.no_grad():
        err = (fn(q, k, v, key_padding_mask).float() - sdpa(q, k, v, key_padding_mask).float()).abs().max().item()
    assert err < 2e-2, f"max abs difference to SDPA {err:.3g}"


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
def test_attention_speed(benchmark, report_ratio, provider, n, head_dim, dtype, mode):
    _skip_unavailable(provider, n, mode)
    q, k, v, _ = _inputs(n, head_dim, DTYPES[dtype], None)
    run = _step(PROVIDERS[provider], mode, q, k, v, None)
    ms = _median_ms(run)
    sdpa_ms = ms if provider == "sdpa" else _median_ms(_step(sdpa, mode, q, k, v, None))
    _benchmark(benchmark, run)
    benchmark.extra_info.update(ms=ms, tflops=_tflops(q, mode, ms), sdpa_ms=sdpa_ms, speedup_vs_sdpa=sdpa_ms / ms)
    _check_close(PROVIDERS[provider], q, k, v, None)
    if provider == "triton":
        report_ratio(f"triton {mode} N={n} D={head_dim} {dtype}", sdpa_ms / ms, reference="torch SDPA", target=1.0,
                     note=f"{ms:.2f} ms, {_tflops(q, mode, ms):.0f} TFLOP/s (SDPA {sdpa_ms:.2f} ms)")


@pytest.mark.parametrize("mask", ["full", "padded"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1214, 4096])
@pytest.mark.parametrize("provider", ["triton", "sdpa"])
def test_mask_overhead(benchmark, report_ratio, provider, n, mode, mask):
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
    if provider == "triton":
        report_ratio(f"triton {mode} N={n} D=64 bf16, {mask} padding mask", sdpa_ms / ms,
                     reference="torch SDPA with the same boolean mask", target=1.0,
                     note=f"{ms:.2f} ms (SDPA {sdpa_ms:.2f} ms), mask overhead {ms / unmasked_ms:.2f}x")
