"""Which engine runs a loaded model: torch, or onnxruntime sessions of its ONNX export.

``inference_backend`` (both nodes, :data:`BACKENDS`):

* ``torch``: the model itself (the default; any device and dtype).
* ``onnxruntime``: the encoder, dynamics and read-outs through onnxruntime sessions on the
  CPU (core/export/), float32.
* ``onnxruntime_int8``: as ``onnxruntime``, with the dynamics graph quantised to int8
  (faster at planning batch sizes, less exact: docs/deployment.md).

A backend is what :class:`~.inference.WorldModelRuntime` and the planning controller call
for the per-frame and per-plan work:

* ``encoder``: ``encode(o, s, target)``, ``encode_with_image_joints(o, s)``,
  ``encode_with_scene(o, s)`` and ``counts()`` (shared_encoder.EncoderClient's interface);
* ``rollout(z [B, Z], a [B, H, A]) -> [B, H, Z]``;
* ``probe_state(z [N, Z]) -> [N, S]``, ``probe_pose(z [N, Z]) -> [N, 3]``;
* ``rollout_step(rollout_dtype)``: the planner's batched ``step(z [B, Z], a [B, A]) ->
  [B, Z]``.

Everything else (objective terms, goal checks, risk read-outs of a plan) stays on the torch
model: cheap work on latents, whichever backend made them. Pure torch/numpy, no ROS.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn, Tensor

from ..model.rollout_step import compute_dtype, RolloutStep
from .backend_names import BACKENDS
from .shared_encoder import EncoderClient

__all__ = ['BACKENDS', 'TorchBackend', 'OnnxBackend', 'OnnxStep', 'make_backend']


class TorchBackend:
    """The model itself (see the module notes)."""

    name = 'torch'

    def __init__(self, model: nn.Module, encoder: EncoderClient) -> None:
        self.model, self.encoder = model, encoder

    def rollout(self, z: Tensor, a: Tensor) -> Tensor:
        """z [B, Z], a [B, H, A] -> [B, H, Z] (``WorldModel.rollout``)."""
        return self.model.rollout(z, a)

    def probe_state(self, z: Tensor) -> Tensor:
        """z [N, Z] -> s [N, S], physical units."""
        return self.model.probe_state(z)

    def probe_pose(self, z: Tensor) -> Tensor:
        """z [N, Z] -> (x, y, yaw) [N, 3]."""
        return self.model.probe_pose(z)

    def rollout_step(self, rollout_dtype: str = 'float32') -> RolloutStep:
        """The planner's step (core/model/rollout_step.py) in ``rollout_dtype``."""
        return RolloutStep(self.model, compute_dtype(rollout_dtype))


class OnnxStep:
    """The dynamics graph as the planner's ``step(z [B, Z], a [B, A]) -> [B, Z]`` (the
    ensemble mean; ``members`` -> [E, B, Z]). Results come back on ``z``'s device/dtype."""

    def __init__(self, graphs: Any) -> None:
        self.graphs = graphs

    def __call__(self, z: Tensor, a: Tensor) -> Tensor:
        (z_next,) = self.graphs.run('dynamics', ['z_next'], z=z, a=a)
        return z_next.to(device=z.device, dtype=z.dtype)

    def members(self, z: Tensor, a: Tensor) -> Tensor:
        """Every member's prediction, [E, B, Z]."""
        (out,) = self.graphs.run('dynamics', ['members'], z=z, a=a)
        return out.to(device=z.device, dtype=z.dtype)


