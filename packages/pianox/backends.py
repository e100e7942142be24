"""Built-in backends: where tensors live, which autocast dtype, which attention implementation.

`[backend] kind = "auto" | "cpu" | "cuda" | "mps"`. `auto` picks cuda > mps > cpu. Asking for a
backend this machine does not have is a `BackendError` naming it. The attention choice
("auto" | "triton" | "sdpa" | "eager") is read by models through `backend.attention`;
"auto" resolves to sdpa, and to triton only on the CUDA architectures where the Triton kernels
were measured faster (`pianox.kernels.attention.TRITON_FASTER_ON`; bench/device_check.py
measures it). attention = "triton" runs the kernels on any CUDA device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from .errors import BackendError

Precision = Literal["fp32", "bf16", "fp16", "auto"]
Attention = Literal["auto", "triton", "sdpa", "eager"]

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class _TorchBackend:
    """Shared behaviour; subclasses fix the device type and availability test."""

    name: ClassVar[str]
    device_type: ClassVar[str]

    @dataclass
    class Config:
        device_index: int = 0
        """Which device of this type (cuda:N); ignored on cpu/mps."""
        precision: Precision = "auto"
        """Autocast dtype: fp32 (none), bf16, fp16 (with loss scaling), auto = bf16 on cuda when
        supported, else fp32."""
        attention: Attention = "auto"
        """Attention implementation used by models: auto (sdpa, or triton on the CUDA architectures
        where the kernels were measured faster), triton (CUDA only), sdpa or eager."""
        compile: bool = False
        """Wrap modules with torch.compile in prepare()."""
        threads: int = 0
        """torch intra-op threads on the host (0 = leave torch's default)."""

    def __init__(self, config: "_TorchBackend.Config | None" = None):
        self.config = config if config is not None else self.Config()
        if not self.available():
            raise BackendError(f"backend {self.name!r} is not available on this machine "
                               f"(available: {', '.join(available_backends()) or 'none'})")
        if self.config.attention == "triton" and self.device_type != "cuda":
            raise BackendError(f"attention='triton' needs the cuda backend, not {self.name!r}")
        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)

    @classmethod
    def available(cls) -> bool:
        return False  # concrete backends say when they are

    @property
    def device(self) -> torch.device:
        if self.device_type == "cuda":
            return torch.device("cuda", self.config.device_index)
        return torch.device(self.device_type)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        p = self.config.precision
        if p == "auto":
            if self.device_type == "cuda" and torch.cuda.is_bf16_supported():
                return torch.bfloat16
            return None
        return _DTYPES[p]

    @property
    def attention(self) -> str:
        a = self.config.attention
        if a != "auto":
            return a
        from .kernels.attention import auto_impl

        return auto_impl(self.device)

    def autocast(self) -> torch.autocast:
        """Context manager for the forward pass (disabled when the dtype is fp32)."""
        dtype = self.autocast_dtype
        return torch.autocast(self.device_type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A loss scaler, enabled only for fp16 autocast."""
        return torch.amp.GradScaler(self.device_type, enabled=self.autocast_dtype == torch.float16)

    def synchronize(self) -> None:
        if self.device_type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device_type == "mps":
            torch.mps.synchronize()

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        """Move `module` to the device and, if configured, wrap it with torch.compile."""
        module = module.to(self.device)
        if self.config.compile:
            module = torch.compile(module)
        return module

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, precision={self.config.precision}, attention={self.attention})"


class CPUBackend(_TorchBackend):
    name = "cpu"
    device_type = "cpu"

    @classmethod
    def available(cls) -> bool:
        return True


class CUDABackend(_TorchBackend):
    name = "cuda"
    device_type = "cuda"

    @classmethod
    def available(cls) -> bool:
        return torch.cuda.is_available()

    def __init__(self, config: "_TorchBackend.Config | None" = None):
        super().__init__(config)
        if self.config.device_index >= torch.cuda.device_count():
            raise BackendError(f"backend 'cuda': device_index={self.config.device_index} but only "
                               f"{torch.cuda.device_count()} CUDA device(s) are visible")


class MPSBackend(_TorchBackend):
    name = "mps"
    device_type = "mps"

    @classmethod
    def available(cls) -> bool:
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


_CONCRETE = (CUDABackend, MPSBackend, CPUBackend)


def available_backends() -> list[str]:
    """Names of the concrete backends this machine can run, best first."""
    return [b.name for b in _CONCRETE if b.available()]


class AutoBackend:
    """`kind = "auto"`: the best available of cuda > mps > cpu, with the same Config."""

    name = "auto"
    Config = _TorchBackend.Config

    @classmethod
    def available(cls) -> bool:
        return True

    def __new__(cls, config: "_TorchBackend.Config | None" = None):  # type: ignore[misc]
        for backend in _CONCRETE:
            if backend.available():
                return backend(config)
        raise BackendError("no backend is available")  # unreachable: cpu always is
