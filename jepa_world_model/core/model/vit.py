"""A small Vision Transformer: patch-token encoder, attention pooling and the masked predictor.

Shapes use B batch, N patch tokens, D width. Positions are fixed 2-D sine-cosine embeddings
(as in I-JEPA), so a token keeps its place when masking drops its neighbours.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _building_on_meta() -> bool:
    """Whether modules are being built on the meta device (the checkpoint loader's shape
    check). Computed fills are skipped there: on meta they run torch's Python reference
    kernels, whose first use imports its symbolic-shape support (~800 modules, +77 MiB
    resident in every process that loads a checkpoint; measured)."""
    return torch.get_default_device().type == 'meta'


def sincos_position_embedding(grid_size: int, dim: int) -> Tensor:
    """Fixed 2-D sine-cosine position embedding. Returns [grid_size**2, dim] (row-major)."""
    if dim % 4 != 0:
        raise ValueError(f'position embedding width {dim} must be divisible by 4')
    if _building_on_meta():
        return torch.empty(grid_size ** 2, dim)
    coords = torch.arange(grid_size, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing='ij')
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    out = []
    for axis in (yy.reshape(-1), xx.reshape(-1)):
        angles = axis[:, None] * omega[None, :]           # [N, dim/4]
        out += [torch.sin(angles), torch.cos(angles)]
    return torch.cat(out, dim=1).float()                  # [N, dim]


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Select tokens by index. x [B, N, D], idx [B, K] (long) -> [B, K, D]."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class Block(nn.Module):
    """Pre-norm transformer block (multi-head self-attention + MLP)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        """x [B, N, D] -> [B, N, D]."""
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)              # each [B, H, N, D/H]
        attn = F.scaled_dot_product_attention(q, k, v)    # [B, H, N, D/H]
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


def conv_stem(in_channels: int, dim: int, patch_size: int) -> nn.Sequential:
    """log2(patch_size) stride-2 3x3 convolutions: [B, C, H, W] -> [B, dim, H/p, W/p].

    Early convolutions (Xiao et al. 2021) give the tokens a local, translation-equivariant
    view of edges and blobs, which the single linear projection of a tiny ViT learns slowly.
    """
    layers, width, size = [], max(16, dim // 4), patch_size
    channels = in_channels
    while size > 2:
        layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.GELU()]
        channels, width, size = width, min(dim, width * 2), size // 2
    layers.append(nn.Conv2d(channels, dim, 3, stride=2, padding=1))
    return nn.Sequential(*layers)


