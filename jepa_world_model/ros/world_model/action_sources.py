"""Where the world model's action comes from: command topics or joint-state deltas.

The action ``a`` [A] of the model is taken, depending on the ``action_source`` parameter, from

* ``twist`` / ``twist_stamped``: ``geometry_msgs/Twist`` or ``TwistStamped`` on ``cmd_vel``
  (mobile bases; Jazzy's diff_drive_controller and Nav2 with ``enable_stamped_cmd_vel`` use
  the stamped form). ``action_fields`` lists the fields in model order, e.g.
  ``['linear.x', 'angular.z']``.
* ``joint_trajectory``: the first point of a ``trajectory_msgs/JointTrajectory`` (positions
  or velocities, by ``action_trajectory_field``) for ``action_joint_names``, in that order,
  whatever the message's joint order (arms, joint_trajectory_controller).
* ``float64_multi_array``: ``std_msgs/Float64MultiArray`` data (forward_command_controller).
* ``joint_delta``: ``q(t) - q(t - step_period)`` of the model joints, from the joint-state
  history, as V-JEPA 2-AC derives actions from consecutive end-effector states.
* ``zero``: always zeros (observe only; the rollout shows the passive dynamics).

Every vector is multiplied by ``action_scale`` (empty: 1; one value: all dims; else per
dim). A command older than ``action_timeout`` counts as zero, the convention of velocity
controllers and twist_mux: no fresh command means stop. Which command the transition from a
frame uses follows the checkpoint's ``action_alignment`` (core/runtime/action_alignment.py;
commands are stamped with their arrival on the node clock, as ``ros2 bag record`` stamps
them): :meth:`ActionSource.paired`. A command with a value beyond
``max_abs_input`` (or one that overflows float32, e.g. 1e300) is refused with an
:class:`ActionError` and the previous command stays in effect.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field as dataclass_field
import threading
from typing import Any, Deque, List, Optional, Sequence, Tuple

from geometry_msgs.msg import Twist, TwistStamped
import numpy as np
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from ...core.runtime.action_alignment import ActionAlignment, paired_command_indices
from ...core.runtime.input_rules import magnitude_problem
from ...core.runtime.streams import JointStateBuffer, SyncError

__all__ = ['ACTION_SOURCES', 'TWIST_FIELDS', 'ActionError', 'parse_twist_fields',
           'twist_to_action', 'array_to_action', 'trajectory_to_action', 'joint_delta_action',
           'scale_vector', 'ActionSource', 'live_alignment']

#: source name -> (message type, default topic); ``None`` for sources without a topic.
ACTION_SOURCES = {
    'twist': (Twist, 'cmd_vel'),
    'twist_stamped': (TwistStamped, 'cmd_vel'),
    'joint_trajectory': (JointTrajectory, 'joint_trajectory'),
    'float64_multi_array': (Float64MultiArray, 'commands'),
    'joint_delta': (None, None),
    'zero': (None, None),
}
TWIST_FIELDS = tuple(f'{part}.{axis}' for part in ('linear', 'angular') for axis in 'xyz')
TRAJECTORY_FIELDS = ('positions', 'velocities')
#: Commands remembered for the alignment look-up (ample for a frame's window at 1 kHz).
HISTORY_LENGTH = 512


class ActionError(ValueError):
    """An action message cannot be turned into the model's action vector."""


def parse_twist_fields(fields: Sequence[str]) -> List[Tuple[str, str]]:
    """``['linear.x', 'angular.z']`` -> ``[('linear', 'x'), ('angular', 'z')]``.

    Raises:
        ActionError: Empty list, unknown or repeated field.
    """
    if not fields:
        raise ActionError(f'action_fields is empty; pick from {list(TWIST_FIELDS)}')
    out = []
    for field in fields:
        if field not in TWIST_FIELDS:
            raise ActionError(f'unknown Twist field {field!r}; expected one of '
                              f'{list(TWIST_FIELDS)}')
        if field in fields[:len(out)]:
            raise ActionError(f'Twist field {field!r} is listed twice')
        part, axis = field.split('.')
        out.append((part, axis))
    return out


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _finite(vec: np.ndarray, what: str) -> np.ndarray:
    """``vec`` if every value is finite and fits float32 (the model's action dtype)."""
    if not (np.abs(vec) <= _FLOAT32_MAX).all():    # NaN fails the comparison too
        raise ActionError(f'{what} contains NaN, inf or values beyond float32: '
                          f'{vec.tolist()}')
    return vec


