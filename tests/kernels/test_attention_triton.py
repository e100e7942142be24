"""Triton attention (forward and dq, dk, dv) against the plain-torch reference.

On CPU the kernels run in Triton's interpreter: the tests set TRITON_INTERPRET=1 per test, and
`pianox.kernels.attention` reads it at call time, so the order in which test files import torch,
triton or pianox does not matter. On a CUDA machine the same cases also run compiled.
"""

from __future__ import annotations

import pytest
import torch

from pianox.errors import BackendError
from pianox.kernels.attention import TRITON_INSTALLED, attention, reference, triton_attention

pytestmark = pytest.mark.skipif(not TRITON_INSTALLED, reason="Triton is not installed")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
DTYPES = [F32, F16] + ([BF16] if torch.cuda.is_available() else [])  # bf16 runs compiled only
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
def device(request, monkeypatch):
    if request.param == "cpu":
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    return request.param


def _check_against_reference(fn, device, dtype, n_q, n_k, head_dim, causal, mask, make_inputs, empty_rows,
                             reference_grads, batch=2, heads=2):
    q, k, v, key_padding_mask = make_inputs(batch, heads, n_q, n_k, head_dim, dtype, device, mask)
    out = fn(q, k, v, key_padding_mask, causal)
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
    if dtype == BF16 and device == "cpu":
        pytest.skip("bf16 tl.dot is not exact in Triton's interpreter")
    _check_against_reference(triton_attention, device, dtype, n_q, n_k, head_dim, causal, mask, make_inputs,
                             empty_rows, reference_grads)


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


def test_torch_op_passes_opcheck(monkeypatch, make_inputs):
    """Schema, fake (meta) kernel and autograd registration of pianox::flash_attention."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    q, k, v, mask = make_inputs(2, 1, 9, 12, 16, F32, "cpu", "prefix")
    torch.library.opcheck(torch.ops.pianox.flash_attention.default, (q, k, v, mask, True, 0.25),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration", "test_aot_dispatch_dynamic"))


def test_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    q = torch.randn(1, 1, 4, 16)
    for call in (lambda: attention(q, q, q, impl="triton"), lambda: triton_attention(q, q, q)):
        with pytest.raises(BackendError, match="need CUDA tensors.*TRITON_INTERPRET=1"):
            call()
    assert torch.allclose(attention(q, q, q), reference(q, q, q), atol=1e-6)  # "auto" takes SDPA on CPU


def test_unsupported_inputs_are_rejected(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
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
