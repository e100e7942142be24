"""Triton kernels and launchers of `pianox.kernels.attention`: FlashAttention-2 forward and backward.

Imported by `pianox.kernels.attention` on first use. Triton decides when it is first imported
whether kernels run compiled or in its interpreter (TRITON_INTERPRET=1, the way CPU tensors run);
this module follows that choice, recorded in `INTERPRETED`.

Tensors: q (B, H, Nq, D), k and v (B, H, Nk, D) with any batch/head/row strides; o, dq, dk, dv come
out contiguous; lse and delta are (B, H, Nq) fp32. Scores live in the log2 domain, s = q·k ·
scale · log2(e) and lse = log2 Σ exp2(s), so the softmax is exp2(s - lse). A row that sees no key
(all padding, or causal with Nq > Nk) gets o = 0 and lse = +inf, which makes every exp2(s - lse)
of the backward 0. Causal masking aligns the ends: query i sees key j iff j <= i + (Nk - Nq).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton import knobs

# Triton's own library (tl.zeros, tl.sum, ...) was decorated when triton was first imported, then
# compiled or interpreted as TRITON_INTERPRET said; these kernels must be decorated the same way
# whatever the variable says now.
INTERPRETED: bool = not isinstance(tl.zeros, triton.runtime.JITFunction)


def _jit(fn=None, **options):
    """`triton.jit` in the flavour of Triton's own library (see INTERPRETED)."""
    if fn is None:
        return lambda fn: _jit(fn, **options)
    with knobs.runtime.scope():
        knobs.runtime.interpret = INTERPRETED
        return triton.jit(fn, **options)


# Sequence lengths change every decoder step: one compiled kernel for all of them.
_LENGTHS = ["n_q", "n_k"]


# Fixed tiles in the interpreter (autotuning there would need do_bench on a GPU); unequal sizes
# so that tests cover blocks of queries and keys that do not line up.
_INTERPRETER_TILES = {"BLOCK_M": 32, "BLOCK_N": 16}
_DELTA_BLOCK_M = 64