def twist_to_action(twist: Twist, fields: Sequence[Tuple[str, str]]) -> np.ndarray:
    """Twist -> float32 [len(fields)] in ``fields`` order (already parsed)."""
    vec = np.array([getattr(getattr(twist, part), axis) for part, axis in fields],
                   dtype=np.float64)
    return _finite(vec, 'Twist').astype(np.float32)


def array_to_action(msg: Float64MultiArray, action_dim: int) -> np.ndarray:
    """Float64MultiArray -> float32 [A]; the data length must equal ``action_dim``."""
    vec = np.asarray(msg.data, dtype=np.float64).reshape(-1)
    if vec.size != action_dim:
        raise ActionError(f'Float64MultiArray has {vec.size} values, the model action has '
                          f'{action_dim}')
    return _finite(vec, 'Float64MultiArray').astype(np.float32)


def trajectory_to_action(msg: JointTrajectory, joint_names: Sequence[str],
                         field: str = 'positions') -> np.ndarray:
    """First trajectory point's ``field`` for ``joint_names``, in that order -> float32.

    Raises:
        ActionError: No points, missing joints, or a field length that does not match.
    """
    if field not in TRAJECTORY_FIELDS:
        raise ActionError(f'unknown trajectory field {field!r}')
    if not msg.points:
        raise ActionError('JointTrajectory has no points')
    names = list(msg.joint_names)
    values = np.asarray(getattr(msg.points[0], field), dtype=np.float64).reshape(-1)
    if values.size != len(names):
        raise ActionError(f'JointTrajectory point has {values.size} {field} for '
                          f'{len(names)} joints')
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise ActionError(f'JointTrajectory is missing joints {missing} (has {names})')
    vec = values[[index[name] for name in joint_names]]
    return _finite(vec, 'JointTrajectory').astype(np.float32)


def joint_delta_action(buffer: JointStateBuffer, stamp: float, period: float,
                       max_skew: Optional[float] = None) -> np.ndarray:
    """``q(stamp) - q(stamp - period)`` from the joint-state history -> float32 [J].

    Raises:
        ActionError: The history does not reach back far enough (or has a gap).
    """
    try:
        now = buffer.sample(stamp, max_skew)
        before = buffer.sample(stamp - period, max_skew)
    except SyncError as exc:
        raise ActionError(f'joint_delta action unavailable: {exc}') from None
    return (now.position - before.position).astype(np.float32)


def scale_vector(scale: Sequence[float], action_dim: int) -> np.ndarray:
    """The ``action_scale`` parameter as a float32 [A] multiplier.

    Raises:
        ActionError: Length other than 0, 1 or ``action_dim``, or a non-finite value.
    """
    values = np.asarray(list(scale), dtype=np.float64).reshape(-1)
    if values.size == 0:
        return np.ones(action_dim, np.float32)
    if values.size == 1:
        values = np.full(action_dim, values[0])
    if values.size != action_dim:
        raise ActionError(f'action_scale has {values.size} values; use 0, 1 or {action_dim}')
    return _finite(values, 'action_scale').astype(np.float32)


