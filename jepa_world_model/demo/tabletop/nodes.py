"""The tabletop demo's driver and recorder nodes (ROS: import after
:func:`~jepa_world_model.ros_env.ensure_ros_libraries`).

The driver runs the recording policy (``sim/tabletop_policies.py``, blind grasps): it needs
to know where the block and the cube are to aim at them, and reads that from the simulator's
``/ground_truth/<name>`` poses, as a scripted test harness does. The model never sees them.
"""

from __future__ import annotations

from functools import partial
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from ...experiments.tabletop_data import OBJECTS
from ...ros.common.joint_state_conversion import (
    joint_state_to_arrays, JointStateError, stamp_to_seconds)
from ...ros.sim_outputs import GROUND_TRUTH_PREFIX, GROUND_TRUTH_QOS
from ...sim.base import SimObservation
from ..driver import PolicyDriverNode
from ..recorder import RecorderNode

__all__ = ['TabletopDriverNode', 'TabletopRecorderNode']


def _pose_xyz(msg: PoseStamped) -> np.ndarray:
    p = msg.pose.position
    return np.array([p.x, p.y, p.z], float)


class TabletopDriverNode(PolicyDriverNode):
    """One velocity command per joint state: ``policy(observation)`` with the latest
    ground-truth poses of every object in ``objects`` (nothing until all were heard)."""

    def __init__(self, policy: Callable[[SimObservation], np.ndarray],
                 joint_names: List[str], namespace: str, **kwargs: Any) -> None:
        super().__init__(namespace, JointState, 'joint_states', Float64MultiArray, 'commands',
                         **kwargs)
        self.policy, self.joint_names = policy, list(joint_names)
        self.objects: Dict[str, np.ndarray] = {}
        for name in OBJECTS:
            self.create_subscription(PoseStamped, f'{GROUND_TRUTH_PREFIX}/{name}',
                                     partial(self._on_pose, name), GROUND_TRUTH_QOS)

    def _on_pose(self, name: str, msg: PoseStamped) -> None:
        self.objects[name] = _pose_xyz(msg)

    def command_for(self, state: JointState, collision: bool
                    ) -> Optional[Float64MultiArray]:
        """None while an object pose is missing, or for a joint state without every joint
        (or malformed: ``joint_state_to_arrays`` says why)."""
        if len(self.objects) < len(OBJECTS):
            return None
        try:
            q, dq = joint_state_to_arrays(state, self.joint_names)
        except JointStateError:
            return None
        obs = SimObservation(time=stamp_to_seconds(state.header.stamp), image=None,
                             q=q.astype(float), dq=dq.astype(float), collision=collision,
                             objects=dict(self.objects))
        return Float64MultiArray(data=[float(v) for v in self.policy(obs)])

    def zero_command(self) -> Float64MultiArray:
        """Zero velocity for every joint (the gripper's too)."""
        return Float64MultiArray(data=[0.0] * len(self.joint_names))


class TabletopRecorderNode(RecorderNode):
    """The demo recorder plus every object's ground-truth position, by stamp."""

    def __init__(self, joint_names: List[str], namespace: str, **kwargs: Any) -> None:
        super().__init__(joint_names, namespace, **kwargs)
        self._pose_lock = threading.Lock()
        self._poses: Dict[str, List[Tuple[float, np.ndarray]]] = {n: [] for n in OBJECTS}
        for name in OBJECTS:
            self.create_subscription(PoseStamped, f'{GROUND_TRUTH_PREFIX}/{name}',
                                     partial(self._on_pose, name), GROUND_TRUTH_QOS)

    def _on_pose(self, name: str, msg: PoseStamped) -> None:
        with self._pose_lock:
            self._poses[name].append((stamp_to_seconds(msg.header.stamp), _pose_xyz(msg)))

    def poses(self) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """Object name -> (stamps [P] sorted, xyz [P, 3])."""
        with self._pose_lock:
            rows = {name: sorted(v, key=lambda r: r[0]) for name, v in self._poses.items()}
        return {name: (np.array([r[0] for r in v]), np.array([r[1] for r in v]).reshape(-1, 3))
                for name, v in rows.items()}