@_jit
def _key_range(start_m, kv_len, n_q, n_k, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Key blocks for query rows [start_m, start_m + BLOCK_M): [0, full_end) need no masking
    beyond padding, [full_end, hi) need the causal/boundary mask, keys >= hi are invisible."""
    hi = kv_len
    full_end = (kv_len // BLOCK_N) * BLOCK_N
    if CAUSAL:
        shift = n_k - n_q
        hi = tl.minimum(hi, tl.maximum(start_m + BLOCK_M + shift, 0))
        # Keys every row of the block sees: j <= start_m + shift. Clamp before // (C vs floor division).
        full_end = tl.minimum(full_end, (tl.maximum(start_m + shift + 1, 0) // BLOCK_N) * BLOCK_N)
    return full_end, hi


@_jit
def _fwd_tiles(acc, l_i, m_i, q, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n, offs_d, d_ok,
               lo, hi, n_k, shift, qk_scale, BOUNDARY: tl.constexpr, CAUSAL: tl.constexpr,
               HAS_MASK: tl.constexpr, DOT_PRECISION: tl.constexpr, BLOCK_N: tl.constexpr):
    """Online-softmax update of (acc, l_i, m_i) over key blocks [lo, hi)."""
    for start_n in range(lo, hi, BLOCK_N):
        start_n = tl.multiple_of(start_n, BLOCK_N)
        cols = start_n + offs_n
        kt_ptrs = k_base + cols[None, :] * stride_kn + offs_d[:, None]
        v_ptrs = v_base + cols[:, None] * stride_vn + offs_d[None, :]
        col_ok = cols < n_k
        if BOUNDARY:
            kt = tl.load(kt_ptrs, mask=d_ok[:, None] & col_ok[None, :], other=0.0)
        else:
            kt = tl.load(kt_ptrs, mask=d_ok[:, None], other=0.0)
        s = tl.dot(q, kt, input_precision=DOT_PRECISION) * qk_scale
        if HAS_MASK:
            keep = tl.load(mask_base + cols, mask=col_ok, other=0) != 0
            s = tl.where(keep[None, :], s, float("-inf"))
        if BOUNDARY:
            visible = col_ok[None, :]
            if CAUSAL:
                visible = visible & (cols[None, :] <= offs_m[:, None] + shift)
            s = tl.where(visible, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        if HAS_MASK or BOUNDARY:
            # A row that has seen no visible key yet keeps m = -inf: subtract 0 so exp2 gives 0, not NaN.
            m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        else:
            m_ref = m_new
        p = tl.math.exp2(s - m_ref[:, None])
        alpha = tl.math.exp2(m_i - m_ref)
        l_i = l_i * alpha + tl.sum(p, 1)
        if BOUNDARY:
            v = tl.load(v_ptrs, mask=col_ok[:, None] & d_ok[None, :], other=0.0)
        else:
            v = tl.load(v_ptrs, mask=d_ok[None, :], other=0.0)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=DOT_PRECISION)
        m_i = m_new
    return acc, l_i, m_i


@_jit(do_not_specialize=_LENGTHS)
def _fwd_kernel(Q, K, V, Mask, KVLen, Out, LSE,
                stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om, stride_mb,
                H, n_q, n_k, qk_scale, Q_BUCKET, K_BUCKET,
                HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr,
                DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    start_m = tl.program_id(0) * BLOCK_M
    off_h = tl.program_id(1).to(tl.int64)
    off_b = tl.program_id(2).to(tl.int64)
    off_bh = off_b * H + off_h
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < n_q
    d_ok = offs_d < HEAD_DIM
    q_ptrs = Q + off_b * stride_qb + off_h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :]
    q = tl.load(q_ptrs, mask=row_ok[:, None] & d_ok[None, :], other=0.0)
    k_base = K + off_b * stride_kb + off_h * stride_kh
    v_base = V + off_b * stride_vb + off_h * stride_vh
    if HAS_MASK:
        kv_len = tl.load(KVLen + off_b)
        mask_base = Mask + off_b * stride_mb
    else:
        kv_len = n_k
        mask_base = Mask
    shift = n_k - n_q
    full_end, hi = _key_range(start_m, kv_len, n_q, n_k, CAUSAL, BLOCK_M, BLOCK_N)

    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    acc, l_i, m_i = _fwd_tiles(acc, l_i, m_i, q, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n,
                               offs_d, d_ok, 0, full_end, n_k, shift, qk_scale, False, CAUSAL, HAS_MASK,
                               DOT_PRECISION, BLOCK_N)
    acc, l_i, m_i = _fwd_tiles(acc, l_i, m_i, q, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n,
                               offs_d, d_ok, full_end, hi, n_k, shift, qk_scale, True, CAUSAL, HAS_MASK,
                               DOT_PRECISION, BLOCK_N)

    empty = l_i == 0.0
    l_safe = tl.where(empty, 1.0, l_i)
    lse = tl.where(empty, float("inf"), m_i + tl.math.log2(l_safe))
    tl.store(LSE + off_bh * n_q + offs_m, lse, mask=row_ok)
    o_ptrs = Out + off_b * stride_ob + off_h * stride_oh + offs_m[:, None] * stride_om + offs_d[None, :]
    tl.store(o_ptrs, (acc / l_safe[:, None]).to(Out.dtype.element_ty), mask=row_ok[:, None] & d_ok[None, :])


@_jit
def _bwd_delta_kernel(Out, DO, Delta, stride_ob, stride_oh, stride_om, stride_dob, stride_doh, stride_dom, H, n_q,
                      HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr):
    """delta = rowsum(dO * O) in fp32, the softmax-backward correction of each query row."""
    off_h = tl.program_id(1).to(tl.int64)
    off_b = tl.program_id(2).to(tl.int64)
    off_bh = off_b * H + off_h
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    tile_ok = (offs_m < n_q)[:, None] & (offs_d < HEAD_DIM)[None, :]
    o = tl.load(Out + off_b * stride_ob + off_h * stride_oh + offs_m[:, None] * stride_om + offs_d[None, :],
                mask=tile_ok, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_dom + offs_d[None, :],
                 mask=tile_ok, other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(Delta + off_bh * n_q + offs_m, delta, mask=offs_m < n_q)


@_jit
def _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qm, stride_dom, offs_n, offs_m,
                offs_d, d_ok, lo, hi, n_q, shift, qk_scale, DIAGONAL: tl.constexpr, DOT_PRECISION: tl.constexpr,
                BLOCK_M: tl.constexpr):
    """Accumulate dk, dv of one key block over query blocks [lo, hi), scores transposed (keys × queries)."""
    for start_m in range(lo, hi, BLOCK_M):
        start_m = tl.multiple_of(start_m, BLOCK_M)
        rows = start_m + offs_m
        row_ok = rows < n_q
        qt = tl.load(q_base + rows[None, :] * stride_qm + offs_d[:, None], mask=d_ok[:, None] & row_ok[None, :],
                     other=0.0)
        lse = tl.load(lse_base + rows, mask=row_ok, other=float("inf"))
        pt = tl.math.exp2(tl.dot(k, qt, input_precision=DOT_PRECISION) * qk_scale - lse[None, :])
        if DIAGONAL:
            pt = tl.where(offs_n[:, None] <= rows[None, :] + shift, pt, 0.0)
        do = tl.load(do_base + rows[:, None] * stride_dom + offs_d[None, :], mask=row_ok[:, None] & d_ok[None, :],
                     other=0.0)
        dv = tl.dot(pt.to(do.dtype), do, dv, input_precision=DOT_PRECISION)
        delta = tl.load(delta_base + rows, mask=row_ok, other=0.0)
        dpt = tl.dot(v, tl.trans(do), input_precision=DOT_PRECISION)
        dst = pt * (dpt - delta[None, :])
        dk = tl.dot(dst.to(qt.dtype), tl.trans(qt), dk, input_precision=DOT_PRECISION)
    return dk, dv


@_jit(do_not_specialize=_LENGTHS)
def _bwd_dkdv_kernel(Q, K, V, DO, Mask, KVLen, LSE, Delta, DK, DV,
                     stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn, stride_vb, stride_vh,
                     stride_vn, stride_dob, stride_doh, stride_dom, stride_mb,
                     H, n_q, n_k, qk_scale, sm_scale, Q_BUCKET, K_BUCKET,
                     HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr,
                     DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    start_n = tl.program_id(0) * BLOCK_N
    off_h = tl.program_id(1).to(tl.int64)
    off_b = tl.program_id(2).to(tl.int64)
    off_bh = off_b * H + off_h
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    col_ok = offs_n < n_k
    d_ok = offs_d < HEAD_DIM
    tile_ok = col_ok[:, None] & d_ok[None, :]
    k = tl.load(K + off_b * stride_kb + off_h * stride_kh + offs_n[:, None] * stride_kn + offs_d[None, :],
                mask=tile_ok, other=0.0)
    v = tl.load(V + off_b * stride_vb + off_h * stride_vh + offs_n[:, None] * stride_vn + offs_d[None, :],
                mask=tile_ok, other=0.0)
    q_base = Q + off_b * stride_qb + off_h * stride_qh
    do_base = DO + off_b * stride_dob + off_h * stride_doh
    lse_base = LSE + off_bh * n_q
    delta_base = Delta + off_bh * n_q

    hi = n_q
    if HAS_MASK:
        # A key block past the last real key of this batch item gets no gradient: skip its loops.
        hi = tl.where(start_n < tl.load(KVLen + off_b), n_q, 0)
    shift = n_k - n_q
    full_start = 0
    lo = 0
    if CAUSAL:
        # Query i sees key j iff i >= j - shift: rows from `lo` see part of the block, rows from
        # `full_start` see all of it.
        full_start = tl.minimum(tl.cdiv(tl.maximum(start_n + BLOCK_N - 1 - shift, 0), BLOCK_M) * BLOCK_M, hi)
        lo = tl.minimum((tl.maximum(start_n - shift, 0) // BLOCK_M) * BLOCK_M, full_start)

    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dk, dv = _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qm, stride_dom, offs_n, offs_m,
                         offs_d, d_ok, lo, full_start, n_q, shift, qk_scale, True, DOT_PRECISION, BLOCK_M)
    dk, dv = _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qm, stride_dom, offs_n, offs_m,
                         offs_d, d_ok, full_start, hi, n_q, shift, qk_scale, False, DOT_PRECISION, BLOCK_M)
    dk = dk * sm_scale
    if HAS_MASK:
        # Padding keys are outside every softmax: whatever their rows accumulated (even inf) is dropped.
        keep = tl.load(Mask + off_b * stride_mb + offs_n, mask=col_ok, other=0) != 0
        dk = tl.where(keep[:, None], dk, 0.0)
        dv = tl.where(keep[:, None], dv, 0.0)
    out_offs = off_bh * n_k * HEAD_DIM + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
    tl.store(DK + out_offs, dk.to(DK.dtype.element_ty), mask=tile_ok)
    tl.store(DV + out_offs, dv.to(DV.dtype.element_ty), mask=tile_ok)


@_jit
def _dq_tiles(dq, q, do, lse, delta, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n, offs_d, d_ok,
              lo, hi, n_k, shift, qk_scale, BOUNDARY: tl.constexpr, CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr,
              DOT_PRECISION: tl.constexpr, BLOCK_N: tl.constexpr):
    """Accumulate dq of one query block over key blocks [lo, hi)."""
    for start_n in range(lo, hi, BLOCK_N):
        start_n = tl.multiple_of(start_n, BLOCK_N)
        cols = start_n + offs_n
        col_ok = cols < n_k
        if BOUNDARY:
            tile_ok = d_ok[:, None] & col_ok[None, :]
        else:
            tile_ok = d_ok[:, None]
        kt = tl.load(k_base + cols[None, :] * stride_kn + offs_d[:, None], mask=tile_ok, other=0.0)
        vt = tl.load(v_base + cols[None, :] * stride_vn + offs_d[:, None], mask=tile_ok, other=0.0)
        p = tl.math.exp2(tl.dot(q, kt, input_precision=DOT_PRECISION) * qk_scale - lse[:, None])
        if HAS_MASK:
            keep = tl.load(mask_base + cols, mask=col_ok, other=0) != 0
            p = tl.where(keep[None, :], p, 0.0)
        if BOUNDARY:
            visible = col_ok[None, :]
            if CAUSAL:
                visible = visible & (cols[None, :] <= offs_m[:, None] + shift)
            p = tl.where(visible, p, 0.0)
        dp = tl.dot(do, vt, input_precision=DOT_PRECISION)
        ds = p * (dp - delta[:, None])
        dq = tl.dot(ds.to(kt.dtype), tl.trans(kt), dq, input_precision=DOT_PRECISION)
    return dq


@_jit(do_not_specialize=_LENGTHS)
def _bwd_dq_kernel(Q, K, V, DO, Mask, KVLen, LSE, Delta, DQ,
                   stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn, stride_vb, stride_vh,
                   stride_vn, stride_dob, stride_doh, stride_dom, stride_mb,
                   H, n_q, n_k, qk_scale, sm_scale, Q_BUCKET, K_BUCKET,
                   HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr,
                   DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    start_m = tl.program_id(0) * BLOCK_M
    off_h = tl.program_id(1).to(tl.int64)
    off_b = tl.program_id(2).to(tl.int64)
    off_bh = off_b * H + off_h
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < n_q
    d_ok = offs_d < HEAD_DIM
    tile_ok = row_ok[:, None] & d_ok[None, :]
    q = tl.load(Q + off_b * stride_qb + off_h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :],
                mask=tile_ok, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_dom + offs_d[None, :],
                 mask=tile_ok, other=0.0)
    lse = tl.load(LSE + off_bh * n_q + offs_m, mask=row_ok, other=float("inf"))
    delta = tl.load(Delta + off_bh * n_q + offs_m, mask=row_ok, other=0.0)
    k_base = K + off_b * stride_kb + off_h * stride_kh
    v_base = V + off_b * stride_vb + off_h * stride_vh
    if HAS_MASK:
        kv_len = tl.load(KVLen + off_b)
        mask_base = Mask + off_b * stride_mb
    else:
        kv_len = n_k
        mask_base = Mask
    shift = n_k - n_q
    full_end, hi = _key_range(start_m, kv_len, n_q, n_k, CAUSAL, BLOCK_M, BLOCK_N)

    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    dq = _dq_tiles(dq, q, do, lse, delta, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n, offs_d,
                   d_ok, 0, full_end, n_k, shift, qk_scale, False, CAUSAL, HAS_MASK, DOT_PRECISION, BLOCK_N)
    dq = _dq_tiles(dq, q, do, lse, delta, k_base, v_base, mask_base, stride_kn, stride_vn, offs_m, offs_n, offs_d,
                   d_ok, full_end, hi, n_k, shift, qk_scale, True, CAUSAL, HAS_MASK, DOT_PRECISION, BLOCK_N)
    out_offs = off_bh * n_q * HEAD_DIM + offs_m[:, None] * HEAD_DIM + offs_d[None, :]
    tl.store(DQ + out_offs, (dq * sm_scale).to(DQ.dtype.element_ty), mask=tile_ok)


# Autotune tables (BLOCK_M, BLOCK_N, num_warps, num_stages) for Hopper/Ampere-class GPUs. BLOCK_M
# counts query rows, BLOCK_N key rows; the first three configs of each table are the usual winners
# (FlashAttention-2 tiles), the small ones serve short sequences such as decoder steps.
_FWD_TILES = [(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 2), (128, 32, 4, 3),
              (64, 64, 4, 3), (64, 32, 4, 3), (32, 64, 4, 3), (16, 64, 4, 3)]
_DKDV_TILES = [(32, 128, 4, 3), (32, 128, 8, 3), (64, 128, 8, 2), (64, 64, 4, 3),
               (32, 64, 4, 3), (32, 32, 4, 3), (32, 16, 4, 3)]
_DQ_TILES = [(128, 32, 4, 3), (128, 32, 8, 3), (128, 64, 8, 2), (64, 64, 4, 3),
             (64, 32, 4, 3), (32, 64, 4, 3), (16, 64, 4, 3)]
_TUNING_KEY = ["Q_BUCKET", "K_BUCKET", "HEAD_DIM", "CAUSAL", "HAS_MASK", "DOT_PRECISION"]


def _autotuned(kernel, table, block: str, bucket: str):
    """`kernel` autotuned over `table`, keeping only tiles whose `block` side fits the sequence
    (its power-of-two `bucket`): a 16-row tile for a decoder step, 64-128 rows for long inputs."""
    configs = [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s) for m, n, w, s in table]

    def fit(configs, named_args, **kwargs):
        target = named_args[bucket]
        kept = [c for c in configs if min(64, target) <= c.kwargs[block] <= target]
        return kept or [min(configs, key=lambda c: c.kwargs[block])]

    return triton.autotune(configs, key=_TUNING_KEY, prune_configs_by={"early_config_prune": fit})(kernel)


if INTERPRETED:
    _fwd, _dkdv, _dq = _fwd_kernel, _bwd_dkdv_kernel, _bwd_dq_kernel
    _TILES = _INTERPRETER_TILES
else:
    _fwd = _autotuned(_fwd_kernel, _FWD_TILES, "BLOCK_M", "Q_BUCKET")
    _dkdv = _autotuned(_bwd_dkdv_kernel, _DKDV_TILES, "BLOCK_N", "K_BUCKET")
    _dq = _autotuned(_bwd_dq_kernel, _DQ_TILES, "BLOCK_M", "Q_BUCKET")
    _TILES = {}

_LOG2E = 1.4426950408889634


def _bucket(n: int) -> int:
    """Power-of-two size class of a sequence length (>= 16): the autotuning key, so that decoder
    lengths 1..512 tune a handful of times rather than once per length."""
    return max(16, triton.next_power_of_2(n))


def _unit_last(t: torch.Tensor) -> torch.Tensor:
    return t if t.stride(-1) == 1 else t.contiguous()


def _dot_precision(dtype: torch.dtype) -> str:
    """fp32 inputs multiply in full precision unless torch allows TF32 for matmuls."""
    if dtype == torch.float32 and torch.get_float32_matmul_precision() == "highest":
        return "ieee"
    return "tf32"


def _mask_args(key_padding_mask: torch.Tensor | None, batch: int, n_k: int, dummy: torch.Tensor):
    """(mask bytes (B, Nk), int32 (B,) last real key + 1, row stride) of the padding mask; the
    kernels skip key blocks past that length. Without a mask, placeholders that are never read."""
    if key_padding_mask is None:
        return dummy, dummy, 0
    mask = key_padding_mask.to(torch.bool).expand(batch, n_k)
    if mask.stride(1) != 1:
        mask = mask.contiguous()
    positions = torch.arange(1, n_k + 1, device=mask.device, dtype=torch.int32)
    kv_len = torch.where(mask, positions, 0).amax(dim=1).to(torch.int32)
    return mask.view(torch.uint8), kv_len, mask.stride(0)


def _common(q: torch.Tensor, k: torch.Tensor, key_padding_mask: torch.Tensor | None, causal: bool):
    batch, heads, n_q, head_dim = q.shape
    mask, kv_len, stride_mb = _mask_args(key_padding_mask, batch, k.shape[2], q)
    consts = dict(HEAD_DIM=head_dim, BLOCK_D=max(16, triton.next_power_of_2(head_dim)), CAUSAL=causal,
                  HAS_MASK=key_padding_mask is not None, DOT_PRECISION=_dot_precision(q.dtype), **_TILES)
    return mask, kv_len, stride_mb, consts


def forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None,
            causal: bool, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the forward kernel: (o (B, H, Nq, D) in q's dtype, lse (B, H, Nq) fp32, log2 domain).
    Inputs are validated by the caller; q, k, v share dtype, B, H and D."""
    batch, heads, n_q, head_dim = q.shape
    n_k = k.shape[2]
    out = torch.empty((batch, heads, n_q, head_dim), dtype=q.dtype, device=q.device)
    lse = torch.empty((batch, heads, n_q), dtype=torch.float32, device=q.device)
    if n_k == 0 or out.numel() == 0:
        return out.zero_(), lse.fill_(float("inf"))
    q, k, v = _unit_last(q), _unit_last(k), _unit_last(v)
    mask, kv_len, stride_mb, consts = _common(q, k, key_padding_mask, causal)
    grid = lambda meta: (triton.cdiv(n_q, meta["BLOCK_M"]), heads, batch)  # noqa: E731
    _fwd[grid](q, k, v, mask, kv_len, out, lse, *q.stride()[:3], *k.stride()[:3], *v.stride()[:3],
               *out.stride()[:3], stride_mb, heads, n_q, n_k, scale * _LOG2E, _bucket(n_q), _bucket(n_k), **consts)
    return out, lse


def backward(do: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
             lse: torch.Tensor, key_padding_mask: torch.Tensor | None, causal: bool,
             scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch the backward kernels: (dq, dk, dv), contiguous, in the inputs' dtype. `do` is the
    gradient of `out` (B, H, Nq, D); `out` and `lse` are what `forward` returned."""
    batch, heads, n_q, head_dim = q.shape
    n_k = k.shape[2]
    dq = torch.empty((batch, heads, n_q, head_dim), dtype=q.dtype, device=q.device)
    dk = torch.empty((batch, heads, n_k, head_dim), dtype=k.dtype, device=k.device)
    dv = torch.empty((batch, heads, n_k, head_dim), dtype=v.dtype, device=v.device)
    if n_k == 0 or dq.numel() == 0:
        return dq.zero_(), dk.zero_(), dv.zero_()
    q, k, v, do = _unit_last(q), _unit_last(k), _unit_last(v), _unit_last(do)
    mask, kv_len, stride_mb, consts = _common(q, k, key_padding_mask, causal)
    delta = torch.empty_like(lse)
    _bwd_delta_kernel[(triton.cdiv(n_q, _DELTA_BLOCK_M), heads, batch)](
        out, do, delta, *out.stride()[:3], *do.stride()[:3], heads, n_q,
        HEAD_DIM=head_dim, BLOCK_D=consts["BLOCK_D"], BLOCK_M=_DELTA_BLOCK_M)
    strides = (*q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *do.stride()[:3], stride_mb)
    sizes = (heads, n_q, n_k, scale * _LOG2E, scale, _bucket(n_q), _bucket(n_k))
    _dkdv[lambda meta: (triton.cdiv(n_k, meta["BLOCK_N"]), heads, batch)](
        q, k, v, do, mask, kv_len, lse, delta, dk, dv, *strides, *sizes, **consts)
    _dq[lambda meta: (triton.cdiv(n_q, meta["BLOCK_M"]), heads, batch)](
        q, k, v, do, mask, kv_len, lse, delta, dq, *strides, *sizes, **consts)
    return dq, dk, dv
