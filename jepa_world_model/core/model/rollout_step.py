"""The planner's model step: the dynamics ensemble's weights frozen into plain tensors.

A CEM plan of 256 samples x horizon 8 x 3 iterations makes 24 batched calls of the ensemble
mean ``z + mean_e g_e([z, a_norm])``: about 3.5 GFLOP for the shipped 3-member models, which
is most of a plan (measured in docs/planner_speed.md). :class:`RolloutStep` computes exactly
what :meth:`WorldModel.predict` computes, with three changes that only affect speed:

* the member MLPs run as functional calls on tensors prepared once (no ``nn.Module`` dispatch:
  ~30 module calls a step);
* the action normalisation is folded into the first layer's weights and bias
  (``W (a - mu) / sigma + b = (W / sigma) a + (b - W mu / sigma)``);
* the members' output layers are summed into one accumulator instead of stacked and averaged.

``compute_dtype`` ``torch.bfloat16`` runs the matrix products and activations in bfloat16
(about twice the GEMM throughput on CPUs with AVX512-BF16 or AMX; Kalamkar et al. 2019) while
the latent itself and the residual add stay in the input's dtype, so rounding does not
accumulate in ``z`` over a rollout. It changes predictions by ~1 % of the increment: use it only
where the planning success it gives was measured (docs/planner_speed.md).

Tensor names: ``z`` latent [B, Z], ``a`` action [B, A] in physical units.
"""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch import Tensor, nn
import torch.nn.functional as F

__all__ = ['COMPUTE_DTYPES', 'RolloutStep', 'compute_dtype', 'frozen_mlp', 'hidden_forward']

#: ``rollout_dtype`` names and their torch dtypes.
COMPUTE_DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16}

# linear weight and bias, norm weight and bias, norm eps
_Layer = Tuple[Tensor, Tensor, Tensor, Tensor, float]


def compute_dtype(name: str) -> torch.dtype:
    """The torch dtype of a ``rollout_dtype`` name; ValueError for any other name."""
    if name not in COMPUTE_DTYPES:
        raise ValueError(f'rollout_dtype must be one of {sorted(COMPUTE_DTYPES)}, got {name!r}')
    return COMPUTE_DTYPES[name]


def _frozen(t: Tensor, dtype: torch.dtype) -> Tensor:
    """A contiguous copy of ``t`` in ``dtype`` that shares no memory with the model."""
    return t.detach().to(dtype).clone(memory_format=torch.contiguous_format)


_Hidden = List[Tuple[nn.Linear, nn.LayerNorm]]


def _member_layers(member: nn.Sequential) -> Tuple[_Hidden, nn.Linear]:
    """The ``(Linear, LayerNorm)`` hidden layers and the output Linear of one
    :func:`~.layers.mlp` (Linear, LayerNorm, GELU repeated, then Linear).

    Raises:
        ValueError: the member is not laid out that way (the kernel would compute something
            else than the module).
    """
    mods = list(member)
    ok = len(mods) % 3 == 1 and isinstance(mods[-1], nn.Linear)
    hidden = []
    for i in range(0, len(mods) - 1, 3):
        lin, norm, act = mods[i:i + 3]
        ok = ok and isinstance(lin, nn.Linear) and isinstance(norm, nn.LayerNorm) \
            and isinstance(act, nn.GELU) and act.approximate == 'none' \
            and norm.elementwise_affine and len(norm.normalized_shape) == 1
        hidden.append((lin, norm))
    if not ok:
        raise ValueError('RolloutStep needs members laid out as layers.mlp (Linear, LayerNorm, '
                         f'GELU)*depth + Linear, got {[type(m).__name__ for m in mods]}')
    return hidden, mods[-1]


