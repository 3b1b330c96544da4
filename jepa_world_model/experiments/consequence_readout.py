"""Issue #13 item 2: what an action does to the objects, read from the predicted latents.

A read-out of an object's *position* from the latent is 13-15 cm off even on encoded frames
(docs/tabletop.md): the latent holds the arm far better than where the block and the cube
lie, so no position read from it can beat no-change. What a world model is for is the
*consequence* of an action: the displacement ``p_{t+h} - p_t`` it causes. A
:class:`ConsequenceReadout` maps (z_t, the model's predicted z_{t+h}, h) to the displacement
of every object at once; added to the object's true position p_t it is a forecast with the
information the privileged baselines have (no-change and constant velocity also start from
the true p_t) plus what the model predicts.

The same read-out is fitted on other features as controls (``FEATURES``): ``predicted_image``,
z_t and only the image part of the predicted z_{t+h} (does the *learned* representation
carry the consequence, or only the predicted joint state next to it?); ``current``, z_t alone
(what the frame says without any prediction); ``encoded_future``, z_t and the encoded
z_{t+h} (the ceiling of a perfect prediction); ``commands``, z_t and the commands of
t .. t+h-1 themselves (a supervised head that learns the push from the labels, with no world
model between). All are fitted on the training bag's rollouts, scored on held-out episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

__all__ = ['FEATURES', 'consequence_features', 'ConsequenceReadout', 'save_readout',
           'load_readout']

#: Metadata key of a saved read-out (``save_readout``).
METADATA_KEY = 'consequence_readout'
#: Largest input, width and output a saved read-out may declare (checked before allocating).
MAX_READOUT_SIZE = 65536

FEATURES = ('predicted', 'predicted_image', 'current', 'encoded_future', 'commands')


def consequence_features(kind: str, z: np.ndarray, z_pred: np.ndarray, actions: np.ndarray,
                         starts: np.ndarray, image_dim: int) -> np.ndarray:
    """Read-out inputs of one episode. z [T, Z] encoded, z_pred [K, H, Z] predicted from
    ``starts`` [K], actions [T, A] recorded; ``image_dim``: the image part's size (the first
    entries of z). -> [K, H, F]: z_t next to, at horizon h, the predicted z_{t+h}
    (``predicted``), its image part (``predicted_image``), nothing (``current``), the encoded
    z_{t+h} (``encoded_future``) or the commands of t .. t+h-1, later ones zero
    (``commands``)."""
    if kind not in FEATURES:
        raise ValueError(f'unknown consequence feature {kind!r}; use one of {FEATURES}')
    starts = np.asarray(starts, dtype=int)
    k, horizon = z_pred.shape[:2]
    if len(starts) != k:
        raise ValueError(f'{len(starts)} starts for {k} rollouts')
    steps = np.arange(horizon)
    z_now = np.repeat(z[starts][:, None], horizon, axis=1)               # [K, H, Z]
    if kind == 'predicted':
        other = z_pred
    elif kind == 'predicted_image':
        other = z_pred[..., :image_dim]
    elif kind == 'current':
        return z_now.astype(np.float32)
    elif kind == 'encoded_future':
        other = z[starts[:, None] + steps[None, :] + 1]
    else:
        a = actions[starts[:, None] + steps[None, :]]                    # [K, H, A]
        # Row h - 1 holds the first h commands, the rest zero: what was done up to t + h.
        done = steps[None, :, None] <= steps[:, None, None]                # [H, H, 1]
        other = (a[:, None, :, :] * done[None]).reshape(k, horizon, -1)
    return np.concatenate([z_now, other], axis=-1).astype(np.float32)


@dataclass
class ConsequenceReadout:
    """An MLP from features [..., H, F] (and the horizon, one-hot) to displacements
    [..., H, D] in metres, on standardised inputs; fitted with a smooth-L1 loss in
    centimetres, robust to the many frames where nothing moves."""

    net: nn.Module
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, steps: int = 4000, batch_size: int = 512,
            lr: float = 1e-3, hidden: int = 256, seed: int = 0) -> 'ConsequenceReadout':
        """x [N, H, F] features, y [N, H, D] displacements [m]; ``steps`` AdamW steps."""
        if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2] or len(x) < 2:
            raise ValueError(f'need x [N, H, F] and y [N, H, D], N >= 2; got {x.shape}, '
                             f'{y.shape}')
        if steps < 1:
            raise ValueError('steps must be >= 1')
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        inputs = _with_horizon(torch.as_tensor(x, dtype=torch.float32)).flatten(0, 1)
        targets = torch.as_tensor(y, dtype=torch.float32).flatten(0, 1) * 100.0   # cm
        mean, std = inputs.mean(0), inputs.std(0) + 1e-6
        inputs = (inputs - mean) / std
        net = _mlp(inputs.shape[1], hidden, targets.shape[1])
        optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-2)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
        for _ in range(steps):
            pick = torch.randint(0, len(inputs), (batch_size,), generator=generator)
            # beta 0.1 cm: quadratic only within a millimetre, so resting objects cost little.
            loss = nn.functional.smooth_l1_loss(net(inputs[pick]), targets[pick], beta=0.1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        return cls(net.eval(), mean, std)

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [K, H, F] -> displacements [K, H, D] in metres (float64)."""
        inputs = _with_horizon(torch.as_tensor(x, dtype=torch.float32))
        out = self.net((inputs - self.mean) / self.std) / 100.0
        return out.double().numpy()


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                         nn.GELU(), nn.Linear(hidden, out_dim))


