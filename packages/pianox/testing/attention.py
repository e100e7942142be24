"""Attention inputs, ground truth and CUDA timing shared by tests/kernels, bench/bench_attention.py
and bench/device_check.py.

Inputs are q, k, v (B, H, N, D) leaf tensors with key padding masks (B, Nk) of the kinds AST and
its decoder use. The ground truth is `pianox.kernels.attention.reference` on fp32 CPU copies.
Timing is the median of CUDA-event times after warm-up (Triton autotunes during the warm-up);
FLOPs are counted as FlashAttention counts them: forward 4·B·H·Nq·Nk·D, backward 2.5× that.
"""

from __future__ import annotations

import statistics
from typing import Callable

import torch

LENGTHS = [256, 1214, 4096]  # 1214 = AST's patch tokens for 10 s (+2 class tokens)
HEAD_DIMS = [64, 128]
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
MODES = ["fwd", "fwd+bwd"]
BENCH_TOKENS = 16384  # B·N of a benchmark batch
BENCH_WIDTH = 768  # H·D: AST-base


def attention_inputs(batch: int, heads: int, n_q: int, n_k: int, head_dim: int, dtype: torch.dtype = torch.float32,
                     device: str | torch.device = "cpu", mask: str | None = None, seed: int = 0):
    """(q, k, v, key_padding_mask): q (B, H, Nq, D), k and v (B, H, Nk, D) leaf tensors ~N(0, 1).

    mask: None; "prefix" (every item keeps its first 2/3 keys, the last item is all padding);
    "random" (keys kept with p=0.6, any pattern, the last item all padding); "broadcast" ((1, Nk)).
    """
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, n, head_dim, generator=gen).to(device, dtype).requires_grad_()
               for n in (n_q, n_k, n_k))
    if mask is None:
        key_padding_mask = None
    elif mask == "prefix":
        lengths = torch.full((batch,), max(1, 2 * n_k // 3))
        lengths[-1] = 0
        key_padding_mask = torch.arange(n_k)[None, :] < lengths[:, None]
    elif mask == "random":
        key_padding_mask = torch.rand(batch, n_k, generator=gen) < 0.6
        key_padding_mask[-1] = False
    elif mask == "broadcast":
        key_padding_mask = torch.rand(1, n_k, generator=gen) < 0.6
    else:
        raise ValueError(f"unknown mask kind {mask!r}")
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.to(device)
    return q, k, v, key_padding_mask


def reference_grads(q, k, v, key_padding_mask, causal, grad_out, scale=None):
    """Output and (dq, dk, dv) of the fp32 reference on fp32 CPU copies of q, k, v: the ground truth."""
    from pianox.kernels.attention import reference

    q32, k32, v32 = (t.detach().float().cpu().requires_grad_() for t in (q, k, v))
    mask = key_padding_mask.cpu() if key_padding_mask is not None else None
    out = reference(q32, k32, v32, mask, causal, scale)
    out.backward(grad_out.detach().float().cpu())
    return out.detach(), q32.grad, k32.grad, v32.grad


def bench_inputs(n: int, head_dim: int, dtype: torch.dtype, mask: str | None, device: str = "cuda"):
    """(q, k, v, key_padding_mask) of a benchmark case: B·N ≈ 16k tokens, H·D = 768.

    mask: None; "full" (every key real: the pure cost of reading and applying a mask); "padded"
    (lengths spread over [N/2, N], as a batch of clips of different durations).
    """
    batch, heads = max(1, BENCH_TOKENS // n), BENCH_WIDTH // head_dim
    q, k, v = (torch.randn(batch, heads, n, head_dim, device=device, dtype=dtype, requires_grad=True)
               for _ in range(3))
    if mask is None:
        key_padding_mask = None
    elif mask == "full":
        key_padding_mask = torch.ones(batch, n, dtype=torch.bool, device=device)
    elif mask == "padded":
        lengths = torch.linspace(n // 2, n, batch, device=device).long()
        key_padding_mask = torch.arange(n, device=device)[None, :] < lengths[:, None]
    else:
        raise ValueError(f"unknown benchmark mask {mask!r}")
    return q, k, v, key_padding_mask


def timed_step(fn: Callable, mode: str, q, k, v, key_padding_mask) -> Callable[[], None]:
    """A callable running `fn` once: forward without autograd ("fwd"), or forward and the
    gradients of q, k, v ("fwd+bwd")."""
    grad = torch.randn_like(q)

    def run():
        if mode == "fwd":
            with torch.no_grad():
                fn(q, k, v, key_padding_mask)
        else:
            torch.autograd.grad(fn(q, k, v, key_padding_mask), (q, k, v), grad)

    return run


def cuda_median_ms(run: Callable[[], None], reps: int = 20, warmup: int = 3) -> float:
    """Median CUDA-event time of `run` in milliseconds, after `warmup` calls (and autotuning)."""
    for _ in range(warmup):
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


def attention_tflops(q: torch.Tensor, mode: str, ms: float) -> float:
    """TFLOP/s of one self-attention call on q (B, H, N, D) that took `ms` milliseconds."""
    batch, heads, n, head_dim = q.shape
    flops = 4 * batch * heads * n * n * head_dim * (3.5 if mode == "fwd+bwd" else 1.0)
    return flops / (ms * 1e-3) / 1e12
