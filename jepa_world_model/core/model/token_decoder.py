"""z -> the frame's patch tokens: asks the compact latent to keep what the tokens hold.

The compact latent z (pooled image part + the robot's state) is all the dynamics and the
planner see. Its objective alone (predict the next z, VICReg, inverse dynamics) lets the
pool drop whatever moves rarely: on the tabletop the pooled latent located neither the
block nor the cube, and lost the cube's material, while the patch tokens, trained by the
I-JEPA / V-JEPA patch terms, kept more of both (docs/tabletop.md). This decoder predicts the
EMA target encoder's patch tokens of a frame from that frame's z, encoded or predicted by
the dynamics: a prediction in representation space, not pixels, so the JEPA argument holds
(noise the target tokens ignore need not be kept). Because z already carries the joint
state, the image part is pushed toward what the state does not explain: the objects.

It is a spatial broadcast decoder (Watters et al. 2019): z is repeated at every patch next
to that patch's fixed position embedding and one shared MLP gives the token, so the cost is
N rows of a small MLP and nothing grows with the grid beyond that.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import mlp
from .vit import sincos_position_embedding

__all__ = ['LatentTokenDecoder']

#: Width of the fixed position embedding each patch's row gets.
POSITION_DIM = 32


class LatentTokenDecoder(nn.Module):
    """z [..., Z] -> tokens [..., N, D] (compare with layer-normed target tokens)."""

    def __init__(self, latent_dim: int, num_patches: int, token_dim: int, hidden: int) -> None:
        super().__init__()
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f'{num_patches} patches are not a square grid')
        self.num_patches = num_patches
        self.register_buffer('position', sincos_position_embedding(side, POSITION_DIM),
                             persistent=False)                     # [N, P]
        self.net = mlp(latent_dim + POSITION_DIM, hidden, token_dim, 2)

    def forward(self, z: Tensor) -> Tensor:
        """z [..., Z] -> predicted tokens [..., N, D]."""
        lead = z.shape[:-1]
        rows = z.unsqueeze(-2).expand(*lead, self.num_patches, z.shape[-1])
        position = self.position.to(z.dtype).expand(*lead, -1, -1)
        return self.net(torch.cat([rows, position], dim=-1))
