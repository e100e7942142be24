"""Data-parallel training under `torchrun --nproc-per-node N` (gloo on CPU, nccl on CUDA).

Each rank trains on its shard of every global batch (see `EpochSampler`); after backward the
gradients are averaged across ranks with one all-reduce per parameter, so N processes with
batch_size b give the same updates as one process with batch_size N x b (up to float
summation order). Rank 0 alone writes the run directory, evaluates and checkpoints; its
decisions (early stopping) are broadcast. Without torchrun's variables everything here is a
no-op for a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place: rank, world size and local rank (its GPU on the node)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The World torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK (single process if unset)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(rank=int(os.environ.get("RANK", "0")), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def setup(world: World, device_type: str) -> None:
    """Join the process group (once): nccl for CUDA, gloo otherwise."""
    if world.active and not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")


def teardown(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def broadcast(world: World, value: Any) -> Any:
    """Rank 0's `value` on every rank (any picklable object)."""
    if not world.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def average_gradients(world: World, params: Iterable[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over ranks (missing gradients count as zeros)."""
    if not world.active:
        return
    for p in params:
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(world.size)