class ViTEncoder(nn.Module):
    """Image -> patch tokens. Optionally encodes only the kept (context) patches."""

    def __init__(self, image_size: int, patch_size: int, dim: int, depth: int, num_heads: int,
                 mlp_ratio: float, in_channels: int = 3, stem: str = 'linear') -> None:
        super().__init__()
        if stem not in ('linear', 'conv'):
            raise ValueError(f"stem must be 'linear' or 'conv', got {stem!r}")
        self.grid_size = image_size // patch_size
        self.patch_size, self.stem = patch_size, stem
        self.patch_embed = (conv_stem(in_channels, dim, patch_size) if stem == 'conv' else
                            nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size))
        self.register_buffer('pos_embed', sincos_position_embedding(self.grid_size, dim),
                             persistent=False)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def _hide_dropped_patches(self, images: Tensor, keep_idx: Tensor) -> Tensor:
        """Zero the pixels of every patch not in ``keep_idx``: the conv stem's receptive field
        crosses patch borders, and the context must not see the masked targets (I-JEPA)."""
        b, g = images.shape[0], self.grid_size
        keep = torch.zeros(b, g * g, dtype=images.dtype, device=images.device)
        keep.scatter_(1, keep_idx, 1.0)
        keep = keep.reshape(b, 1, g, g).repeat_interleave(self.patch_size, dim=2)
        return images * keep.repeat_interleave(self.patch_size, dim=3)

    def forward(self, images: Tensor, keep_idx: Optional[Tensor] = None) -> Tensor:
        """images [B, C, H, W] (normalised), keep_idx [B, K] or None -> tokens [B, K or N, D]."""
        if keep_idx is not None and self.stem == 'conv':
            images = self._hide_dropped_patches(images, keep_idx)
        x = self.patch_embed(images).flatten(2).transpose(1, 2)   # [B, N, D]
        x = x + self.pos_embed.to(x.dtype)
        if keep_idx is not None:
            x = gather_tokens(x, keep_idx)                        # [B, K, D]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class AttentionPool(nn.Module):
    """A few learned queries attend over all patch tokens: [B, N, D] -> [B, out_dim].

    This is the compact latent that makes CPU planning feasible: the dynamics predictor then
    costs one vector per sample instead of N tokens. Several queries let different objects (the
    robot, a distractor) each get their own slot instead of being averaged together.
    """

    def __init__(self, dim: int, num_heads: int, out_dim: int, num_queries: int = 4) -> None:
        super().__init__()
        self.num_heads = num_heads
        shape = (1, num_queries, dim)
        self.query = nn.Parameter(torch.empty(shape) if _building_on_meta() else
                                  torch.randn(shape))
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Sequential(nn.LayerNorm(num_queries * dim),
                                 nn.Linear(num_queries * dim, out_dim))

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> [B, out_dim]."""
        b, n, d = tokens.shape
        h, q_n = self.num_heads, self.query.shape[1]
        kv = self.kv(tokens).reshape(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4)  # [2, B, H, N, d]
        q = self.query.expand(b, -1, -1).reshape(b, q_n, h, d // h).transpose(1, 2)  # [B,H,Q,d]
        pooled = F.scaled_dot_product_attention(q, kv[0], kv[1])  # [B, H, Q, d]
        return self.out(pooled.transpose(1, 2).reshape(b, q_n * d))


class GridPool(nn.Module):
    """Each patch token to a few channels of its own, flattened: [B, N, D] -> [B, N * C].

    Unlike :class:`AttentionPool` nothing is mixed across patches, so the latent keeps where
    each thing is (DINO-WM plans on the full patch grid, Zhou et al. 2024); C channels per
    patch keep z small enough for one MLP to predict it. VICReg's per-dimension variance term
    then asks every patch's channels to vary, which makes them describe what changes there.
    """

    def __init__(self, dim: int, num_patches: int, out_dim: int) -> None:
        super().__init__()
        if out_dim % num_patches:
            raise ValueError(f'out_dim {out_dim} is not a multiple of {num_patches} patches')
        self.num_patches = num_patches
        self.proj = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, out_dim // num_patches))

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> [B, N * C], patch-major (channels of patch 0 first)."""
        if tokens.shape[1] != self.num_patches:
            raise ValueError(f'expected {self.num_patches} patch tokens, got {tokens.shape[1]}')
        return self.proj(tokens).flatten(1)


class MaskedPredictor(nn.Module):
    """Narrow transformer predicting target-patch features from context tokens.

    Used for I-JEPA (targets in the same frame, ``time_offset`` 0) and V-JEPA-style future
    prediction (targets in the next frame, ``time_offset`` 1): mask tokens carry the target's
    position and a learned time embedding (Assran et al. 2023; Bardes et al. 2024).
    """

    def __init__(self, grid_size: int, encoder_dim: int, dim: int, depth: int, num_heads: int,
                 mlp_ratio: float, max_time_offset: int = 1) -> None:
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.time_embed = nn.Embedding(max_time_offset + 1, dim)
        nn.init.zeros_(self.time_embed.weight)
        self.register_buffer('pos_embed', sincos_position_embedding(grid_size, dim),
                             persistent=False)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, encoder_dim)
        self.max_time_offset = max_time_offset

    def forward(self, context: Tensor, context_idx: Tensor, target_idx: Tensor,
                time_offset: int = 0) -> Tensor:
        """Predict target tokens.

        Args:
            context: [B, K, D_enc] context-encoder tokens.
            context_idx: [B, K] patch index of each context token.
            target_idx: [B, M] patch indices to predict.
            time_offset: 0 = same frame, 1 = next frame.

        Returns:
            [B, M, D_enc] predicted target features.
        """
        if not 0 <= time_offset <= self.max_time_offset:
            raise ValueError(f'time_offset {time_offset} outside [0, {self.max_time_offset}]')
        b, m = target_idx.shape
        pos = self.pos_embed.to(context.dtype).unsqueeze(0).expand(b, -1, -1)  # [B, N, P]
        x = self.embed(context) + gather_tokens(pos, context_idx)              # [B, K, P]
        t = self.time_embed.weight[time_offset].to(context.dtype)
        queries = self.mask_token.expand(b, m, -1) + gather_tokens(pos, target_idx)  # [B, M, P]
        queries = queries + t
        x = torch.cat([x, queries], dim=1)                                      # [B, K+M, P]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -m:]))


def init_weights(module: nn.Module) -> None:
    """Truncated-normal linear weights, zero biases (the ViT/I-JEPA initialisation)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
