"""Small building blocks shared by the world model's heads (pure PyTorch)."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ['mlp', 'TokenReadout']


def mlp(in_dim: int, hidden: int, out_dim: int, depth: int) -> nn.Sequential:
    """LayerNorm-GELU MLP with ``depth`` hidden layers."""
    layers, dim = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU()]
        dim = hidden
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


class TokenReadout(nn.Module):
    """Patch tokens [B, N, D] -> [B, K]: each token narrowed to 8 channels, then an MLP over
    all of them in grid order, so the read-out knows *where* things are (a pooled vector
    averages that away)."""

    def __init__(self, num_tokens: int, dim: int, hidden: int, out_dim: int,
                 narrow: int = 8) -> None:
        super().__init__()
        self.narrow = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, narrow))
        self.head = mlp(num_tokens * narrow, hidden, out_dim, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> [B, K]."""
        return self.head(self.narrow(tokens).flatten(1))
