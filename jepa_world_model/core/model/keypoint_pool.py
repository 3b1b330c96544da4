"""Spatial-softmax keypoints: the patch grid -> where and what, a few numbers per keypoint.

Each keypoint k is a softmax over the N patches of a learned per-token score; the latent
keeps its expected position (x_k, y_k) on the patch grid and the softmax-weighted mean of a
learned per-token feature f_k. The position is an output by construction, so an object the
encoder learns to attend to is *located* by the latent, which the attention pool's mixed
vector did not do for the tabletop's block and cube (docs/tabletop.md). This is the spatial
soft-argmax of deep spatial autoencoders (Finn et al. 2016) and of keypoint dynamics models
(Minderer et al. 2019), here as the pool of a JEPA encoder: a static object's keypoint is
trivially predictable, yet it varies across episodes, which VICReg's variance term rewards.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import Tensor, nn

from .vit import _building_on_meta

__all__ = ['KeypointPool', 'KEYPOINT_CHANNELS']

#: Numbers per keypoint in the latent: x, y (patch-grid units, centred) and one feature.
KEYPOINT_CHANNELS = 3


class KeypointPool(nn.Module):
    """Patch tokens [B, N, D] -> [B, 3 K]: K x (x, y, feature), keypoint-major.

    ``out_dim`` must be a multiple of 3 (K = out_dim / 3) and N a square grid. Positions are
    in patch units from the grid's centre (about -3.5 ... 3.5 on an 8 x 8 grid), so a patch
    step is one unit of latent, on the scale VICReg's variance term asks of every dimension.
    """

    def __init__(self, dim: int, num_patches: int, out_dim: int) -> None:
        super().__init__()
        if out_dim % KEYPOINT_CHANNELS:
            raise ValueError(f'out_dim {out_dim} is not a multiple of {KEYPOINT_CHANNELS}')
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f'{num_patches} patches are not a square grid')
        self.num_patches = num_patches
        self.num_keypoints = out_dim // KEYPOINT_CHANNELS
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, self.num_keypoints)
        self.feature = nn.Linear(dim, self.num_keypoints)
        if _building_on_meta():
            grid = torch.empty(num_patches, 2)
        else:
            centre = (side - 1) / 2.0
            coords = torch.arange(side, dtype=torch.float32) - centre
            yy, xx = torch.meshgrid(coords, coords, indexing='ij')   # row-major, as the ViT
            grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
        self.register_buffer('grid', grid, persistent=False)       # [N, 2] (x, y)

    def _normed_and_attention(self, tokens: Tensor) -> Tuple[Tensor, Tensor]:
        """tokens [B, N, D] -> (layer-normed tokens [B, N, D], softmax [B, N, K])."""
        if tokens.shape[1] != self.num_patches:
            raise ValueError(f'expected {self.num_patches} patch tokens, got {tokens.shape[1]}')
        h = self.norm(tokens)
        return h, torch.softmax(self.score(h), dim=1)

    def attention(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> each keypoint's softmax over the patches [B, N, K]."""
        return self._normed_and_attention(tokens)[1]

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> [B, 3 K]: per keypoint (x, y, feature)."""
        h, attn = self._normed_and_attention(tokens)                     # [B, N, K]
        xy = torch.einsum('bnk,nc->bkc', attn, self.grid.to(attn.dtype))   # [B, K, 2]
        feature = (attn * self.feature(h)).sum(dim=1)                      # [B, K]
        return torch.cat([xy, feature.unsqueeze(-1)], dim=-1).flatten(1)
