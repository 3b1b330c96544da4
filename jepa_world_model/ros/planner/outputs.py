"""What ``planner_node`` publishes: limited commands as messages, and its diagnostics.

:class:`PlannerOutputs` owns the publishers of a configured node and publishes the
planning controller's commands (:class:`~...core.planning.commands.Command`, already held to
the command limits); :func:`command_msg` turns a command into the configured output message
(and says which command it carries: the controller's next acceleration reference is what
was published, not what was asked for), and :func:`diagnostic_array` builds the node's
``/diagnostics`` status; :func:`assess` holds its level rules:

* ERROR: the last configure failed;
* WARN: a safety stop is in effect (``STOPS``), or inputs were rejected since the last
  message;
* OK: planning, idle (no goal, disabled) or not active.

The functions are pure; the node keeps the status, the controller the previous command.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped, Vector3Stamped
import numpy as np
from nav_msgs.msg import Path
from std_msgs.msg import Float32, Float64MultiArray, Header, String
from trajectory_msgs.msg import JointTrajectory

from ...core.planning.command_limits import CommandLimits, integrate_positions
from ...core.planning.commands import Command
from ..world_model.action_sources import parse_twist_fields
from ..common.node_io import path_msg, trajectory_msg
from ..common.stamped_figures import plan_figures_msg
from ..common.topic_qos import output_qos, overridable

__all__ = ['STOPS', 'NOT_REJECTIONS', 'NOT_REJECTION_PREFIXES', 'PlannerOutputs', 'Outgoing',
           'output_topics', 'command_msg', 'assess', 'diagnostic_array']

#: Statuses that are safety stops (each counted as ``stop_<status>``; diagnostics WARN).
STOPS = ('stale_inputs', 'overrun', 'risk_too_high', 'uncertainty_too_high', 'error')
#: Counters that are not rejected inputs (they do not turn diagnostics to WARN).
NOT_REJECTIONS = ('images_received', 'dropped_frames', 'plans', 'goals', 'goals_repeated',
                  'goal_kind_changes', 'no_new_image', 'relocations')
#: Prefixes of counters that count what the node did, not inputs it rejected.
NOT_REJECTION_PREFIXES = ('limit_', 'stop_', 'time_reset_')


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
        def pub(msg_type: Any, topic: str) -> Any:
            # Reliable, depth 10; qos_overrides.<topic>.publisher.* change it.
            return node.create_lifecycle_publisher(msg_type, topic, output_qos(10),
                                                   qos_overriding_options=overridable())

        self._node, self._counters = node, counters
        self._pubs = {'cmd': pub(*output_topics(s.use_twist_stamped)[s.output]),
                      'cost': pub(Float32, '~/plan_cost'),
                      'figures': pub(Vector3Stamped, '~/plan_figures'),
                      'status': pub(String, '~/status')}
        if with_path:
            self._pubs['path'] = pub(Path, '~/planned_path')

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

    def plan(self, s: Any, joints: Sequence[str], limits: CommandLimits, header: Header,
             command: Command) -> np.ndarray:
        """Publish a plan's command, its path and its cost; counts the limits it was held to
        (``limit_<kind>``). Returns the command as published (read back from the message).

        Args:
            s: The planner settings.
            joints: The action joints.
            limits: The command limits (trajectory positions are held to them).
            header: Stamp and frame of the image the plan started from.
            command: The controller's command.
        """
        for kind in command.limits_hit:
            self._counters.add(f'limit_{kind}')
        out = command_msg(s, joints, limits, header, command.a, command.velocities,
                          command.q_act)
        if out.guarded:
            self._counters.add('limit_position_guard')
        self._pubs['cmd'].publish(out.msg)
        if command.poses is not None:
            self._pubs['path'].publish(path_msg(header, command.poses, s.model_step_period,
                                                s.path_frame_id))
        self._pubs['cost'].publish(Float32(data=float(command.cost)))
        return out.command

    def figures(self, header: Header, last: Dict[str, Any]) -> None:
        """Publish ``~/plan_figures`` (risk, disagreement, cost; see
        :mod:`..common.stamped_figures`) of the plan started from the image of ``header``.

        ``last``: the controller's figures of that plan (``risk``, ``disagreement``,
        ``cost``; absent or None where the model has no such output).
        """
        self._pubs['figures'].publish(plan_figures_msg(header, last.get('risk'),
                                                       last.get('disagreement'),
                                                       last.get('cost')))

    def stop(self, s: Any, joints: Sequence[str], limits: CommandLimits, header: Header,
             command: Command) -> np.ndarray:
        """Publish the stop command (zero; a trajectory holds still at ``command.q_act``);
        returns it as published.

        A stop is immediate: it is the one command not held to the acceleration limit. A
        joint beyond its limit is held where it is measured, not moved onto the limit.
        """
        out = command_msg(s, joints, limits, header, command.a, command.velocities,
                          command.q_act)
        self._pubs['cmd'].publish(out.msg)
        return out.command


class Outgoing(NamedTuple):
    """A command message and the command it carries.

    Attributes:
        msg: The ``s.output`` message.
        command: [A] the command as published (trajectories: the velocities of point 0),
            read back from ``msg``: the node's next acceleration reference.
        guarded: A trajectory point was held back from a joint limit (the velocities
            given would have carried a joint past it, or further out).
    """

    msg: Any
    command: np.ndarray
    guarded: bool


def command_msg(s: Any, joints: Sequence[str], limits: CommandLimits, header: Header,
                a: np.ndarray, velocities: np.ndarray, q_act: Optional[np.ndarray]
                ) -> Outgoing:
    """The ``s.output`` message of command ``a`` [A] (trajectories: ``velocities`` [H, A]).

    Trajectory positions start at the measured ``q_act`` and integrate the velocities; a
    point that would pass a joint limit (or move a joint beyond its limit further out) is
    held on the edge and its velocity reduced to match, so positions and velocities agree
    and nothing is ever snapped onto a limit.

    Args:
        s: The planner settings (output, use_twist_stamped, action_fields, model_step_period).
        joints: The action joints (trajectory joint names).
        limits: The command limits (trajectory positions are held to them).
        header: Stamp of the image the command was planned from (the message takes the
            stamp; its frame is ``s.base_frame_id``).
        a: [A] the command (the first row of ``velocities``).
        velocities: [H, A] velocities of the trajectory points.
        q_act: [A] current positions of the action joints, or None (velocities only).

    Raises:
        ValueError: ``a`` does not match ``s.action_fields`` (Twist outputs) or
            ``velocities`` is not [H >= 1, A] (trajectories).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    # A command is in the robot's base frame, whatever frame the image came in (REP 105).
    header = Header(stamp=header.stamp, frame_id=s.base_frame_id)
    if s.output == 'cmd_vel':
        fields = parse_twist_fields(list(s.action_fields))
        if len(fields) != a.size:   # zip would drop dims silently
            raise ValueError(f'command has {a.size} values, action_fields lists '
                             f'{len(fields)}')
        twist = Twist()
        for (part, axis), value in zip(fields, a):
            setattr(getattr(twist, part), axis, float(value))
        sent = np.array([getattr(getattr(twist, part), axis) for part, axis in fields])
        msg = TwistStamped(header=header, twist=twist) if s.use_twist_stamped else twist
        return Outgoing(msg, sent, False)
    if s.output == 'float64_multi_array':
        msg = Float64MultiArray(data=[float(v) for v in a])
        return Outgoing(msg, np.array(msg.data, dtype=np.float64), False)
    step, positions, guarded = s.model_step_period, None, False
    velocities = np.asarray(velocities, dtype=np.float64)
    if velocities.ndim != 2 or velocities.shape[0] < 1 or velocities.shape[1] != a.size:
        raise ValueError(f'velocities must be [H >= 1, {a.size}], got {velocities.shape}')
    if q_act is not None:
        held = integrate_positions(velocities, q_act, step, limits)
        positions, velocities, guarded = held.positions, held.velocities, bool(held.held.any())
    msg = trajectory_msg(header, joints, positions, velocities, step)
    return Outgoing(msg, np.array(msg.points[0].velocities, dtype=np.float64), guarded)


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
