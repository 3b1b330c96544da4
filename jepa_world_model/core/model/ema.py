"""Exponential moving average of the online encoder (the JEPA target encoder).

The momentum is a pure function of the step, so a resumed run needs no fast-forwarding.
"""

from __future__ import annotations

import torch
from torch import nn


def ema_momentum(step: int, total_steps: int, start: float, end: float) -> float:
    """Linear ramp from ``start`` at step 0 to ``end`` at ``total_steps`` (I-JEPA schedule)."""
    if total_steps <= 0:
        return end
    frac = min(max(step / total_steps, 0.0), 1.0)
    return start + frac * (end - start)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, for parameters and float buffers.

    Raises:
        ValueError: if the two modules do not have the same parameter layout.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f'EMA momentum must be in [0, 1], got {momentum}')
    t_params = list(target.parameters())
    o_params = list(online.parameters())
    if len(t_params) != len(o_params):
        raise ValueError('EMA target and online modules differ in structure')
    for t, o in zip(t_params, o_params):
        if t.shape != o.shape:
            raise ValueError(f'EMA shape mismatch {tuple(t.shape)} vs {tuple(o.shape)}')
    torch._foreach_lerp_(t_params, o_params, 1.0 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        if t.dtype.is_floating_point:
            t.lerp_(o, 1.0 - momentum)
        else:
            t.copy_(o)


def freeze(module: nn.Module) -> nn.Module:
    """Turn off gradients for every parameter and keep the module in eval mode."""
    module.requires_grad_(False)
    module.eval()
    return module
