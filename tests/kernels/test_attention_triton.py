"""Triton attention (forward and dq, dk, dv) against the plain-torch reference.

Triton fixes at its first import whether kernels run compiled or in its interpreter
(TRITON_INTERPRET=1), so a process does one or the other: compiled, the cases run on CUDA when
present and `test_interpreter_cases` runs this file again in a child process with
TRITON_INTERPRET=1, where they run on CPU. `TRITON_INTERPRET=1 pytest <this file>` does the latter
directly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import pytest
import torch

from pianox.errors import BackendError
from pianox.kernels.attention import TRITON_INSTALLED, attention, reference, triton_attention

if not TRITON_INSTALLED:
    pytest.skip("Triton is not installed", allow_module_level=True)

from pianox.kernels._attention_triton import INTERPRETED  # noqa: E402  (imports triton)

# Under the interpreter CUDA tensors would only be copied through it: the cuda cases run compiled.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not INTERPRETED else [])
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
DTYPES = [F32, F16] + ([] if INTERPRETED else [BF16])  # bf16 tl.dot is not exact in the interpreter
# Max abs error allowed against the fp32 reference, for outputs ~N(0, 1) and grads of sum(o * g).
TOL = {F32: 2e-4, F16: 2e-2, BF16: 6e-2}

# (Nq, Nk, D, causal, mask): odd lengths around the interpreter's 32×16 tiles, cross attention,
# causal with Nq < Nk and Nq > Nk (leading rows that see nothing), decoder steps (Nq = 1).
CASES = [
    (1, 1, 32, False, None),
    (7, 7, 64, True, None),
    (77, 77, 32, False, "prefix"),
    (130, 130, 64, True, "prefix"),
    (130, 130, 32, False, "random"),
    (77, 130, 32, True, "random"),
    (130, 77, 32, True, "prefix"),
    (7, 130, 64, False, "broadcast"),
    (130, 7, 32, False, None),
    (1, 77, 64, True, "prefix"),
    (77, 1, 32, True, None),
    (24, 40, 48, True, "random"),  # head dim padded to 64 inside the kernels
]


@pytest.fixture(params=DEVICES)
def device(request):
    if request.param == "cpu" and not INTERPRETED:
        pytest.skip("CPU cases run in Triton's interpreter, in test_interpreter_cases' child process")
    return request.param


def _check_against_reference(device, dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                             reference_grads, batch=2, heads=2):
    q, k, v, key_padding_mask = make_inputs(batch, heads, n_q, n_k, head_dim, dtype, device, mask)
    out = triton_attention(q, k, v, key_padding_mask, causal)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(device, dtype)
    out.backward(grad_out)
    expected = reference_grads(q, k, v, key_padding_mask, causal, grad_out)
    tol = TOL[dtype]
    for name, got, want in zip(("out", "dq", "dk", "dv"), (out, q.grad, k.grad, v.grad), expected):
        assert got.dtype == dtype and got.shape == want.shape, name
        assert torch.isfinite(got).all(), f"{name} has non-finite values"
        err = (got.float().cpu() - want).abs().max().item()
        assert err <= tol * max(1.0, want.abs().max().item()), f"{name}: max abs error {err:.2e}"
    rows = empty_rows(key_padding_mask, causal, batch, n_q, n_k).expand(batch, heads, n_q)
    assert (out.detach().cpu()[rows] == 0).all() and (q.grad.cpu()[rows] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n_q,n_k,head_dim,causal,mask", CASES)
def test_triton_matches_reference(device, dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                                  reference_grads):
    _check_against_reference(device, dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                             reference_grads)


@pytest.mark.skipif("cuda" not in DEVICES, reason="needs CUDA (too slow for the interpreter)")
@pytest.mark.parametrize("dtype", [F16, BF16], ids=str)
@pytest.mark.parametrize("n_q,n_k,head_dim,causal,mask", [
    (1214, 1214, 64, False, "prefix"),  # AST-base: 10 s of audio, a batch with padded clips
    (512, 512, 128, True, "random"),
    (1, 512, 64, True, None),  # one decoder step
    (300, 1214, 64, False, "prefix"),  # decoder cross-attention to encoder tokens
])
def test_triton_long_sequences_on_cuda(dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                                       reference_grads):
    _check_against_reference("cuda", dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                             reference_grads, heads=4)


@pytest.mark.skipif(INTERPRETED, reason="this process decorates the kernels for the interpreter")
@pytest.mark.filterwarnings("ignore:TRITON_DEFAULT_FP_FUSION is unset")
@pytest.mark.parametrize("kernel", ["_fwd_kernel", "_bwd_dkdv_kernel", "_bwd_dq_kernel"])
def test_kernels_compile_for_hopper(kernel):
    """The compiled flavour, which the interpreter never lowers, builds for sm_90 (wgmma tensor-core
    dots) without a GPU: bf16, causal, padding mask, a 64×64 tile."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from pianox.kernels import _attention_triton

    fn = getattr(_attention_triton, kernel)
    constexprs = dict(HEAD_DIM=64, BLOCK_D=64, CAUSAL=True, HAS_MASK=True, DOT_PRECISION="tf32", BLOCK_M=64,
                      BLOCK_N=64)
    pointers = dict.fromkeys(["Q", "K", "V", "DO", "Out", "DQ", "DK", "DV"], "*bf16")
    pointers.update(Mask="*u8", KVLen="*i32", LSE="*fp32", Delta="*fp32")
    signature = {name: "constexpr" if name in constexprs else pointers.get(name) or
                 ("fp32" if name.endswith("scale") else "i32") for name in fn.arg_names}
    compiled = triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=4, num_stages=3))
    assert "wgmma.mma_async" in compiled.asm["ptx"]


