"""Online inference with a trained world model: one call per camera frame.

:class:`WorldModelRuntime` is what ``world_model_node`` runs, free of ROS so it is tested and
benchmarked on its own. Per frame it

1. encodes the observation twice: the online encoder gives ``z`` (the start of the rollout,
   as in training) and the EMA target encoder gives ``z_obs``, the latent the dynamics were
   trained to predict;
2. computes the *surprise*: the L1 distance (mean over latent dims, the metric of the
   training loss ``latent_l1``) between ``z_obs`` and what the model predicted for this
   moment from an earlier frame, normalised by :class:`SurpriseNormalizer`;
3. rolls the dynamics out ``horizon`` steps with the current action held constant and decodes
   joint positions (and velocities) with the state probe, and the base pose when the model
   has a pose probe.

Tensor names: ``z`` latent [B, Z], ``a`` action [B, A], ``s`` proprio [B, S] (joint
positions, then velocities when ``config.use_joint_velocity``, in ``config.joint_names``
order; S = J or 2J). Images are uint8 RGB [H, W, 3] already at the model's input size.

Which earlier prediction a frame is compared with: every frame stores its rollout,
``rollout[k-1]`` being the prediction for ``stamp + k * step_period``. A new frame at stamp
``t`` is compared with the stored (frame, k) whose target time is closest to ``t``, within
half a step. So the surprise is a proper k-step prediction error whatever the camera rate
(30 Hz camera, 0.1 s model step: the frame three back, k = 1). Without stamps (``stamp`` or
``step_period`` None) the previous frame's one-step prediction is used.

Normalisation (:class:`SurpriseNormalizer`): each latent dimension's error is divided by
its median over the last ``window`` frames, the per-dimension ratios are averaged, and the
result is divided by its own running median, so 1.0 means "as predictable as usual" and a
threshold of 3-5 flags collisions, slips, pushes and failed grasps. Medians ignore up to half
the window being anomalous, so a short event does not raise the baseline; an anomaly that
lasts longer than half the window becomes the new normal, which is intended (the scene has
changed). The per-dimension step keeps inherently unpredictable dimensions (an object that
moves on its own) from drowning the robot's. ``surprise_raw`` stays the plain L1 error, and a
fixed scale (e.g. the median L1 error on validation data) can replace the running statistics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
import time
from typing import Deque, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .checkpoint import LoadedCheckpoint, load_checkpoint
from .config import ModelConfig

__all__ = ['SurpriseNormalizer', 'StepResult', 'WorldModelRuntime', 'resolve_device',
           'DTYPES']

DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """Turn a device parameter into a usable ``torch.device``.

    Args:
        name: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'`` (CUDA when available).

    Raises:
        ValueError: Unknown name, or CUDA requested but not available.
    """
    name = name.strip().lower()
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f'unknown device {name!r}: {exc}') from None
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'unsupported device {name!r} (use cpu, cuda, cuda:N or auto)')
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {name!r} requested but CUDA is not available '
                             f'(torch {torch.__version__})')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f'device {name!r} requested but only {torch.cuda.device_count()} '
                             'CUDA device(s) exist')
    return device


class SurpriseNormalizer:
    """Running robust normalisation of per-dimension prediction errors.

    ``update(err)`` takes the absolute error per latent dimension ``|z_pred - z_obs|`` [Z] and
    returns ``mean_d(err_d / s_d) / c``, where ``s_d`` is the median error of dimension ``d``
    over the last ``window`` frames and ``c`` the median of that same score over the window,
    so a typical frame scores 1.0. Dividing per dimension first matters: some latent
    dimensions are always hard to predict (an object moving on its own, sensor noise) and
    would otherwise drown the dimensions that track the robot, which are normally predicted
    well and jump when something unexpected happens to it. ``s_d`` is floored at 1 % of the
    median ``s_d``, so no dimension weighs more than a hundred typical ones.

    Each frame is scored against the statistics *before* it joins the window, so an anomaly
    never dampens itself. The statistics are refreshed every ``refresh`` frames (cheap).

    Args:
        window: Number of recent frames the statistics cover.
        min_samples: Frames needed before values are reported (calibration).
        fixed_scale: If > 0, no running statistics: ``mean_d(err_d) / fixed_scale``, i.e. the
            plain L1 error in units of e.g. the median validation error.
        refresh: Frames between statistics updates.
    """

    def __init__(self, window: int = 300, min_samples: int = 30, fixed_scale: float = 0.0,
                 refresh: int = 10) -> None:
        if window < 1 or min_samples < 1 or refresh < 1:
            raise ValueError('window, min_samples and refresh must be >= 1')
        if fixed_scale < 0:
            raise ValueError('fixed_scale must be >= 0')
        self.min_samples = min(int(min_samples), int(window))
        self.fixed_scale = float(fixed_scale)
        self.refresh = int(refresh)
        self._errors: Deque[np.ndarray] = deque(maxlen=int(window))
        self._dim_scale: Optional[np.ndarray] = None
        self._score_scale = float('nan')
        self._since_refresh = 0

    @property
    def calibrated(self) -> bool:
        """True once normalised values are reported."""
        return self.fixed_scale > 0 or len(self._errors) >= self.min_samples

    @property
    def scale(self) -> float:
        """Current overall divisor ``c`` (``fixed_scale`` if set; NaN while calibrating)."""
        if self.fixed_scale > 0:
            return self.fixed_scale
        return self._score_scale if self._dim_scale is not None else float('nan')

    def _refresh(self) -> None:
        errors = np.stack(self._errors)                               # [W, Z]
        dim = np.median(errors, axis=0)
        floor = max(0.01 * float(np.median(dim)), 1e-9)
        self._dim_scale = np.maximum(dim, floor)
        self._score_scale = max(float(np.median((errors / self._dim_scale).mean(axis=1))),
                                1e-9)
        self._since_refresh = 0

    def update(self, err: np.ndarray) -> Optional[float]:
        """Score one frame's error vector [Z], then add it to the window.

        Returns:
            The normalised surprise, or None while calibrating.
        """
        err = np.abs(np.asarray(err, dtype=np.float64).reshape(-1))
        if self.fixed_scale > 0:
            out: Optional[float] = float(err.mean()) / self.fixed_scale
        elif len(self._errors) >= self.min_samples:
            if self._dim_scale is None or self._since_refresh >= self.refresh \
                    or self._dim_scale.shape != err.shape:
                self._refresh()
            out = float((err / self._dim_scale).mean()) / self._score_scale
        else:
            out = None
        self._errors.append(err)
        self._since_refresh += 1
        return out

    def reconfigure(self, window: int, min_samples: int, fixed_scale: float) -> None:
        """Change the settings, keeping the most recent ``window`` frames.

        Raises:
            ValueError: Invalid settings (nothing is changed then).
        """
        if window < 1 or min_samples < 1 or fixed_scale < 0:
            raise ValueError('need window >= 1, min_samples >= 1 and fixed_scale >= 0')
        self._errors = deque(self._errors, maxlen=int(window))
        self.min_samples = min(int(min_samples), int(window))
        self.fixed_scale = float(fixed_scale)
        self._dim_scale = None

    def reset(self) -> None:
        """Forget the window (calibration starts again)."""
        self._errors.clear()
        self._dim_scale = None
        self._score_scale = float('nan')


@dataclass
class StepResult:
    """What :meth:`WorldModelRuntime.step` returns (numpy, on the CPU).

    Attributes:
        z: [Z] online latent of this frame.
        z_obs: [Z] target-encoder latent of this frame.
        positions: [H, J] predicted joint positions for steps 1..H.
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
    positions: np.ndarray
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

    Args:
        checkpoint: A checkpoint from :func:`load_checkpoint`; its model is moved to
            ``device``/``dtype`` and put in eval mode.
        device: Where to run (``torch.device`` or a name accepted by :func:`resolve_device`).
        dtype: Compute dtype of the weights and inputs.
        normalizer: Surprise normaliser (default: window 300, 30 samples to calibrate).
    """

    def __init__(self, checkpoint: LoadedCheckpoint, device: torch.device | str = 'cpu',
                 dtype: torch.dtype = torch.float32,
                 normalizer: Optional[SurpriseNormalizer] = None) -> None:
        self.checkpoint = checkpoint
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.dtype = dtype
        self.model = checkpoint.model.to(device=self.device, dtype=dtype).eval()
        self.normalizer = normalizer or SurpriseNormalizer()
        # (stamp or frame index, [H, Z] rollout predicted from that frame)
        self._history: Deque[Tuple[float, Tensor]] = deque(maxlen=512)
        self._frame_index = 0
        self._goal: Optional[Tensor] = None
        self._last_obs: Optional[Tensor] = None

    @classmethod
    def from_path(cls, path: str | Path, device: str = 'cpu', dtype: str = 'float32',
                  normalizer: Optional[SurpriseNormalizer] = None) -> 'WorldModelRuntime':
        """Load a checkpoint file and wrap it (raises ``CheckpointError``/``ValueError``)."""
        if dtype not in DTYPES:
            raise ValueError(f'unknown dtype {dtype!r} (use one of {sorted(DTYPES)})')
        torch_device = resolve_device(device)
        checkpoint = load_checkpoint(path, device=torch_device, dtype=DTYPES[dtype])
        return cls(checkpoint, torch_device, DTYPES[dtype], normalizer)

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
        return self.model.pose_probe is not None

    @property
    def latent_dim(self) -> int:
        """Z."""
        return self.config.latent_dim

    @property
    def parameter_count(self) -> int:
        """Trainable parameters (the EMA target encoder not counted)."""
        return int(self.model.parameter_counts()['total_trainable'])

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

    def make_state(self, position: np.ndarray, velocity: Optional[np.ndarray]) -> np.ndarray:
        """Assemble s [S] from positions [J] and velocities [J] as the model expects."""
        position = np.asarray(position, dtype=np.float32).reshape(-1)
        if not self.config.use_joint_velocity:
            return position
        if velocity is None:
            velocity = np.zeros_like(position)
        return np.concatenate([position, np.asarray(velocity, np.float32).reshape(-1)])

    def _vector(self, values: np.ndarray, size: int, what: str) -> Tensor:
        arr = np.asarray(values, dtype=np.float32).reshape(-1)
        if arr.shape != (size,):
            raise ValueError(f'{what} has {arr.size} values, the model expects {size}')
        if not np.isfinite(arr).all():
            raise ValueError(f'{what} contains NaN or inf')
        return torch.from_numpy(arr).to(device=self.device, dtype=self.dtype).unsqueeze(0)

    def step(self, rgb: np.ndarray, s: np.ndarray, a: np.ndarray, horizon: int = 10,
             stamp: Optional[float] = None,
             step_period: Optional[float] = None) -> StepResult:
        """Process one frame.

        Args:
            rgb: uint8 [S, S, 3] image at model size.
            s: [state_dim] proprio (see :meth:`make_state`); ignored if state_dim is 0.
            a: [A] action applied from now on, held for the whole horizon.
            horizon: H >= 1 rollout steps.
            stamp: Frame time (s); with ``step_period`` selects the matching earlier
                prediction for the surprise (see the module docstring).
            step_period: Seconds per model step.

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
        with torch.inference_mode():
            z = self.model.encode(o, s_t)                          # [1, Z]
            z_obs = self.model.encode(o, s_t, target=True)         # [1, Z]
            key = self._key(stamp, step_period)
            err, k = self._prediction_error(z_obs[0], key, step_period)
            z_roll = self.model.rollout(z, a_t.unsqueeze(1).expand(1, horizon, -1))  # [1,H,Z]
            state = (self.model.probe_state(z_roll[0]) if self.model.state_probe is not None
                     else None)                                    # [H, S]
            poses = (self.model.probe_pose(torch.cat([z, z_roll[0]], dim=0))
                     if self.has_pose else None)                   # [H + 1, 3]
            goal = (float((z_obs[0] - self._goal).abs().mean()) if self._goal is not None
                    else None)
        self._remember(key, z_roll[0], step_period)
        self._last_obs = z_obs[0]
        raw = float(err.mean()) if err is not None else None
        surprise = self.normalizer.update(err) if err is not None else None
        n_joints = len(cfg.joint_names)
        if state is not None:
            state_np = state.float().cpu().numpy()
            positions = state_np[:, :n_joints]
            velocities = state_np[:, n_joints:2 * n_joints] if cfg.use_joint_velocity else None
        else:
            positions, velocities = np.zeros((horizon, 0), np.float32), None
        return StepResult(
            z=z[0].float().cpu().numpy(), z_obs=z_obs[0].float().cpu().numpy(),
            positions=positions, velocities=velocities,
            poses=poses.float().cpu().numpy() if poses is not None else None,
            surprise_raw=raw, surprise=surprise, surprise_steps=k, goal_distance=goal,
            compute_ms=(time.perf_counter() - t0) * 1e3)

    def _key(self, stamp: Optional[float], step_period: Optional[float]) -> float:
        """History key of this frame: its stamp when stamps are used, else a frame index."""
        self._frame_index += 1
        if stamp is not None and step_period:
            return float(stamp)
        return float(self._frame_index)

    def _prediction_error(self, z_obs: Tensor, key: float,
                          step_period: Optional[float]) -> Tuple[Optional[np.ndarray], int]:
        """``|prediction - z_obs|`` [Z] for the best-matching earlier prediction, and its k."""
        if not self._history:
            return None, 0
        period = step_period if step_period else 1.0
        best: Optional[Tuple[float, int, Tensor]] = None
        for past_key, rollout in reversed(self._history):
            if past_key >= key:
                continue
            k = int(round((key - past_key) / period))
            if k < 1 or k > rollout.shape[0]:
                continue
            # Timing errors within 0.1 % of a step tie (stamps are floats); then the most
            # recent frame (smallest k) wins, its prediction being the most informed.
            err = round(abs(past_key + k * period - key) / period, 3)
            if err <= 0.5 and (best is None or (err, k) < (best[0], best[1])):
                best = (err, k, rollout[k - 1])
        if best is None:
            return None, 0
        return (best[2] - z_obs).abs().float().cpu().numpy(), best[1]

    def _remember(self, key: float, rollout: Tensor, step_period: Optional[float]) -> None:
        self._history.append((key, rollout))
        period = step_period if step_period else 1.0
        # Entries whose whole rollout lies in the past can never match again.
        while self._history and (self._history[0][0] + self._history[0][1].shape[0] * period
                                 + 0.5 * period < key):
            self._history.popleft()

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
        self._frame_index = 0
        self._last_obs = None
        self.normalizer.reset()
