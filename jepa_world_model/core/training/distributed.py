"""Data-parallel training across processes (torchrun), CPU (gloo) or GPU (nccl).

``torchrun --nproc_per_node N -m jepa_world_model.cli train ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; the same command without torchrun trains in one process. Each rank draws its own
batches (the generator seed includes the rank) and gradients are averaged with one all-reduce
per step over a flat buffer, which is what DistributedDataParallel does, minus the
overlap with backward. It keeps the world model's small-method API (DDP only syncs through
``forward``).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist


@dataclass
class DistributedContext:
    """Rank and world size of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and logs."""
        return self.rank == 0


def init_from_env(device: str, timeout_s: float = 300.0) -> DistributedContext:
    """Join the process group torchrun describes in the environment (no-op without it)."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return DistributedContext()
    ctx = DistributedContext(int(os.environ['RANK']), world, int(os.environ.get('LOCAL_RANK', 0)))
    if not dist.is_initialized():
        backend = 'nccl' if device.startswith('cuda') else 'gloo'
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return ctx


def local_device(device: str, ctx: DistributedContext) -> str:
    """'cuda' becomes 'cuda:<local_rank>' so each process owns one GPU."""
    if ctx.enabled and device == 'cuda':
        return f'cuda:{ctx.local_rank}'
    return device


def average_gradients(parameters: Iterable[torch.nn.Parameter], world_size: int) -> None:
    """All-reduce and average gradients of ``parameters`` in one flat buffer."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads or world_size <= 1:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's weights and buffers."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)
