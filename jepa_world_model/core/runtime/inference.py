"""Online inference with a trained world model: one call per camera frame.

:class:`WorldModelRuntime` is what ``world_model_node`` runs, free of ROS so it is tested and
benchmarked on its own. Per frame it

1. encodes the observation twice: the online encoder gives ``z`` (the start of the rollout,
   as in training) and the EMA target encoder gives ``z_obs``, the latent the dynamics were
   trained to predict (through :attr:`encoder`, whose model and encode cache runtimes of
   one process may share: core/runtime/shared_encoder.py);
2. computes the *surprise*: the L1 distance (mean over latent dims, the metric of the
   training loss ``latent_l1``) between ``z_obs`` and what the model predicted for this
   moment from an earlier frame, normalised by :class:`SurpriseNormalizer`;
3. rolls the dynamics out ``horizon`` steps with the current action held constant and decodes
   joint positions (and velocities) with the state probe, and the base pose when the model
   has a pose probe.

Tensor names: ``z`` latent [B, Z], ``a`` action [B, A], ``s`` proprio [B, S] (joint
positions, velocities and the odometry pose as the config selects, core/model/state_layout.py).
Images are uint8 RGB [H, W, 3] already at the model's input size.

Which earlier prediction a frame is compared with, and under which actions:
:class:`~.prediction_history.PredictionHistory`.

Normalisation: :class:`~jepa_world_model.core.runtime.surprise.SurpriseNormalizer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from ..checkpoint import LoadedCheckpoint, load_checkpoint
from ..config import ModelConfig
from .backends import make_backend
from .devices import DTYPES, resolve_device
from .prediction_history import PredictionHistory, Remembered
from .shared_encoder import EncoderClient, EncoderPool, SharedEncoder
from ..model.state_layout import assemble_state, joint_positions_from_state
from .surprise import SurpriseNormalizer

__all__ = ['SurpriseNormalizer', 'StepResult', 'WorldModelRuntime', 'resolve_device',
           'DTYPES']


@dataclass
class StepResult:
    """What :meth:`WorldModelRuntime.step` returns (numpy, on the CPU).

    Attributes:
        z: [Z] online latent of this frame.
        z_obs: [Z] target-encoder latent of this frame.
        positions: [H, J] predicted joint positions for steps 1..H, or None without joint
            positions in s.
        velocities: [H, J] predicted joint velocities, or None without velocity in s.
        poses: [H + 1, 3] base pose (x, y, yaw) now and at steps 1..H, or None without a
            pose probe.
        surprise_raw: L1 prediction error of this frame, or None (nothing to compare with).
        surprise: Normalised surprise (see :class:`SurpriseNormalizer`), or None (no raw
            value, or calibrating).
        surprise_steps: k of the k-step prediction the surprise compares with (0: none).
        goal_distance: L1 distance from ``z_obs`` to the captured goal latent, or None.
        compute_ms: Wall time of the model computation in milliseconds.
    """

    z: np.ndarray
    z_obs: np.ndarray
    positions: Optional[np.ndarray]
    velocities: Optional[np.ndarray]
    poses: Optional[np.ndarray]
    surprise_raw: Optional[float]
    surprise: Optional[float]
    surprise_steps: int
    goal_distance: Optional[float]
    compute_ms: float


class WorldModelRuntime:
    """Per-frame encoding, surprise and rollout around a loaded checkpoint.

    Not thread-safe: call it from one thread (the node's inference worker) or under a lock.
    Several runtimes may share one model and its encode cache (``shared``; ``pool`` of
    :meth:`from_path`): each keeps its own history, normaliser and goal.

    Args:
        checkpoint: A checkpoint from :func:`load_checkpoint`; its model is moved to
            ``device``/``dtype`` and put in eval mode.
        device: Where to run (``torch.device`` or a name accepted by :func:`resolve_device`).
        dtype: Compute dtype of the weights and inputs.
        normalizer: Surprise normaliser (default: window 300, 30 samples to calibrate).
        shared: Another runtime's :class:`~.shared_encoder.SharedEncoder` of the same
            checkpoint, device and dtype (default: one of its own).
        backend: ``inference_backend`` (core/runtime/backends.py): torch, onnxruntime or
            onnxruntime_int8; ``onnx_dir`` (empty: export to a cache) and ``threads``
            (onnxruntime intra-op threads, 0: its default) apply to the onnxruntime ones.

    Raises:
        ValueError: ``shared`` holds another checkpoint, device or dtype, or the backend
            cannot run (:func:`~.backends.make_backend`, which also raises ImportError
            and OSError).
    """

    def __init__(self, checkpoint: LoadedCheckpoint, device: torch.device | str = 'cpu',
                 dtype: torch.dtype = torch.float32,
                 normalizer: Optional[SurpriseNormalizer] = None,
                 shared: Optional[SharedEncoder] = None, backend: str = 'torch',
                 onnx_dir: str = '', threads: int = 0) -> None:
        self.checkpoint = checkpoint
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.dtype = dtype
        if shared is None:
            shared = SharedEncoder(checkpoint, self.device, dtype)
        elif (shared.checkpoint is not checkpoint or shared.device != self.device
              or shared.dtype != dtype):
            raise ValueError(f'the shared encoder holds {shared.checkpoint.path} on '
                             f'{shared.device}/{shared.dtype}, not {checkpoint.path} on '
                             f'{self.device}/{dtype}')
        self.model = shared.model
        self.backend = make_backend(backend, self.model, shared.client(), self.device, dtype,
                                    onnx_dir, threads, checkpoint.step, str(checkpoint.path))
        self.encoder: EncoderClient = self.backend.encoder   # every ViT pass goes through it
        self.model_shared = False   # True when another runtime had loaded the model
        self.normalizer = normalizer or SurpriseNormalizer()
        self._history = PredictionHistory()
        self._goal: Optional[Tensor] = None
        self._last_obs: Optional[Tensor] = None

    @classmethod
    def from_path(cls, path: str | Path, device: str = 'cpu', dtype: str = 'float32',
                  normalizer: Optional[SurpriseNormalizer] = None,
                  pool: Optional[EncoderPool] = None, **backend: Any
                  ) -> 'WorldModelRuntime':
        """Load a checkpoint file and wrap it (raises ``CheckpointError``/``ValueError``).

        With ``pool``, a model another runtime of the pool holds (same file, device and
        dtype) is shared, with its encode cache, instead of loaded again. ``backend``: the
        ``backend``, ``onnx_dir`` and ``threads`` arguments of the constructor.
        """
        if dtype not in DTYPES:
            raise ValueError(f'unknown dtype {dtype!r} (use one of {sorted(DTYPES)})')
        torch_device = resolve_device(device)
        if pool is None:
            checkpoint = load_checkpoint(path, device=torch_device, dtype=DTYPES[dtype])
            return cls(checkpoint, torch_device, DTYPES[dtype], normalizer, **backend)
        shared, held = pool.acquire(path, torch_device, DTYPES[dtype])
        runtime = cls(shared.checkpoint, torch_device, DTYPES[dtype], normalizer, shared,
                      **backend)
        runtime.model_shared = held
        return runtime

    # -- model facts -----------------------------------------------------------------------
    @property
    def config(self) -> ModelConfig:
        """The model's architecture config."""
        return self.checkpoint.config.model

    @property
    def joint_names(self) -> list:
        """Joint order of ``s`` and of the predicted positions."""
        return list(self.config.joint_names)

    @property
    def action_dim(self) -> int:
        """A."""
        return self.config.action_dim

    @property
    def image_size(self) -> int:
        """Side of the square model input in pixels."""
        return self.config.image_size

    @property
    def has_pose(self) -> bool:
        """True when the model has a base-pose probe."""
        return self.model.has_pose

    @property
    def latent_dim(self) -> int:
        """Z."""
        return self.config.latent_dim

    @property
    def parameter_count(self) -> int:
        """Trainable parameters (the EMA target encoder not counted)."""
        return int(self.model.parameter_counts()['total_trainable'])

    def encode_counts(self) -> dict:
        """``{'encodes', 'encode_cache_hits'}``: ViT passes this runtime ran, and those the
        shared encode cache served instead."""
        return self.encoder.counts()

    @property
    def has_goal(self) -> bool:
        """True once :meth:`capture_goal` succeeded."""
        return self._goal is not None

    # -- per-frame API ---------------------------------------------------------------------
    def preprocess(self, rgb: np.ndarray) -> Tensor:
        """uint8 RGB [S, S, 3] at model size -> o [1, 3, S, S] in [0, 1] on device/dtype.

        Raises:
            ValueError: Wrong shape or dtype.
        """
        size = self.image_size
        if rgb.shape != (size, size, 3) or rgb.dtype != np.uint8:
            raise ValueError(f'expected a uint8 image of shape ({size}, {size}, 3), got '
                             f'{rgb.dtype} {rgb.shape}')
        o = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device)
        return o.permute(2, 0, 1).unsqueeze(0).to(self.dtype).div_(255.0)

    @property
    def needs_pose(self) -> bool:
        """True when s contains the odometry pose (pass ``pose`` to :meth:`make_state`)."""
        return self.config.pose_in_state

    def make_state(self, position: Optional[np.ndarray], velocity: Optional[np.ndarray],
                   pose: Optional[np.ndarray] = None) -> np.ndarray:
        """Assemble s [S] as the model expects (core/model/state_layout.py).

        Args:
            position: [J] joint positions.
            velocity: [J] joint velocities, or None (zeros, for drivers without velocities).
            pose: (x, y, yaw) base pose from odometry, for models with ``pose_in_state``.

        Raises:
            ValueError: A part the model needs is missing or has the wrong size.
        """
        if velocity is None and position is not None:
            velocity = np.zeros_like(np.asarray(position, dtype=np.float32))
        return assemble_state(self.config.state_slices, position, velocity, pose,
                              self.config.joint_coding).reshape(-1)

    def _vector(self, values: np.ndarray, size: int, what: str) -> Tensor:
        arr = np.asarray(values, dtype=np.float32).reshape(-1)
        if arr.shape != (size,):
            raise ValueError(f'{what} has {arr.size} values, the model expects {size}')
        if not np.isfinite(arr).all():
            raise ValueError(f'{what} contains NaN or inf')
        return torch.from_numpy(arr).to(device=self.device, dtype=self.dtype).unsqueeze(0)

    def step(self, rgb: np.ndarray, s: np.ndarray, a: np.ndarray, horizon: int = 10,
             stamp: Optional[float] = None, step_period: Optional[float] = None,
             a_applied: Optional[np.ndarray] = None) -> StepResult:
        """Process one frame.

        Args:
            rgb: uint8 [S, S, 3] image at model size.
            s: [state_dim] proprio (see :meth:`make_state`); ignored if state_dim is 0.
            a: [A] action applied from now on, held for the whole horizon.
            horizon: H >= 1 rollout steps.
            stamp: Frame time (s); with ``step_period`` selects the matching earlier
                prediction for the surprise (see the module docstring).
            step_period: Seconds per model step.
            a_applied: [A] action in effect when this frame arrived (what the robot did since
                the previous frame); used to re-predict this frame for the surprise.

        Returns:
            The frame's :class:`StepResult`.

        Raises:
            ValueError: Bad shapes, non-finite inputs or horizon < 1.
        """
        if horizon < 1:
            raise ValueError(f'horizon must be >= 1, got {horizon}')
        t0 = time.perf_counter()
        o = self.preprocess(rgb)
        cfg = self.config
        s_t = self._vector(s, cfg.state_dim, 's') if cfg.state_dim else None
        a_t = self._vector(a, cfg.action_dim, 'a')
        applied = (self._vector(a_applied, cfg.action_dim, 'a_applied')[0]
                   if a_applied is not None else None)
        with torch.inference_mode():
            z = self.encoder.encode(o, s_t)                        # [1, Z]
            z_obs = self.encoder.encode(o, s_t, target=True)       # [1, Z]
            key = self._history.key(stamp, step_period)
            err, k = self._history.error(z_obs[0], key, step_period, applied,
                                         self.backend.rollout)
            z_roll = self.backend.rollout(z, a_t.unsqueeze(1).expand(1, horizon, -1))  # [1,H,Z]
            state = (self.backend.probe_state(z_roll[0]) if self.model.state_probe is not None
                     else None)                                    # [H, S]
            poses = (self.backend.probe_pose(torch.cat([z, z_roll[0]], dim=0))
                     if self.has_pose else None)                   # [H + 1, 3]
            goal = (float((z_obs[0] - self._goal).abs().mean()) if self._goal is not None
                    else None)
        self._history.remember(Remembered(key, z[0], z_roll[0], applied), step_period)
        self._last_obs = z_obs[0]
        raw = float(err.mean()) if err is not None else None
        surprise = self.normalizer.update(err) if err is not None else None
        positions = velocities = None
        if state is not None:
            state_np = state.float().cpu().numpy()
            slices = cfg.state_slices
            if 'position' in slices:   # continuous joints: atan2 of (cos, sin), (-pi, pi]
                positions = joint_positions_from_state(state_np, slices, cfg.joint_coding)
            if 'velocity' in slices:
                velocities = state_np[:, slices['velocity']]
        return StepResult(
            z=z[0].float().cpu().numpy(), z_obs=z_obs[0].float().cpu().numpy(),
            positions=positions, velocities=velocities,
            poses=poses.float().cpu().numpy() if poses is not None else None,
            surprise_raw=raw, surprise=surprise, surprise_steps=k, goal_distance=goal,
            compute_ms=(time.perf_counter() - t0) * 1e3)

    def capture_goal(self) -> bool:
        """Make the last observed frame's target latent the goal. False if no frame yet."""
        if self._last_obs is None:
            return False
        self._goal = self._last_obs.clone()
        return True

    @property
    def goal(self) -> Optional[np.ndarray]:
        """[Z] goal latent, or None."""
        return None if self._goal is None else self._goal.float().cpu().numpy()

    def reset(self) -> None:
        """Forget earlier predictions and the surprise calibration (e.g. after a time jump).

        The goal latent is kept: it describes a place, not a moment.
        """
        self._history.clear()
        self._last_obs = None
        self.normalizer.reset()