def test_fully_padded_batch_item_gets_zero_output_and_grads(device, make_inputs, empty_rows, reference_grads):
    q, k, v, key_padding_mask = make_inputs(2, 2, 40, 40, 32, F32, device, "prefix")
    out = triton_attention(q, k, v, key_padding_mask)
    out.backward(torch.ones_like(out))
    assert (out[-1] == 0).all() and (q.grad[-1] == 0).all()
    assert (k.grad[-1] == 0).all() and (v.grad[-1] == 0).all()  # no key of the last item is attended
    assert (k.grad[0, :, 26:] == 0).all() and (v.grad[0, :, 26:] == 0).all()  # padding keys of item 0
    assert k.grad[0, :, :26].abs().sum() > 0 and v.grad[0, :, :26].abs().sum() > 0


def test_strided_inputs_and_scale(device, reference_grads):
    """q, k, v sliced from one packed (B, N, 3, H, D) projection, as a fused qkv Linear yields them."""
    gen = torch.Generator().manual_seed(3)
    packed = torch.randn(2, 45, 3, 2, 32, generator=gen).to(device).requires_grad_()
    q, k, v = packed.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, D), row stride 3·H·D
    mask = (torch.arange(45)[None, :] < torch.tensor([[45], [30]])).to(device)
    out = triton_attention(q, k, v, mask, causal=True, scale=0.3)
    grad_out = torch.randn(2, 45, 2, 32, generator=gen).to(device).transpose(1, 2)  # non-contiguous dO
    out.backward(grad_out)
    want_out, dq, dk, dv = reference_grads(q, k, v, mask, True, grad_out, scale=0.3)
    torch.testing.assert_close(out.detach().cpu(), want_out, atol=2e-4, rtol=0)
    torch.testing.assert_close(packed.grad.cpu(), torch.stack((dq, dk, dv)).permute(1, 3, 0, 2, 4),
                               atol=2e-4, rtol=0)


def test_dispatcher_torch_op_matches_autograd_function(device, make_inputs):
    q, k, v, mask = make_inputs(2, 2, 33, 50, 32, F32, device, "random")
    out_op = attention(q, k, v, mask, causal=True, impl="triton")
    grads_op = torch.autograd.grad(out_op.sum(), (q, k, v))
    out_fn = triton_attention(q, k, v, mask, causal=True)
    grads_fn = torch.autograd.grad(out_fn.sum(), (q, k, v))
    assert torch.equal(out_op, out_fn)
    for got, want in zip(grads_op, grads_fn):
        assert torch.equal(got, want)


