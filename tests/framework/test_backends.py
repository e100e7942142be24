"""Backends: availability, errors for missing devices, autocast dtype, attention choice."""

from __future__ import annotations

import pytest
import torch

from pianox.backends import AutoBackend, CPUBackend, CUDABackend, MPSBackend, available_backends
from pianox.errors import BackendError


def test_cpu_backend_properties():
    b = CPUBackend()
    assert b.device == torch.device("cpu") and b.autocast_dtype is None and b.attention == "sdpa"
    assert CPUBackend(CPUBackend.Config(precision="bf16")).autocast_dtype == torch.bfloat16
    assert not b.grad_scaler().is_enabled()
    module = b.prepare(torch.nn.Linear(2, 2))
    assert next(module.parameters()).device.type == "cpu"
    b.synchronize()


def test_auto_picks_the_best_available():
    best = available_backends()[0]
    assert AutoBackend().name == best
    assert "cpu" in available_backends()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_backend_is_a_clear_error():
    with pytest.raises(BackendError, match=r"backend 'cuda' is not available on this machine \(available: .*cpu"):
        CUDABackend()


@pytest.mark.skipif(MPSBackend.available(), reason="needs a machine without MPS")
def test_unavailable_mps():
    with pytest.raises(BackendError, match="'mps' is not available"):
        MPSBackend()


def test_triton_attention_needs_cuda():
    with pytest.raises(BackendError, match="attention='triton' needs the cuda backend"):
        CPUBackend(CPUBackend.Config(attention="triton"))


def test_auto_attention_is_sdpa_until_triton_was_measured_faster(monkeypatch):
    """attention = "auto" on CUDA: SDPA, unless the GPU's architecture is in TRITON_FASTER_ON."""
    import pianox.kernels.attention as kernels

    monkeypatch.setattr(CUDABackend, "available", classmethod(lambda cls: True))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setattr(kernels, "TRITON_INSTALLED", True)
    backend = CUDABackend()
    assert backend.attention == "sdpa"
    assert CUDABackend(CUDABackend.Config(attention="triton")).attention == "triton"
    monkeypatch.setattr(kernels, "TRITON_FASTER_ON", frozenset({"sm_90"}))
    assert backend.attention == "triton"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert backend.attention == "sdpa"
    monkeypatch.setattr(kernels, "TRITON_FASTER_ON", frozenset({"sm_80"}))
    monkeypatch.setattr(kernels, "TRITON_INSTALLED", False)
    assert backend.attention == "sdpa"
    assert CPUBackend().attention == "sdpa"


def test_autocast_context_runs_bf16_on_cpu():
    b = CPUBackend(CPUBackend.Config(precision="bf16"))
    with b.autocast():
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16


def test_backend_kind_in_experiment_errors_without_device(write_exp, cli):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    proc = cli("run", str(write_exp()), "--quiet", "--set", "backend.kind=cuda")
    assert proc.returncode == 1 and "backend 'cuda' is not available" in proc.stderr
    assert "Traceback" not in proc.stderr