@dataclass
class ActionSource:
    """Turns the configured action input into the model's action at a frame.

    Thread-safety: :meth:`on_message` and :meth:`current` exchange one tuple reference, which
    is atomic in CPython; the command history (:meth:`paired`) has its own short lock.

    Attributes:
        source: One of :data:`ACTION_SOURCES`.
        action_dim: A.
        twist_fields: Parsed ``action_fields`` (twist sources).
        joint_names: Joints of ``joint_trajectory`` actions, in model action order.
        trajectory_field: ``'positions'`` or ``'velocities'``.
        scale: [A] multiplier.
        timeout: Seconds after which a command counts as zero.
        max_abs: Largest magnitude of a command value (unscaled, as in the message).
        alignment: Which command a frame's transition uses (:meth:`paired`).
    """

    source: str
    action_dim: int
    twist_fields: Optional[List[Tuple[str, str]]] = None
    joint_names: Optional[List[str]] = None
    trajectory_field: str = 'positions'
    scale: Optional[np.ndarray] = None
    timeout: float = 0.5
    max_abs: float = float('inf')
    alignment: ActionAlignment = dataclass_field(default_factory=ActionAlignment)
    _latest: Optional[Tuple[np.ndarray, float]] = None
    _history: Deque[Tuple[float, np.ndarray]] = dataclass_field(
        default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    _history_lock: threading.Lock = dataclass_field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.scale is None:
            self.scale = np.ones(self.action_dim, np.float32)

    @classmethod
    def create(cls, source: str, action_dim: int, fields: Sequence[str],
               joint_names: Sequence[str], model_joint_names: Sequence[str],
               trajectory_field: str, scale: Sequence[float],
               timeout: float) -> 'ActionSource':
        """Validate the parameters against the model and build the source.

        Raises:
            ActionError: A parameter does not fit the model (the message says which).
        """
        if source not in ACTION_SOURCES:
            raise ActionError(f'unknown action_source {source!r}; use one of '
                              f'{sorted(ACTION_SOURCES)}')
        out = cls(source, int(action_dim), scale=scale_vector(scale, action_dim),
                  timeout=float(timeout), trajectory_field=trajectory_field)
        if source in ('twist', 'twist_stamped'):
            out.twist_fields = parse_twist_fields(list(fields))
            if len(out.twist_fields) != action_dim:
                raise ActionError(f'action_fields lists {len(out.twist_fields)} fields, the '
                                  f'model action has {action_dim}')
        elif source == 'joint_trajectory':
            out.joint_names = list(joint_names) or list(model_joint_names)
            if len(out.joint_names) != action_dim:
                raise ActionError(f'action_joint_names has {len(out.joint_names)} joints, the '
                                  f'model action has {action_dim}')
            if trajectory_field not in TRAJECTORY_FIELDS:
                raise ActionError(f'action_trajectory_field must be one of {TRAJECTORY_FIELDS}')
        elif source == 'joint_delta' and len(model_joint_names) != action_dim:
            raise ActionError(f'joint_delta needs action_dim == number of model joints '
                              f'({len(model_joint_names)}), the model action has {action_dim}')
        return out

    @property
    def message_type(self) -> Any:
        """The subscribed message class, or None (joint_delta, zero)."""
        return ACTION_SOURCES[self.source][0]

    @property
    def default_topic(self) -> Optional[str]:
        """Topic name used when ``action_topic`` is empty."""
        return ACTION_SOURCES[self.source][1]

    def extract(self, msg: Any) -> np.ndarray:
        """Message -> unscaled float32 [A] (raises :class:`ActionError`)."""
        if self.source == 'twist':
            return twist_to_action(msg, self.twist_fields)
        if self.source == 'twist_stamped':
            return twist_to_action(msg.twist, self.twist_fields)
        if self.source == 'joint_trajectory':
            return trajectory_to_action(msg, self.joint_names, self.trajectory_field)
        if self.source == 'float64_multi_array':
            return array_to_action(msg, self.action_dim)
        raise ActionError(f'action_source {self.source!r} takes no messages')

    def on_message(self, msg: Any, now: float) -> None:
        """Store the action of a command message received at ``now`` (s, node clock).

        Raises:
            ActionError: The message does not fit, or a value is beyond ``max_abs`` or
                overflows once scaled (the previous command is kept).
        """
        action = self.extract(msg)
        problem = magnitude_problem(action, self.max_abs, f'{self.source} command values')
        if problem:
            raise ActionError(problem)
        with np.errstate(over='ignore'):
            scaled = action * self.scale
        if not np.isfinite(scaled).all():
            raise ActionError(f'{self.source} command {action.tolist()} times action_scale '
                              f'{self.scale.tolist()} overflows float32')
        self._latest = (scaled, float(now))
        with self._history_lock:
            if self._history and now < self._history[-1][0]:   # the clock went back
                self._history.clear()
            self._history.append((float(now), scaled))

    def current(self, now: float, buffer: Optional[JointStateBuffer] = None,
                stamp: Optional[float] = None, period: float = 0.1,
                max_skew: Optional[float] = None) -> np.ndarray:
        """The action to roll out at a frame -> float32 [A].

        Args:
            now: Node clock time (s), for the command timeout.
            buffer: Joint-state history (``joint_delta`` only).
            stamp: Frame stamp (``joint_delta`` only).
            period: Model step in seconds (``joint_delta`` only).
            max_skew: Sync limit for the joint-state look-ups.

        Raises:
            ActionError: ``joint_delta`` without enough history.
        """
        if self.source == 'zero':
            return np.zeros(self.action_dim, np.float32)
        if self.source == 'joint_delta':
            if buffer is None or stamp is None:
                raise ActionError('joint_delta needs the joint-state history and a stamp')
            return joint_delta_action(buffer, stamp, period, max_skew) * self.scale
        latest = self._latest
        if latest is None or now - latest[1] > self.timeout:
            return np.zeros(self.action_dim, np.float32)
        return latest[0].copy()

    @property
    def takes_messages(self) -> bool:
        """Whether the action comes from command messages (not joint_delta or zero)."""
        return self.message_type is not None

    def command_times(self) -> np.ndarray:
        """[C] arrival times (s, node clock, ascending) of the remembered commands."""
        with self._history_lock:
            return np.array([t for t, _ in self._history], dtype=np.float64)

    def paired(self, stamp: float) -> Tuple[np.ndarray, bool]:
        """The command the transition from the frame stamped ``stamp`` uses, under
        ``alignment``, from the commands received so far -> (float32 [A], in_window).

        ``in_window`` is True when ``after_frame`` found a command in (t, t + window]; False
        for ``at_or_before`` and for its fallback (the command held from before the frame).
        No command, or one older than ``timeout`` at the look-up time: zeros.
        """
        with self._history_lock:
            history = list(self._history)
        zero = np.zeros(self.action_dim, np.float32)
        if not history:
            return zero, False
        times = np.array([t for t, _ in history], dtype=np.float64)
        frame = np.array([float(stamp)])
        index, in_window = paired_command_indices(frame, times, self.alignment)
        k = int(index[0])
        if k < 0 and len(history) == HISTORY_LENGTH:
            k = 0          # older than the remembered commands: the oldest is the closest
        # Aged at the look-up time, as the bag reader ages them (t, or t + window).
        if k < 0 or self.alignment.lookup_times(frame)[0] - times[k] > self.timeout:
            return zero, False
        return history[k][1].copy(), bool(in_window[0])

    def in_effect(self, now: float) -> Optional[np.ndarray]:
        """The commanded action at ``now`` -> float32 [A], or None for sources that are not
        commands (``joint_delta`` and ``zero`` derive their action at the frame itself)."""
        if self.source in ('joint_delta', 'zero'):
            return None
        return self.current(now)

    def age(self, now: float) -> Optional[float]:
        """Seconds since the last command message, or None if none arrived."""
        latest = self._latest
        return None if latest is None else now - latest[1]


def live_alignment(runtime: Any, settings: Any) -> ActionAlignment:
    """The rule the node pairs frames and commands with: the checkpoint's training rule
    (``data.bag.action_alignment``) unless ``action_alignment`` /
    ``action_alignment_window_s`` override it; the window must be shorter than
    ``model_step_period``.

    Raises:
        AlignmentError: The overrides do not make a valid rule (the message says why).
    """
    checkpoint = getattr(runtime, 'checkpoint', None)
    trained = ActionAlignment.of_training(getattr(checkpoint, 'config', None))
    rule = trained.overridden(settings.action_alignment, settings.action_alignment_window_s)
    rule.check_period(settings.model_step_period)
    return rule
