"""Joint-state and odometry histories paired with image stamps: one implementation for
``world_model_node`` and ``planner_node``.

:class:`StateSync` applies the rules of :mod:`.input_rules` to each state message before it
enters a history (stamped ahead of the node clock, values beyond ``max_abs_input``, a clock
reset, duplicates and messages out of order) and samples the histories at an image stamp.

One pose format: odometry comes in and goes out as (x, y, yaw) and is kept as (x, y, cos yaw,
sin yaw) (:class:`PoseBuffer`), so that interpolating between two samples never crosses the
yaw wrap (blending yaw 3.1 and -3.1 would point backwards); joint states and odometry follow
the same interpolation rule (``interpolate``: a linear blend of the two samples around the
stamp, else the nearest one) and the same ``max_skew``.

Counter names: rejections are ``<what>_<problem>`` with ``what`` 'joint_state' or 'odom'
(``joint_state_out_of_order``, ``odom_stamp_in_future``, ``odom_nonfinite``...), a cleared
history is ``time_reset_<what>``, and sampling raises :class:`~.streams.SyncError` with
reason ``skew`` / ``no_joint_state`` for joints and ``odom_skew`` / ``odom_no_joint_state``
for odometry. Nothing here is thread-safe: a node calling from several threads holds one lock
around every call.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from .input_rules import clock_was_reset, state_message_problem
from ..model.state_layout import POSE_STATE_DIM
from .streams import Counters, JointSample, JointStateBuffer, SyncError

__all__ = ['PoseSample', 'PoseBuffer', 'StateSync', 'Rejection']


class Rejection(NamedTuple):
    """A refused message: the counter it is counted under and why."""

    reason: str
    message: str


class PoseSample(NamedTuple):
    """A planar pose sampled at a requested stamp.

    Attributes:
        pose: [3] float64 (x, y, yaw) in metres and radians, yaw in (-pi, pi].
        skew: Seconds between the requested stamp and the nearest real sample used (>= 0).
    """

    pose: np.ndarray
    skew: float


class PoseBuffer:
    """Time-ordered planar poses (odometry), kept as (x, y, cos yaw, sin yaw).

    Same ordering, history and skew rules as :class:`~.streams.JointStateBuffer`, which holds
    the samples.

    Args:
        max_skew: Largest allowed distance (s) between a stamp and the pose(s) used for it.
        interpolate: Blend the two poses around a stamp (otherwise the nearest).
        history: Seconds of history kept.
    """

    def __init__(self, max_skew: float = 0.05, interpolate: bool = True,
                 history: float = 2.0) -> None:
        self._buffer = JointStateBuffer(POSE_STATE_DIM, max_skew, interpolate, history,
                                        label='odometry')

    def __len__(self) -> int:
        return len(self._buffer)

    @property
    def latest_stamp(self) -> Optional[float]:
        """Stamp (s) of the newest pose, or None when empty."""
        return self._buffer.latest_stamp

    @property
    def interpolate(self) -> bool:
        """Whether :meth:`sample` blends the two poses around a stamp."""
        return self._buffer.interpolate

    @interpolate.setter
    def interpolate(self, value: bool) -> None:
        self._buffer.interpolate = bool(value)

    def clear(self) -> None:
        """Forget every pose."""
        self._buffer.clear()

    def push(self, stamp: float, pose: np.ndarray) -> str:
        """Add the pose [3] (x, y, yaw) measured at ``stamp``; ``'ok'``, ``'duplicate'`` or
        ``'out_of_order'`` (see :meth:`~.streams.JointStateBuffer.push`).

        Raises:
            ValueError: A value is not finite.
        """
        x, y, yaw = np.asarray(pose, dtype=np.float64).reshape(3)
        return self._buffer.push(stamp, np.array([x, y, np.cos(yaw), np.sin(yaw)]),
                                 np.zeros(POSE_STATE_DIM))

    def sample(self, stamp: float, max_skew: Optional[float] = None) -> PoseSample:
        """The pose (x, y, yaw) at ``stamp``; a blend renormalises through ``atan2``.

        Raises:
            SyncError: ``odom_no_joint_state`` (no pose yet) or ``odom_skew`` (the nearest
                pose is more than ``max_skew`` away).
        """
        try:
            sample = self._buffer.sample(stamp, max_skew)
        except SyncError as exc:
            raise SyncError(f'odom_{exc.reason}', f'odometry: {exc}', exc.skew) from None
        x, y, c, s = sample.position.astype(np.float64)
        return PoseSample(np.array([x, y, np.arctan2(s, c)]), sample.skew)


class StateSync:
    """The joint-state and (optional) odometry histories of one node, with the intake rules.

    Args:
        num_joints: J, the model's joints (0: none).
        with_pose: Keep an odometry history (models with the pose in their state).
        counters: Where ``time_reset_*`` events are counted.
        max_skew: Default largest stamp distance (s) when sampling.
        interpolate: Blend the two samples around a stamp (both histories).
        history: Seconds of history kept.
    """

    def __init__(self, num_joints: int, with_pose: bool, counters: Counters,
                 max_skew: float = 0.05, interpolate: bool = True,
                 history: float = 2.0) -> None:
        self.joints = JointStateBuffer(num_joints, max_skew, interpolate, history)
        self.odom = PoseBuffer(max_skew, interpolate, history) if with_pose else None
        self._counters = counters

    def set_interpolate(self, value: bool) -> None:
        """Blend samples between two stamps (True) or take the nearest: joints and odometry
        alike."""
        self.joints.interpolate = bool(value)
        if self.odom is not None:
            self.odom.interpolate = bool(value)

    def offer_joints(self, stamp: float, position: np.ndarray, velocity: Optional[np.ndarray],
                     now: float, limits: Any) -> Optional[Rejection]:
        """Add one joint state [J] (velocity None: estimated) unless a rule refuses it.

        Args:
            stamp: Its stamp (s).
            position: [J] model-ordered positions.
            velocity: [J] velocities, or None.
            now: The node clock (s).
            limits: Has ``max_future_stamp``, ``max_abs_input`` and ``stale_timeout``
                (a node's settings).

        Returns:
            None when stored, else the rejection to count.
        """
        problem = state_message_problem('joint_state', stamp, now, limits.max_future_stamp,
                                        limits.max_abs_input,
                                        ((position, 'joint positions'),
                                         (velocity, 'joint velocities')))
        if problem:
            return Rejection(*problem)
        return self._push(self.joints, 'joint_state', stamp, now, limits.stale_timeout,
                          position, velocity)

    def offer_pose(self, stamp: float, pose: np.ndarray, now: float,
                   limits: Any) -> Optional[Rejection]:
        """Add one odometry pose [3] (x, y, yaw) unless a rule refuses it (see
        :meth:`offer_joints`); a node without an odometry history ignores it (None)."""
        if self.odom is None:
            return None
        pose = np.asarray(pose, dtype=np.float64).reshape(3)
        if not np.isfinite(pose).all():
            return Rejection('odom_nonfinite', f'odometry pose {pose.tolist()} is not finite')
        problem = state_message_problem('odom', stamp, now, limits.max_future_stamp,
                                        limits.max_abs_input, ((pose[:2], 'odometry x, y'),))
        if problem:
            return Rejection(*problem)
        return self._push(self.odom, 'odom', stamp, now, limits.stale_timeout, pose)

    def _push(self, buffer: Any, what: str, stamp: float, now: float, stale_timeout: float,
              *values: Optional[np.ndarray]) -> Optional[Rejection]:
        newest = buffer.latest_stamp
        if clock_was_reset(newest, stamp, now, stale_timeout):
            buffer.clear()
            self._counters.add(f'time_reset_{what}')
        result = buffer.push(stamp, *values)
        if result == 'ok':
            return None
        return Rejection(f'{what}_{result}', f'{what} stamp {stamp:.6f} is '
                         f'{result.replace("_", " ")} (newest {newest:.6f})')

    def joints_at(self, stamp: float, max_skew: Optional[float] = None) -> JointSample:
        """The joint state at ``stamp`` (raises :class:`~.streams.SyncError`)."""
        return self.joints.sample(stamp, max_skew)

    def pose_at(self, stamp: float, max_skew: Optional[float] = None) -> Optional[np.ndarray]:
        """(x, y, yaw) [3] at ``stamp``, or None without an odometry history (raises
        :class:`~.streams.SyncError`)."""
        return self.odom.sample(stamp, max_skew).pose if self.odom is not None else None

    def newest_q(self) -> Optional[np.ndarray]:
        """Positions [J] of the newest joint state, or None before the first."""
        newest = self.joints.latest_stamp
        return self.joints.sample(newest).position if newest is not None else None

    def newest_stamps(self) -> Tuple[Tuple[str, float], ...]:
        """``(('joint_states', stamp), ('odom', stamp))`` of the newest stored samples (only
        those present)."""
        found = (('joint_states', self.joints.latest_stamp),
                 ('odom', self.odom.latest_stamp if self.odom is not None else None))
        return tuple((k, v) for k, v in found if v is not None)