def frozen_mlp(module: nn.Sequential, latent_dim: int, action_mean: Tensor,
               action_std: Tensor, dtype: torch.dtype, out_divisor: int = 1
               ) -> Tuple[List[_Layer], Tensor, Tensor]:
    """``(hidden layers, W_out, b_out)`` of a :func:`~.layers.mlp` over ``[z, a_norm]``
    frozen into ``dtype`` tensors, with the action normalisation folded into the first layer
    (``W (a - mu) / sigma + b = (W / sigma) a + (b - W mu / sigma)``; the action columns
    come after the ``latent_dim`` latent ones) and the output layer divided by
    ``out_divisor`` (an ensemble mean sums its members' outputs).

    Raises:
        ValueError: the module is not laid out as layers.mlp (see :func:`_member_layers`).
    """
    hidden, out = _member_layers(module)
    with torch.no_grad():
        mu, sigma = action_mean.detach().float(), action_std.detach().float()
        layers: List[_Layer] = []
        for k, (lin, norm) in enumerate(hidden):
            w, b = lin.weight.detach().float(), lin.bias.detach().float()
            if k == 0:
                w_a = w[:, latent_dim:] / sigma
                b = b - w_a @ mu
                w = torch.cat([w[:, :latent_dim], w_a], dim=1)
            w, b, gamma, beta = (_frozen(t, dtype) for t in (w, b, norm.weight, norm.bias))
            layers.append((w, b, gamma, beta, norm.eps))
        w_out, b_out = out.weight, out.bias
        if out_divisor != 1:
            w_out, b_out = w_out / out_divisor, b_out / out_divisor
        return layers, _frozen(w_out, dtype), _frozen(b_out, dtype)


def hidden_forward(layers: List[_Layer], x: Tensor) -> Tensor:
    """The hidden layers of :func:`frozen_mlp`: ``GELU(LayerNorm(W x + b))`` in turn."""
    h = x
    for w, b, gamma, beta, eps in layers:
        h = F.gelu(F.layer_norm(F.linear(h, w, b), (w.shape[0],), gamma, beta, eps))
    return h


class RolloutStep:
    """Batched ensemble-mean step ``step(z [B, Z], a [B, A]) -> z_next [B, Z]`` of a frozen
    :class:`~.world_model.WorldModel` (the planner's ``StepFn``).

    A snapshot: made from the model's current weights, it does not follow later training.

    Args:
        model: The world model (its ``dynamics`` members, ``action_mean``/``action_std``).
        compute_dtype: dtype of the matrix products and activations (see the module notes).
    """

    def __init__(self, model: nn.Module, compute_dtype: torch.dtype = torch.float32) -> None:
        if not compute_dtype.is_floating_point:
            raise ValueError(f'compute_dtype must be floating point, got {compute_dtype}')
        self.compute_dtype = compute_dtype
        members = list(model.dynamics.members)
        if not members:
            raise ValueError('the model has no dynamics members')
        latent_dim = model.cfg.latent_dim
        n = len(members)
        # The output layers are averaged: divide once here instead of every step.
        self._members = [frozen_mlp(member, latent_dim, model.action_mean, model.action_std,
                                    compute_dtype, out_divisor=n) for member in members]
        self.ensemble_size = len(members)

    def __call__(self, z: Tensor, a: Tensor) -> Tensor:
        """``z [B, Z]``, ``a [B, A]`` (physical units) -> ``[B, Z]``, the ensemble mean of
        ``z + g_e([z, a_norm])`` (equal to :meth:`WorldModel.predict` up to rounding)."""
        x = torch.cat([z, a.to(z.dtype)], dim=-1).to(self.compute_dtype)
        total = None
        for layers, w_out, b_out in self._members:
            y = F.linear(hidden_forward(layers, x), w_out, b_out)
            total = y if total is None else total + y
        return z + total.to(z.dtype)

    def members(self, z: Tensor, a: Tensor) -> Tensor:
        """Every member's prediction: ``z [B, Z]``, ``a [B, A]`` -> ``[E, B, Z]`` (equal to
        :meth:`WorldModel.predict_ensemble` up to rounding)."""
        x = torch.cat([z, a.to(z.dtype)], dim=-1).to(self.compute_dtype)
        n = self.ensemble_size
        return torch.stack([z + n * F.linear(hidden_forward(layers, x), w_out, b_out).to(z.dtype)
                            for layers, w_out, b_out in self._members])
