"""Attention with a key padding mask and a causal option: reference, SDPA, Triton, and the dispatcher.

q, k, v are (B, H, N, D); `key_padding_mask` is (B, Nk) bool, True = real token, False = padding
((1, Nk) broadcasts over the batch). Causal masking with Nq != Nk aligns the ends: query i sees key
j iff j <= i + (Nk - Nq). Rows whose keys are all masked return zeros and get zero gradients,
never NaN. `scale` defaults to 1/sqrt(D).

The Triton kernels (FlashAttention-2 forward and backward) live in `_attention_triton.py`, imported
on first use: importing this module never imports Triton. Triton runs them compiled on CUDA tensors,
or in its interpreter on CPU tensors when TRITON_INTERPRET=1 was set before triton was imported.

impl="auto" runs SDPA except on the CUDA architectures listed in `TRITON_FASTER_ON`, where the
kernels were measured faster than SDPA (bench/device_check.py measures it and says which choice
its numbers support); impl="triton" runs the kernels on any CUDA device.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from types import ModuleType

import torch
import torch.nn.functional as F

from ..errors import BackendError

IMPLS = ("auto", "triton", "sdpa", "eager")
TRITON_INSTALLED = importlib.util.find_spec("triton") is not None
_TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_MAX_HEAD_DIM = 256
_warned: set[str] = set()

# CUDA architectures ("sm_90" = compute capability 9.0) on which bench/device_check.py measured the
# Triton kernels at least as fast as torch SDPA, forward and forward+backward, N >= 1024, D = 64 and
# 128. Empty until such a measurement: "auto" then runs SDPA on every GPU.
TRITON_FASTER_ON: frozenset[str] = frozenset()


def cuda_arch(device: torch.device | int | None = None) -> str:
    """The compute capability of a CUDA device as "sm_<major><minor>", e.g. "sm_90" for an H100."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm_{major}{minor}"


@torch.compiler.assume_constant_result
def auto_impl(device: torch.device) -> str:
    """What impl="auto" runs on `device`: "triton" on a CUDA device whose architecture is in
    `TRITON_FASTER_ON` (with Triton installed), "sdpa" everywhere else."""
    if device.type == "cuda" and TRITON_INSTALLED and cuda_arch(device) in TRITON_FASTER_ON:
        return "triton"
    return "sdpa"


def _combined_mask(key_padding_mask: torch.Tensor | None, causal: bool, nq: int, nk: int,
                   device: torch.device) -> torch.Tensor | None:
    """(B|1, 1, Nq, Nk) bool mask, True = attend; None when nothing is masked."""
    mask = None
    if key_padding_mask is not None:
        mask = key_padding_mask[:, None, None, :].to(torch.bool)
    if causal:
        # Query i sees keys j <= i + (nk - nq): aligned at the end, as SDPA does for Nq != Nk.
        i = torch.arange(nq, device=device)[:, None]
        j = torch.arange(nk, device=device)[None, :]
        tri = (j <= i + (nk - nq))[None, None]
        mask = tri if mask is None else mask & tri
    return mask


def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
              causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """Plain-torch attention, the spec: softmax(q kᵀ · scale + mask) v in fp32, (B, H, Nq, D)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale
    mask = _combined_mask(key_padding_mask, causal, q.shape[-2], k.shape[-2], q.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if mask is not None:
        probs = torch.nan_to_num(probs, nan=0.0)  # all-masked rows: softmax of all -inf
    return torch.matmul(probs, v.float()).to(q.dtype)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
         causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """torch's scaled_dot_product_attention with the same mask convention (zeros for empty rows)."""
    mask = _combined_mask(key_padding_mask, causal, q.shape[-2], k.shape[-2], q.device)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    empty = ~mask.any(dim=-1, keepdim=True)  # (B, 1, Nq, 1)
    # A row without keys is a softmax over nothing, NaN on some backends (in the backward too):
    # let it see every key, then zero it, which also stops its gradient.
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | empty, scale=scale)
    return out.masked_fill(empty, 0.0)


def _check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"attention expects q, k, v of shape (B, H, N, D); got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if k.shape[:2] != q.shape[:2] or v.shape[:3] != k.shape[:3] or k.shape[3] != q.shape[3]:
        raise ValueError(f"attention: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} must share B and H, "
                         "k and v must share Nk, q and k must share D")
    if key_padding_mask is not None and (key_padding_mask.dim() != 2 or key_padding_mask.shape[1] != k.shape[2]
                                         or key_padding_mask.shape[0] not in (1, q.shape[0])):
        raise ValueError(f"attention: key_padding_mask must be (B, Nk) = ({q.shape[0]}, {k.shape[2]}) "
                         f"or (1, Nk); got {tuple(key_padding_mask.shape)}")


