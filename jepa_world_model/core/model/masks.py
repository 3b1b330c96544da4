"""I-JEPA multi-block masks as patch-index tensors.

Targets are the union of ``num_target_blocks`` rectangles (scale 0.15-0.2, aspect 0.75-1.5);
the context is one large block (scale 0.85-1.0) with every target patch removed, so the
predictor never sees what it must predict (Assran et al. 2023, sec. 3). Block sizes are drawn
once per batch and positions per sample, all from a caller-owned ``torch.Generator``: a run
seeded by step reproduces the same masks after a resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import Tensor

from ..config import MaskConfig


@dataclass
class MaskBatch:
    """Patch indices for one batch. ``context`` [B, K] and ``target`` [B, M], both sorted."""

    context: Tensor
    target: Tensor


def _block_size(grid: int, scale: Tuple[float, float], aspect: Tuple[float, float],
                gen: torch.Generator) -> Tuple[int, int]:
    u = torch.rand(2, generator=gen).tolist()
    area = grid * grid * (scale[0] + u[0] * (scale[1] - scale[0]))
    log_lo, log_hi = math.log(aspect[0]), math.log(aspect[1])
    ratio = math.exp(log_lo + u[1] * (log_hi - log_lo))
    h = int(round(math.sqrt(area * ratio)))
    w = int(round(math.sqrt(area / ratio)))
    return max(1, min(h, grid)), max(1, min(w, grid))


def _place(grid: int, size: Tuple[int, int], gen: torch.Generator) -> Tensor:
    """Boolean [grid, grid] with one block of ``size`` at a random position."""
    h, w = size
    top = int(torch.randint(0, grid - h + 1, (1,), generator=gen))
    left = int(torch.randint(0, grid - w + 1, (1,), generator=gen))
    m = torch.zeros(grid, grid, dtype=torch.bool)
    m[top:top + h, left:left + w] = True
    return m


def sample_masks(batch_size: int, grid: int, cfg: MaskConfig, gen: torch.Generator) -> MaskBatch:
    """Draw multi-block context/target masks for a batch of ``grid`` x ``grid`` patch images.

    Every sample gets the same number of context and of target patches (the smallest in the
    batch; extra patches are dropped at random) so the index tensors stack.
    """
    target_size = _block_size(grid, cfg.target_scale, cfg.target_aspect_ratio, gen)
    context_size = _block_size(grid, cfg.context_scale, (1.0, 1.0), gen)
    contexts, targets = [], []
    for _ in range(batch_size):
        for _attempt in range(20):
            target = torch.zeros(grid, grid, dtype=torch.bool)
            for _ in range(cfg.num_target_blocks):
                target |= _place(grid, target_size, gen)
            context = _place(grid, context_size, gen) & ~target
            if int(context.sum()) >= cfg.min_context_patches:
                break
        else:
            # Tiny grids: the targets can cover everything. Hand one target patch (or more, up
            # to min_context_patches) back to the context so the predictor has something to see.
            context = ~target
            if not context.any():
                flat = target.flatten().nonzero().squeeze(1)
                give = flat[torch.randperm(len(flat), generator=gen)[:max(
                    1, min(cfg.min_context_patches, len(flat) - 1))]]
                target.view(-1)[give] = False
                context.view(-1)[give] = True
        contexts.append(context.flatten().nonzero().squeeze(1))
        targets.append(target.flatten().nonzero().squeeze(1))
    return MaskBatch(_trim(contexts, gen), _trim(targets, gen))


def _trim(index_sets: list, gen: torch.Generator) -> Tensor:
    keep = min(len(ix) for ix in index_sets)
    out = []
    for ix in index_sets:
        chosen = torch.randperm(len(ix), generator=gen)[:keep]
        out.append(ix[chosen].sort().values)
    return torch.stack(out)   # [B, keep]
