"""The SDPA path of `pianox.kernels.attention` (what CPU and MPS run) against the reference, the
dispatcher's choices, and torch.compile of a module that calls `attention`."""

from __future__ import annotations

import pytest
import torch

from pianox.kernels.attention import attention, reference, sdpa

# (Nq, Nk, causal, mask): every mask kind, causal with Nq < Nk and Nq > Nk, cross attention.
CASES = [
    (7, 7, False, None),
    (7, 7, True, None),
    (13, 13, False, "prefix"),
    (13, 13, True, "random"),
    (5, 17, True, "prefix"),
    (17, 5, True, "broadcast"),
    (17, 5, False, "random"),
    (1, 9, True, "prefix"),
]


@pytest.mark.parametrize("n_q,n_k,causal,mask", CASES)
def test_sdpa_matches_reference(n_q, n_k, causal, mask, make_inputs, empty_rows, reference_grads):
    q, k, v, key_padding_mask = make_inputs(3, 2, n_q, n_k, 16, mask=mask)
    out = sdpa(q, k, v, key_padding_mask, causal)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    out.backward(grad_out)
    expected = reference_grads(q, k, v, key_padding_mask, causal, grad_out)
    for name, got, want in zip(("out", "dq", "dk", "dv"), (out, q.grad, k.grad, v.grad), expected):
        assert torch.isfinite(got).all(), f"{name} has non-finite values"
        torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-5, msg=name)
    rows = empty_rows(key_padding_mask, causal, 3, n_q, n_k).expand(3, 2, n_q)
    assert (out.detach()[rows] == 0).all() and (q.grad[rows] == 0).all()
    if mask in ("prefix", "random"):
        assert rows[-1].all()  # the last batch item is all padding


def test_reference_zeroes_rows_without_keys():
    q = torch.randn(1, 1, 4, 8)
    k, v = torch.randn(1, 1, 6, 8), torch.randn(1, 1, 6, 8)
    out = reference(q, k, v, torch.zeros(1, 6, dtype=torch.bool))
    assert torch.equal(out, torch.zeros_like(out))
    # causal with Nq > Nk: query i sees keys j <= i - 2, so rows 0 and 1 see nothing
    out = reference(torch.randn(1, 1, 8, 8), k, v, causal=True)
    assert torch.equal(out[0, 0, :2], torch.zeros(2, 8)) and out[0, 0, 2:].abs().sum(-1).min() > 0


@pytest.mark.parametrize("impl", ["auto", "sdpa", "eager"])
def test_dispatcher_on_cpu(impl, make_inputs):
    q, k, v, key_padding_mask = make_inputs(2, 2, 11, 11, 16, mask="prefix")
    out = attention(q, k, v, key_padding_mask, causal=True, scale=0.2, impl=impl)
    torch.testing.assert_close(out, reference(q, k, v, key_padding_mask, True, 0.2), atol=1e-5, rtol=1e-5)


def test_unknown_impl_is_an_error():
    q = torch.randn(1, 1, 4, 8)
    with pytest.raises(ValueError, match="unknown attention implementation 'flash'"):
        attention(q, q, q, impl="flash")


class _TinyBlock(torch.nn.Module):
    """Self-attention over (B, N, C) tokens with a padding mask, shaped like an AST encoder layer."""

    def __init__(self, dim: int = 32, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor) -> torch.Tensor:
        batch, n, dim = x.shape
        q, k, v = self.qkv(x).view(batch, n, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v, key_padding_mask)
        return self.proj(out.transpose(1, 2).reshape(batch, n, dim))


def test_torch_compile_matches_eager():
    torch.manual_seed(0)
    block = _TinyBlock()
    x = torch.randn(2, 10, 32, requires_grad=True)
    mask = torch.arange(10)[None, :] < torch.tensor([[10], [6]])
    eager = block(x, mask)
    (grad_eager,) = torch.autograd.grad(eager.sum(), x)
    compiled = torch.compile(block, backend="aot_eager", fullgraph=False)(x, mask)
    (grad_compiled,) = torch.autograd.grad(compiled.sum(), x)
    torch.testing.assert_close(compiled, eager, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad_compiled, grad_eager, atol=1e-5, rtol=1e-5)