def save_readout(path: str | Path, readout: ConsequenceReadout, info: Dict[str, object]
                 ) -> Path:
    """Write ``readout`` as safetensors; ``info`` (JSON-able: feature kind, horizon,
    objects, the checkpoint it reads) goes into the metadata with the layer sizes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first, last = readout.net[0], readout.net[-1]
    sizes = {'in': first.in_features, 'hidden': first.out_features, 'out': last.out_features}
    tensors = {f'net.{k}': v.detach().contiguous() for k, v in readout.net.state_dict().items()}
    tensors.update(mean=readout.mean.contiguous(), std=readout.std.contiguous())
    from safetensors.torch import save_file
    save_file(tensors, str(path), metadata={
        METADATA_KEY: json.dumps({'sizes': sizes, 'info': info}, sort_keys=True)})
    return path


def load_readout(path: str | Path) -> Tuple[ConsequenceReadout, Dict[str, object]]:
    """Read a read-out written by :func:`save_readout` -> (read-out, info). The declared
    sizes are checked against the limits and the stored tensors before anything is built.

    Raises:
        FileNotFoundError: no such file. ValueError: not a consequence read-out file.
    """
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no consequence read-out at {path}')
    with safe_open(str(path), framework='pt') as f:
        metadata = f.metadata() or {}
        if METADATA_KEY not in metadata:
            raise ValueError(f'{path} is not a consequence read-out (no {METADATA_KEY} '
                             'metadata)')
        try:
            header = json.loads(metadata[METADATA_KEY])
            sizes = {k: int(header['sizes'][k]) for k in ('in', 'hidden', 'out')}
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f'{path}: unreadable {METADATA_KEY} metadata ({exc})') from None
        if not all(0 < v <= MAX_READOUT_SIZE for v in sizes.values()):
            raise ValueError(f'{path}: layer sizes {sizes} outside 1..{MAX_READOUT_SIZE}')
        net = _mlp(sizes['in'], sizes['hidden'], sizes['out'])
        expected = {f'net.{k}': tuple(v.shape) for k, v in net.state_dict().items()}
        expected.update(mean=(sizes['in'],), std=(sizes['in'],))
        stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        if stored != expected:
            raise ValueError(f'{path}: tensors {stored} do not match the declared sizes')
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith('net.')})
    readout = ConsequenceReadout(net.eval(), tensors['mean'].float(), tensors['std'].float())
    return readout, dict(header.get('info') or {})


def _with_horizon(x: torch.Tensor) -> torch.Tensor:
    """[K, H, F] -> [K, H, F + H]: the horizon h one-hot, so one net answers every h."""
    k, horizon = x.shape[:2]
    onehot = torch.eye(horizon, dtype=x.dtype).expand(k, horizon, horizon)
    return torch.cat([x, onehot], dim=-1)