def test_torch_op_passes_opcheck(device, make_inputs):
    """Schema, fake (meta) kernel and autograd registration of pianox::flash_attention."""
    q, k, v, mask = make_inputs(2, 1, 9, 12, 16, F32, device, "prefix")
    torch.library.opcheck(torch.ops.pianox.flash_attention.default, (q, k, v, mask, True, 0.25),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration",
                                      "test_aot_dispatch_dynamic"))


@pytest.mark.skipif(INTERPRETED, reason="this process runs Triton's interpreter, where CPU tensors work")
def test_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    q = torch.randn(1, 1, 4, 16)
    for env in (None, "1"):  # never set, or set after triton was imported: both too late
        if env is None:
            monkeypatch.delenv("TRITON_INTERPRET", raising=False)
        else:
            monkeypatch.setenv("TRITON_INTERPRET", env)
        for call in (lambda: attention(q, q, q, impl="triton"), lambda: triton_attention(q, q, q)):
            with pytest.raises(BackendError, match="need CUDA tensors.*TRITON_INTERPRET=1 before triton"):
                call()
    assert torch.allclose(attention(q, q, q), reference(q, q, q), atol=1e-6)  # "auto" takes SDPA on CPU


def test_unsupported_inputs_are_rejected():
    q = torch.randn(1, 1, 4, 16)
    with pytest.raises(BackendError, match="fp16, bf16 or fp32"):
        triton_attention(q.double(), q.double(), q.double())
    with pytest.raises(BackendError, match="head dim"):
        triton_attention(q, q, torch.randn(1, 1, 4, 8))
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(B, Nk\)"):
        triton_attention(q, q, q, torch.ones(1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, H, N, D\)"):
        triton_attention(q[0], q[0], q[0])


def test_missing_triton_is_a_clear_error(monkeypatch):
    import pianox.kernels.attention as attention_module

    monkeypatch.setattr(attention_module, "TRITON_INSTALLED", False)
    q = torch.randn(1, 1, 4, 16)
    with pytest.raises(BackendError, match="Triton is not installed"):
        attention(q, q, q, impl="triton")


@pytest.mark.skipif("cuda" not in DEVICES, reason="needs CUDA")
def test_auto_on_cuda_takes_triton_where_measured_faster_and_warns_once_when_falling_back(monkeypatch,
                                                                                          make_inputs):
    import pianox.kernels.attention as attention_module
    from pianox.kernels.attention import sdpa

    monkeypatch.setattr(attention_module, "_warned", set())
    q, k, v, mask = make_inputs(2, 2, 50, 50, 64, F16, "cuda", "prefix")
    monkeypatch.setattr(attention_module, "TRITON_FASTER_ON", frozenset())
    assert torch.equal(attention(q, k, v, mask), sdpa(q, k, v, mask))  # not measured faster: SDPA
    monkeypatch.setattr(attention_module, "TRITON_FASTER_ON", frozenset({attention_module.cuda_arch(q.device)}))
    assert torch.equal(attention(q, k, v, mask), triton_attention(q, k, v, mask))
    q64, k64, v64 = (t.detach().double() for t in (q, k, v))
    with pytest.warns(RuntimeWarning, match="falls back to SDPA.*float64"):
        out = attention(q64, k64, v64, mask)
    torch.testing.assert_close(out, reference(q64, k64, v64, mask))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attention(q64, k64, v64, mask)


@pytest.mark.skipif(INTERPRETED, reason="this process runs the interpreter cases itself")
def test_interpreter_cases():
    """Every device-parametrised case above, on CPU in Triton's interpreter, in a child process."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    child = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"],
                           env=env, capture_output=True, text=True, timeout=900)
    report = child.stdout[-6000:] + child.stderr[-2000:]
    assert child.returncode == 0, report
    passed = re.search(r"(\d+) passed", child.stdout)
    assert passed and int(passed.group(1)) >= len(CASES) * 2, report
