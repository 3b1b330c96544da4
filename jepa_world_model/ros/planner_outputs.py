"""What ``planner_node`` publishes: limited commands as messages, and its diagnostics.

:class:`PlannerOutputs` owns the publishers of a configured node. :func:`limit_plan` holds a
planned action sequence to the command limits (the first command over one plan period, the
rest of a recommended trajectory step by step), :func:`command_msg` turns commands into the
configured output message, and :func:`diagnostic_array` builds the node's ``/diagnostics``
status; :func:`assess` holds its level rules:

* ERROR: the last configure failed;
* WARN: a safety stop is in effect (``STOPS``), or inputs were rejected since the last
  message;
* OK: planning, idle (no goal, disabled) or not active.

The functions are pure; the node keeps the state (the previous command, the status).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
import numpy as np
from nav_msgs.msg import Path
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32, Float64MultiArray, Header, String
from trajectory_msgs.msg import JointTrajectory

from ..core.command_limits import (clip_positions, CommandLimits, limit_command,
                                   limit_sequence, LimitedCommand)
from .action_sources import parse_twist_fields
from .node_io import path_msg, trajectory_msg
from .planner_step import PlanOutcome

__all__ = ['STOPS', 'NOT_REJECTIONS', 'PlannerOutputs', 'output_topics', 'limit_plan',
           'command_msg', 'count_rejections', 'assess', 'diagnostic_array']

#: Statuses that are safety stops (each counted as ``stop_<status>``; diagnostics WARN).
STOPS = ('stale_inputs', 'overrun', 'risk_too_high', 'uncertainty_too_high', 'error')
#: Counters that are not rejected inputs (they do not turn diagnostics to WARN).
NOT_REJECTIONS = ('images_received', 'plans', 'goals', 'no_new_image')
#: Prefixes of counters that count what the node did, not inputs it rejected.
_NOT_REJECTION_PREFIXES = ('limit_', 'stop_', 'time_reset_')
_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                  reliability=ReliabilityPolicy.RELIABLE)


def output_topics(use_twist_stamped: bool) -> Dict[str, Tuple[type, str]]:
    """``{output: (message type, topic)}`` of the recommended commands."""
    return {'cmd_vel': (TwistStamped if use_twist_stamped else Twist, '~/recommended_cmd_vel'),
            'joint_trajectory': (JointTrajectory, '~/recommended_joint_trajectory'),
            'float64_multi_array': (Float64MultiArray, '~/recommended_commands')}


class PlannerOutputs:
    """The lifecycle publishers of a configured ``planner_node`` and what goes out on them.

    Args:
        node: The node; it creates (and :meth:`destroy` destroys) the publishers.
        s: Settings at configure: ``output`` and ``use_twist_stamped`` pick the command type.
        with_path: The model predicts base poses: publish ``~/planned_path``.
        counters: Event counters (``limit_<kind>`` per limit a command was held to).
    """

    def __init__(self, node: Any, s: Any, with_path: bool, counters: Any) -> None:
        pub = node.create_lifecycle_publisher
        self._node, self._counters = node, counters
        self._pubs = {'cmd': pub(*output_topics(s.use_twist_stamped)[s.output], _QOS),
                      'cost': pub(Float32, '~/plan_cost', _QOS),
                      'status': pub(String, '~/status', _QOS)}
        if with_path:
            self._pubs['path'] = pub(Path, '~/planned_path', _QOS)

    @property
    def with_path(self) -> bool:
        """Whether ``~/planned_path`` is published."""
        return 'path' in self._pubs

    def destroy(self) -> None:
        """Destroy the publishers."""
        for pub in self._pubs.values():
            self._node.destroy_lifecycle_publisher(pub)
        self._pubs = {}

    def status(self, status: str) -> None:
        """Publish ``~/status``."""
        self._pubs['status'].publish(String(data=status))

    def plan(self, s: Any, joints: Sequence[str], limits: CommandLimits, period: float,
             prev: np.ndarray, header: Header, q_act: Optional[np.ndarray],
             plan: PlanOutcome) -> np.ndarray:
        """Publish a plan: its first command held to the limits (trajectories: the whole
        plan), its path and its cost. Returns the command sent (the next ``prev``).

        Args:
            s: The planner settings.
            joints: The action joints.
            limits: The command limits.
            period: Seconds between plans.
            prev: [A] the previous command.
            header: Stamp and frame of the image the plan started from.
            q_act: [A] current positions of the action joints, or None.
            plan: The plan.
        """
        first, velocities = limit_plan(plan.actions, prev, period, limits, q_act,
                                       s.output == 'joint_trajectory', s.model_step_period)
        for kind in first.kinds:
            self._counters.add(f'limit_{kind}')
        self._pubs['cmd'].publish(command_msg(s, joints, limits, header, first.a, velocities,
                                              q_act))
        if plan.poses is not None:
            self._pubs['path'].publish(path_msg(header, plan.poses, s.model_step_period,
                                                s.path_frame_id))
        self._pubs['cost'].publish(Float32(data=plan.cost))
        return first.a

    def stop(self, s: Any, joints: Sequence[str], limits: CommandLimits, header: Header,
             q_act: Optional[np.ndarray], action_dim: int) -> np.ndarray:
        """Publish one zero command (a trajectory holds still at ``q_act``); returns it.

        A stop is immediate: it is the one command not held to the acceleration limit.
        """
        zero = np.zeros(action_dim)
        self._pubs['cmd'].publish(command_msg(s, joints, limits, header, zero, zero[None],
                                              q_act))
        return zero


def limit_plan(a_plan: np.ndarray, prev: np.ndarray, period: float, limits: CommandLimits,
               q_act: Optional[np.ndarray], trajectory: bool, step: float
               ) -> Tuple[LimitedCommand, np.ndarray]:
    """The first command, limited over one plan period, and the velocities to publish.

    Args:
        a_plan: [H, A] planned actions.
        prev: [A] the previous command (the acceleration reference).
        period: Seconds between plans: the time the first command has to change.
        limits: The command limits.
        q_act: [A] positions of the action joints (position limits), or None.
        trajectory: The output is a trajectory: the rest of the plan is limited too.
        step: Seconds per model step (the spacing of the trajectory points).

    Returns:
        The limited first command and the [1, A] or [H, A] velocities.
    """
    first = limit_command(a_plan[0], prev, period, limits,
                          q_act if limits.has_positions else None)
    velocities = first.a[None]
    if trajectory and len(a_plan) > 1:
        # The rest of the recommended trajectory is held to the same limits, step by step.
        q1 = q_act + first.a * step if limits.has_positions else None
        velocities = np.vstack([first.a, limit_sequence(a_plan[1:], first.a, step, limits,
                                                        q1).a])
    return first, velocities


def command_msg(s: Any, joints: Sequence[str], limits: CommandLimits, header: Header,
                a: np.ndarray, velocities: np.ndarray, q_act: Optional[np.ndarray]) -> Any:
    """The ``s.output`` message of command ``a`` [A] (trajectories: ``velocities`` [H, A]).

    Args:
        s: The planner settings (output, use_twist_stamped, action_fields, model_step_period).
        joints: The action joints (trajectory joint names).
        limits: The command limits (trajectory positions are clipped to them).
        header: Stamp and frame of the image the command was planned from.
        a: [A] the command.
        velocities: [H, A] velocities of the trajectory points.
        q_act: [A] current positions of the action joints, or None (velocities only).
    """
    if s.output == 'cmd_vel':
        twist = Twist()
        for (part, axis), value in zip(parse_twist_fields(list(s.action_fields)), a):
            setattr(getattr(twist, part), axis, float(value))
        return TwistStamped(header=header, twist=twist) if s.use_twist_stamped else twist
    if s.output == 'float64_multi_array':
        return Float64MultiArray(data=[float(v) for v in a])
    step, positions = s.model_step_period, None
    if q_act is not None:
        # Guard: the first command was limited over one plan period, its point lies one
        # model step ahead; a joint that would pass its limit stops on it.
        positions, clipped = clip_positions(q_act + np.cumsum(velocities * step, axis=0),
                                            limits)
        velocities = np.where(clipped, 0.0, velocities)
    return trajectory_msg(header, joints, positions, velocities, step)


def count_rejections(counts: Mapping[str, int]) -> int:
    """Inputs rejected so far: every counter that is not an event of the node's own."""
    return sum(v for k, v in counts.items() if k not in NOT_REJECTIONS
               and not k.startswith(_NOT_REJECTION_PREFIXES))


def assess(lifecycle_state: str, config_error: str, status: str, detail: str,
           new_rejections: int) -> Tuple[bytes, str]:
    """Level (``DiagnosticStatus.OK/WARN/ERROR``) and message of the planner's state."""
    active = lifecycle_state == 'active'
    if config_error and not active:
        return DiagnosticStatus.ERROR, f'configure failed: {config_error}'
    if not active:
        return DiagnosticStatus.OK, f'{lifecycle_state} (not planning)'
    if status in STOPS:
        return DiagnosticStatus.WARN, f'{status}: {detail}'
    if new_rejections:
        return DiagnosticStatus.WARN, f'{status}; {new_rejections} input(s) rejected recently'
    return DiagnosticStatus.OK, status


def diagnostic_array(name: str, hardware_id: str, level: bytes, message: str,
                     values: List[Tuple[str, Any]], stamp: Any) -> DiagnosticArray:
    """One ``DiagnosticArray`` with the planner's single status (floats to 4 digits)."""
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=f'{v:.4g}' if isinstance(v, float) else str(v))
                     for k, v in values]
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg
