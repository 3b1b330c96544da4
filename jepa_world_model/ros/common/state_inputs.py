"""``JointState`` and ``Odometry`` input of both nodes, into one history.

:class:`StateInputs` reads the model's joints from each ``JointState`` (any order, extra
joints ignored; one reason per kind of malformed message, :func:`joint_state_arrays`) and the
planar pose (x, y, yaw) from each ``nav_msgs/Odometry``, and offers them to a
:class:`~jepa_world_model.core.runtime.state_sync.StateSync`, which refuses what the input rules
refuse (stamped ahead of the node clock, beyond ``max_abs_input``, duplicate, out of order)
and clears a history on a clock reset. Every refusal goes to the node's reject log.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from sensor_msgs.msg import JointState

from ...core.model.state_layout import planar_pose
from ...core.runtime.state_sync import Rejection, StateSync
from ...core.runtime.streams import Counters, RateMeter
from .joint_state_conversion import (joint_state_to_arrays, JointStateError, MissingJointsError,
                                     stamp_to_seconds)
from .rejects import InputError

__all__ = ['joint_state_arrays', 'read_model_joints', 'odometry_pose', 'StateInputs']

Reject = Callable[[str, str], None]


def joint_state_arrays(msg: JointState, joint_names: Sequence[str]
                       ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Model-ordered positions [J] and velocities [J] (None if the message has none).

    Raises:
        InputError: ``joint_state_unrelated`` (none of the model joints: e.g. a gripper
            published separately), ``joint_state_missing_joints`` (some missing),
            ``joint_state_malformed`` (name/position/velocity lengths differ, duplicate
            names) or ``joint_state_nonfinite`` (NaN/inf in a model joint).
    """
    try:
        position, velocity = joint_state_to_arrays(msg, joint_names)
    except MissingJointsError as exc:
        present = set(msg.name) & set(joint_names)
        reason = 'joint_state_missing_joints' if present else 'joint_state_unrelated'
        raise InputError(reason, f'joint state lacks model joints {exc.missing} '
                                 f'(message has {list(msg.name)})') from None
    except JointStateError as exc:
        names = list(msg.name)
        well_formed = (len(msg.position) == len(names) and len(set(names)) == len(names)
                       and len(msg.velocity) in (0, len(names)))
        reason = 'joint_state_nonfinite' if well_formed else 'joint_state_malformed'
        raise InputError(reason, str(exc)) from None
    return position, (velocity if len(msg.velocity) else None)


def read_model_joints(msg: JointState, joint_names: Sequence[str], reject: Reject
                      ) -> Optional[Tuple[np.ndarray, Optional[np.ndarray]]]:
    """:func:`joint_state_arrays`, or None after reporting a bad message to ``reject``.

    A message with none of the model's joints (e.g. a gripper published on its own) is
    skipped without a rejection: on a shared ``joint_states`` topic that is normal.
    """
    try:
        return joint_state_arrays(msg, joint_names)
    except InputError as exc:
        if exc.reason != 'joint_state_unrelated':
            reject(exc.reason, str(exc))
        return None


def odometry_pose(msg: Any) -> np.ndarray:
    """(x, y, yaw) [3] float64 of a ``nav_msgs/Odometry`` (yaw about z; may be non-finite)."""
    return np.asarray(planar_pose(msg.pose.pose.position, msg.pose.pose.orientation),
                      dtype=np.float64)


class StateInputs:
    """Joint-state and odometry subscriptions of a node, into one :class:`StateSync`.

    Args:
        joint_names: The model's joints, in model order (none: no joint state is needed).
        with_pose: Keep odometry (models with the pose in their state).
        settings: Returns the node's current settings (``max_future_stamp``,
            ``max_abs_input``, ``stale_timeout``, ``max_skew``): read on each message, so
            parameter changes apply at once.
        now: Node clock in seconds (ROS time: follows /clock with use_sim_time).
        counters: The node's counters (``time_reset_*``).
        reject: Counts (and logs, throttled) a rejected message: ``reject(reason, message)``.
        interpolate: Blend the two samples around an image stamp (else the nearest).
        history: Seconds of history kept.
        lock: Guards the histories, the rate and the arrival times (the node's lock when
            another thread samples them); a new lock by default.
    """

    def __init__(self, joint_names: Sequence[str], with_pose: bool,
                 settings: Callable[[], Any], now: Callable[[], float], counters: Counters,
                 reject: Reject, interpolate: bool = True, history: float = 2.0,
                 lock: Optional[threading.Lock] = None) -> None:
        self.joint_names = tuple(joint_names)
        self._settings, self._now, self._reject = settings, now, reject
        self.lock = lock if lock is not None else threading.Lock()
        self.sync = StateSync(len(self.joint_names), with_pose, counters,
                              settings().max_skew, interpolate, history)
        self.joint_rate = RateMeter()
        self.arrivals: Dict[str, float] = {}   # monotonic arrival of the newest message

    def on_joint_state(self, msg: JointState) -> None:
        """Validate a JointState and add the model's joints to the history."""
        arrival = time.monotonic()
        stamp = stamp_to_seconds(msg.header.stamp)
        with self.lock:
            self.arrivals['joint_states'] = arrival
        joints = read_model_joints(msg, self.joint_names, self._reject)
        if joints is None:
            return
        with self.lock:
            rejection = self.sync.offer_joints(stamp, *joints, self._now(), self._settings())
            if rejection is None:
                self.joint_rate.tick(arrival)
        self._report(rejection)

    def on_odometry(self, msg: Any) -> None:
        """Validate a nav_msgs/Odometry and add its planar pose to the history."""
        if self.sync.odom is None:
            return
        arrival = time.monotonic()
        stamp, pose = stamp_to_seconds(msg.header.stamp), odometry_pose(msg)
        with self.lock:
            self.arrivals['odom'] = arrival
            rejection = self.sync.offer_pose(stamp, pose, self._now(), self._settings())
        self._report(rejection)

    def _report(self, rejection: Optional[Rejection]) -> None:
        if rejection is not None:   # outside the lock: logging may take a while
            self._reject(*rejection)
