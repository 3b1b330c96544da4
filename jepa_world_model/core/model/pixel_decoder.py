"""Pixel decoder for the pixel objective (``loss.objective: pixel``; issue #13 item 5).

The JEPA objective predicts the *target encoder's latent* of the next frame. The pixel
objective, its comparison, keeps the same encoder and dynamics predictor and instead decodes
the predicted latent back to the next frame's pixels (MSE). This module is that decoder: a
linear map from the latent to a 4 x 4 feature grid, then stride-2 transposed convolutions
that double the grid until it reaches the image size.

The decoder is trained with the model but is not part of ``WorldModel``: encoding, predicting
and every read-out use the model alone, so a pixel-objective checkpoint works wherever a JEPA
one does. Its weights are stored next to the model's in the checkpoint
(``pixel_decoder.*``; core/checkpoint.py).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['PixelDecoder', 'START_GRID']

#: Side of the first feature grid; each transposed convolution doubles it.
START_GRID = 4


class PixelDecoder(nn.Module):
    """z [B, Z] -> normalised image [B, 3, H, H] (same scale as ``WorldModel.normalize_image``).

    ``width`` is the channel count of the first grid; each doubling halves it (never below a
    quarter of it: the 64 px grid at full width would cost more than the whole JEPA step).
    Image sizes that are not 4 times a power of two are reached by a final bilinear resize
    of the next larger grid.
    """

    def __init__(self, latent_dim: int, image_size: int, width: int = 32) -> None:
        super().__init__()
        if latent_dim < 1 or image_size < START_GRID or width < 1:
            raise ValueError(f'PixelDecoder needs latent_dim >= 1, image_size >= {START_GRID} '
                             f'and width >= 1, got latent_dim {latent_dim}, image_size '
                             f'{image_size}, width {width}')
        min_width = max(width // 4, 1)
        self.image_size = image_size
        self.width = width
        stages = max(math.ceil(math.log2(image_size / START_GRID)), 0)
        self.project = nn.Linear(latent_dim, width * START_GRID * START_GRID)
        layers = []
        channels = width
        for _ in range(stages):
            out = max(channels // 2, min_width)
            layers += [nn.ConvTranspose2d(channels, out, kernel_size=4, stride=2, padding=1),
                       nn.GELU()]
            channels = out
        self.upsample = nn.Sequential(*layers)
        # A 3 x 3 convolution to RGB: the last doubling's checkerboard pattern is smoothed
        # before it reaches the pixels.
        self.to_rgb = nn.Conv2d(channels, 3, kernel_size=3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """z [..., Z] -> [..., 3, H, H] (leading dims flattened through the convolutions)."""
        lead = z.shape[:-1]
        x = self.project(z.reshape(-1, z.shape[-1]))
        x = F.gelu(x).view(-1, self.width, START_GRID, START_GRID)
        x = self.to_rgb(self.upsample(x))                         # [N, 3, G, G]
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode='bilinear',
                              align_corners=False)
        return x.view(*lead, 3, self.image_size, self.image_size)