class OnnxEncoder:
    """``EncoderClient``'s interface over the encoder graphs. ``encode_with_scene`` without a
    ``scene`` output in the export, and anything on batches, runs through ``fallback``."""

    def __init__(self, graphs: Any, fallback: EncoderClient) -> None:
        self.graphs, self.fallback = graphs, fallback
        self.encodes = 0

    def counts(self) -> Dict[str, int]:
        """``{'encodes', 'encode_cache_hits'}``: onnxruntime passes (no cache here)."""
        return {'encodes': self.encodes, 'encode_cache_hits': 0}

    def _run(self, graph: str, outputs: list, o: Tensor, s: Optional[Tensor]
             ) -> Tuple[Tensor, ...]:
        self.encodes += 1
        out = self.graphs.run(graph, outputs, o=o, s=s)
        return tuple(t.to(device=o.device, dtype=o.dtype) for t in out)

    def encode(self, o: Tensor, s: Optional[Tensor] = None, target: bool = False) -> Tensor:
        """o [B, 3, S, S] in [0, 1], s [B, S] -> z [B, Z] (online or target encoder)."""
        return self._run('target_encoder' if target else 'encoder', ['z'], o, s)[0]

    def encode_with_image_joints(self, o: Tensor, s: Optional[Tensor] = None
                                 ) -> Tuple[Tensor, Tensor]:
        """-> (z [B, Z], image joint reading [B, J])."""
        if not self.graphs.has('encoder', 'image_joints'):
            raise ValueError('this model has no image_state_head')
        return self._run('encoder', ['z', 'image_joints'], o, s)

    def encode_with_image_links(self, o: Tensor, s: Optional[Tensor] = None
                                ) -> Tuple[Tensor, Tensor]:
        """-> (z [B, Z], link reading [B, L, 3]). The export holds no link read-out: the
        torch encoder reads it (one frame per plan, as for a scene the export lacks)."""
        return self.fallback.encode_with_image_links(o, s)

    def encode_with_scene(self, o: Tensor, s: Optional[Tensor] = None
                          ) -> Tuple[Tensor, Tensor]:
        """-> (z [B, Z], scene code [B, C])."""
        if not self.graphs.has('encoder', 'scene'):
            return self.fallback.encode_with_scene(o, s)
        return self._run('encoder', ['z', 'scene'], o, s)


class OnnxBackend:
    """onnxruntime sessions of the model's export (see the module notes).

    Args:
        model: The loaded torch model (the graphs were checked to be its export).
        graphs: :class:`~..export.onnx_sessions.OnnxGraphs`.
        encoder: The torch encoder client, for what the export lacks.
    """

    def __init__(self, model: nn.Module, graphs: Any, encoder: EncoderClient) -> None:
        self.model, self.graphs = model, graphs
        self.name = 'onnxruntime_int8' if graphs.int8 else 'onnxruntime'
        self.encoder = OnnxEncoder(graphs, encoder)
        self._step = OnnxStep(graphs)

    def rollout(self, z: Tensor, a: Tensor) -> Tensor:
        """z [B, Z], a [B, H, A] -> [B, H, Z]: the dynamics graph, step by step."""
        out = []
        for t in range(a.shape[1]):
            z = self._step(z, a[:, t])
            out.append(z)
        return torch.stack(out, dim=1)

    def _readout(self, name: str, z: Tensor) -> Tensor:
        if not self.graphs.has('readout', name):
            raise ValueError(f'this model has no {name} read-out')
        (out,) = self.graphs.run('readout', [name], z=z)
        return out.to(device=z.device, dtype=z.dtype)

    def probe_state(self, z: Tensor) -> Tensor:
        """z [N, Z] -> s [N, S], physical units."""
        return self._readout('state', z)

    def probe_pose(self, z: Tensor) -> Tensor:
        """z [N, Z] -> (x, y, yaw) [N, 3]."""
        return self._readout('pose', z)

    def rollout_step(self, rollout_dtype: str = 'float32') -> OnnxStep:
        """The dynamics graph as the planner's step; float32 only (int8 is the graph's)."""
        if rollout_dtype != 'float32':
            raise ValueError(f'rollout_dtype {rollout_dtype!r} needs inference_backend '
                             f'torch; {self.name} runs its float32 (or int8) graph')
        return self._step


def make_backend(name: str, model: nn.Module, encoder: EncoderClient,
                 device: torch.device, dtype: torch.dtype, onnx_dir: str = '',
                 threads: int = 0, step: int = 0, checkpoint: str = '') -> Any:
    """The backend ``name`` (:data:`BACKENDS`) for a loaded model; onnxruntime sessions are
    built here, once (exported to the cache first when ``onnx_dir`` is empty).

    Raises:
        ValueError: Unknown name, or onnxruntime asked for on a non-CPU device or in a
            dtype other than float32 (ExportMismatchError, a ValueError: the graphs in
            ``onnx_dir`` are another model's). OnnxUnavailableError (an ImportError):
            onnxruntime is not installed. ExportMissingError (an OSError): no export there.
    """
    if name not in BACKENDS:
        raise ValueError(f'inference_backend must be one of {list(BACKENDS)}, got {name!r}')
    if name == 'torch':
        return TorchBackend(model, encoder)
    if device.type != 'cpu' or dtype != torch.float32:
        raise ValueError(f'inference_backend {name} runs float32 on the CPU, not '
                         f'{device}/{dtype}; for a GPU use inference_backend torch with '
                         'device auto (or TensorRT from the ONNX export: docs/deployment.md)')
    from ..export.onnx_sessions import open_export   # onnxruntime only when asked for
    graphs = open_export(model, onnx_dir or None, threads, name == 'onnxruntime_int8', step,
                         checkpoint)
    return OnnxBackend(model, graphs, encoder)
