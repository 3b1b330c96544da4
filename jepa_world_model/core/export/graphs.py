"""The parts of a :class:`~..model.world_model.WorldModel` that a deployed robot runs, each
as a small ``nn.Module`` with plain tensor inputs and outputs (what an ONNX graph needs).

Every module calls the model's own methods, so an exported graph computes what the torch
model computes (the parity test, test/test_onnx_export.py, measures how closely):

* :class:`EncoderGraph` (online or EMA target encoder): ``o [B, 3, S, S]`` in [0, 1] and
  ``s [B, state_dim]`` in physical units (absent when the model has no state) ->
  ``z [B, Z]``; the online encoder also gives ``image_joints [B, J]`` (the image head's
  joint reading, physical units) and ``scene [B, C]`` (the range read-out's scene code)
  when the model has them.
* :class:`DynamicsGraph`: ``z [B, Z]``, ``a [B, A]`` in physical units -> ``z_next [B, Z]``
  (the ensemble mean, :meth:`WorldModel.predict`) and ``members [E, B, Z]``.
* :class:`ReadoutGraph`: ``z [B, Z]`` -> ``state [B, state_dim]`` (the state probe, physical
  units), ``pose [B, 3]`` and ``risk [B, K]`` (probabilities), those the model has.

Tensor names are the graphs' input and output names. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

__all__ = ['EncoderGraph', 'DynamicsGraph', 'ReadoutGraph', 'example_inputs', 'graph_modules']


class EncoderGraph(nn.Module):
    """(o, s) -> z (+ image_joints, scene for the online encoder); see the module notes."""

    def __init__(self, model: nn.Module, target: bool) -> None:
        super().__init__()
        self.model, self.target = model, target
        cfg = model.cfg
        self.input_names = ['o'] + (['s'] if cfg.state_dim else [])
        self.output_names = ['z']
        if not target and model.image_state_head is not None:
            self.output_names.append('image_joints')
        if not target and model.scan_head is not None and cfg.scan_source == 'tokens':
            self.output_names.append('scene')

    def forward(self, o: Tensor, s: Tensor = None) -> Tuple[Tensor, ...]:
        """o [B, 3, S, S], s [B, state_dim] -> the tensors of ``output_names``."""
        model = self.model
        tokens = model.patch_tokens(o, target=self.target)
        z = model.latent_from_tokens(tokens, s, self.target)
        out = [z]
        if 'image_joints' in self.output_names:
            out.append(model.image_joints_from(tokens, z))
        if 'scene' in self.output_names:
            out.append(model.scan_head.scene(tokens))
        return tuple(out)


class DynamicsGraph(nn.Module):
    """(z, a) -> (z_next [B, Z] ensemble mean, members [E, B, Z])."""

    input_names = ['z', 'a']
    output_names = ['z_next', 'members']

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor, a: Tensor) -> Tuple[Tensor, Tensor]:
        """z [B, Z], a [B, A] physical -> (z_next [B, Z], members [E, B, Z])."""
        members = self.model.predict_ensemble(z, a)
        return members.mean(dim=0), members


class ReadoutGraph(nn.Module):
    """z [B, Z] -> the read-outs the model has: state [B, S], pose [B, 3], risk [B, K]."""

    input_names = ['z']

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.output_names: List[str] = []
        if model.state_probe is not None:
            self.output_names.append('state')
        if model.has_pose:
            self.output_names.append('pose')
        if model.risk_probe is not None:
            self.output_names.append('risk')

    def forward(self, z: Tensor) -> Tuple[Tensor, ...]:
        """z [B, Z] -> the tensors of ``output_names``."""
        heads = {'state': self.model.probe_state, 'pose': self.model.probe_pose,
                 'risk': self.model.probe_risk}
        return tuple(heads[name](z) for name in self.output_names)


def example_inputs(model: nn.Module, name: str, batch: int = 2) -> Tuple[Tensor, ...]:
    """Random inputs of graph ``name`` at ``batch`` (float32, on the CPU), in input order."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    if name in ('encoder', 'target_encoder'):
        o = torch.rand(batch, 3, cfg.image_size, cfg.image_size, generator=gen)
        s = torch.randn(batch, cfg.state_dim, generator=gen)
        return (o, s) if cfg.state_dim else (o,)
    z = torch.randn(batch, cfg.latent_dim, generator=gen)
    if name == 'dynamics':
        return z, torch.randn(batch, cfg.action_dim, generator=gen)
    return (z,)


def graph_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """``{graph name: module}`` of every graph ``model`` has (the readout only when it has
    at least one read-out)."""
    graphs: Dict[str, nn.Module] = {
        'encoder': EncoderGraph(model, target=False),
        'target_encoder': EncoderGraph(model, target=True),
        'dynamics': DynamicsGraph(model),
    }
    readout = ReadoutGraph(model)
    if readout.output_names:
        graphs['readout'] = readout
    return graphs