def _triton_unsupported(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> str | None:
    """Why the Triton kernels cannot take these inputs, or None when they can."""
    if not TRITON_INSTALLED:
        return "Triton is not installed (pip install 'pianox[triton]')"
    if not (q.dtype == k.dtype == v.dtype) or q.dtype not in _TRITON_DTYPES:
        return (f"the Triton kernels take fp16, bf16 or fp32 q, k, v of one dtype, "
                f"got {q.dtype}, {k.dtype}, {v.dtype}")
    if v.shape[-1] != q.shape[-1] or q.shape[-1] > _MAX_HEAD_DIM:
        return (f"the Triton kernels take q, k, v with one head dim <= {_MAX_HEAD_DIM}, "
                f"got {q.shape[-1]} and {v.shape[-1]}")
    if q.device.type == "cuda":
        return None
    if q.device.type == "cpu" and _kernels().INTERPRETED:
        return None
    return (f"the Triton kernels need CUDA tensors, got {q.device.type} (to run them on CPU tensors in "
            "Triton's interpreter, set TRITON_INTERPRET=1 before triton is first imported)")


def _kernels() -> ModuleType:
    """The Triton kernel module, imported on first use (this imports Triton)."""
    from . import _attention_triton

    return _attention_triton


class _TritonAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, key_padding_mask, causal, scale):
        out, lse = _kernels().forward(q, k, v, key_padding_mask, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse, key_padding_mask)
        ctx.causal, ctx.scale = causal, scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse, key_padding_mask = ctx.saved_tensors
        dq, dk, dv = _kernels().backward(grad_out, q, k, v, out, lse, key_padding_mask, ctx.causal, ctx.scale)
        return dq, dk, dv, None, None, None


def triton_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                     causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """The Triton kernels launched directly, differentiable: (B, H, Nq, D) in q's dtype.

    CUDA tensors run compiled kernels; CPU tensors run in Triton's interpreter when
    TRITON_INTERPRET=1. Anything else (no Triton, other devices or dtypes) is a `BackendError`.
    """
    _check_shapes(q, k, v, key_padding_mask)
    reason = _triton_unsupported(q, k, v)
    if reason is not None:
        raise BackendError(f"attention impl='triton': {reason}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _TritonAttention.apply(q, k, v, key_padding_mask, causal, scale)


# The same kernels as a torch op, so torch.compile keeps them as one opaque node with a known
# output shape instead of tracing into the launcher.
@torch.library.custom_op("pianox::flash_attention", mutates_args=())
def _flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None,
                     causal: bool, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    return _kernels().forward(q, k, v, key_padding_mask, causal, scale)


@_flash_attention.register_fake
def _(q, k, v, key_padding_mask, causal, scale):
    return q.new_empty(q.shape), q.new_empty(q.shape[:3], dtype=torch.float32)


@torch.library.custom_op("pianox::flash_attention_backward", mutates_args=())
def _flash_attention_backward(grad_out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                              out: torch.Tensor, lse: torch.Tensor, key_padding_mask: torch.Tensor | None,
                              causal: bool, scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _kernels().backward(grad_out, q, k, v, out, lse, key_padding_mask, causal, scale)


@_flash_attention_backward.register_fake
def _(grad_out, q, k, v, out, lse, key_padding_mask, causal, scale):
    return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)


def _setup_context(ctx, inputs, output):
    q, k, v, key_padding_mask, causal, scale = inputs
    ctx.save_for_backward(q, k, v, *output, key_padding_mask)
    ctx.causal, ctx.scale = causal, scale


def _backward(ctx, grad_out, grad_lse):
    q, k, v, out, lse, key_padding_mask = ctx.saved_tensors
    dq, dk, dv = _flash_attention_backward(grad_out, q, k, v, out, lse, key_padding_mask, ctx.causal, ctx.scale)
    return dq, dk, dv, None, None, None


_flash_attention.register_autograd(_backward, setup_context=_setup_context)


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
              causal: bool = False, scale: float | None = None, impl: str = "auto") -> torch.Tensor:
    """Attention for models, (B, H, Nq, D) in q's dtype; `impl` is the backend's choice.

    "auto" runs SDPA, or the Triton kernels where `auto_impl` says they are faster (SDPA, with one
    warning, when the inputs do not fit them); "triton" insists on the kernels (CPU only
    under TRITON_INTERPRET=1) and raises `BackendError` where they cannot run; "sdpa" is torch's
    scaled_dot_product_attention; "eager" is `reference`. Differentiable and torch.compile-able.
    """
    if impl == "eager":
        return reference(q, k, v, key_padding_mask, causal, scale)
    if impl == "sdpa" or (impl == "auto" and auto_impl(q.device) == "sdpa"):
        return sdpa(q, k, v, key_padding_mask, causal, scale)
    if impl not in IMPLS:
        raise ValueError(f"unknown attention implementation {impl!r}; expected one of {', '.join(IMPLS)}")
    _check_shapes(q, k, v, key_padding_mask)
    reason = _triton_unsupported(q, k, v)
    if reason is not None:
        if impl == "triton":
            raise BackendError(f"attention impl='triton': {reason}")
        _warn_once(f"attention impl='auto' falls back to SDPA: {reason}")
        return sdpa(q, k, v, key_padding_mask, causal, scale)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _flash_attention(q, k, v, key_padding_mask, causal, scale)[0]
