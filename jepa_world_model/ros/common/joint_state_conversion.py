"""Conversions between ``sensor_msgs/JointState`` and numpy arrays, and stamps.

A ``JointState`` message lists joints by name in whatever order the publisher
chose and may carry joints the model does not use. :func:`joint_state_to_arrays`
selects and reorders the requested joints into fixed-order float32 vectors and
rejects malformed messages with a :class:`JointStateError` (a
:class:`ValueError`) rather than silently producing wrong robot state.

The checks both nodes run on every state message (stamp ahead of the node clock, values
beyond ``max_abs_input``) are ROS-free: :mod:`jepa_world_model.core.runtime.input_rules`.
"""

import math
from typing import Any, List, Optional, Sequence, Tuple

from builtin_interfaces.msg import Time
import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

__all__ = [
    'JointStateError',
    'MissingJointsError',
    'joint_state_to_arrays',
    'arrays_to_joint_state',
    'stamp_to_seconds',
    'seconds_to_stamp',
]

_INT32_MIN, _INT32_MAX = -2 ** 31, 2 ** 31 - 1


class JointStateError(ValueError):
    """Raised when a joint state message or array is malformed."""


class MissingJointsError(JointStateError):
    """Raised when requested joints are absent from a ``JointState`` message.

    Attributes:
        missing: The requested joint names not present in the message, in the
            order they were requested.
    """

    def __init__(self, missing: Sequence[str], available: Sequence[str] = ()) -> None:
        self.missing: List[str] = list(missing)
        self.available: List[str] = list(available)
        super().__init__(f'joint state is missing joints {self.missing} '
                         f'(message has {self.available})')


def _check_names(names: Sequence[str], what: str) -> List[str]:
    """Return ``names`` as a list after rejecting strings and duplicates."""
    if isinstance(names, (str, bytes)):
        raise JointStateError(f'{what} must be a sequence of names, not a single string')
    out = [str(n) for n in names]
    seen = set()
    dups = []
    for name in out:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    if dups:
        raise JointStateError(f'{what} contains duplicate joint names {dups}')
    return out


def _non_finite(names: Sequence[str], values: np.ndarray) -> List[str]:
    """Return the names whose value is NaN or infinite."""
    return [names[i] for i in np.flatnonzero(~np.isfinite(values))]


def joint_state_to_arrays(msg: JointState,
                          joint_names: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Extract positions and velocities of selected joints in a fixed order.

    Joints in the message may come in any order; joints not in
    ``joint_names`` are ignored and are not validated beyond the length and
    duplicate checks. An empty ``velocity`` field yields zero velocities.

    Args:
        msg: The joint state message.
        joint_names: The joints to extract, in output order.

    Returns:
        ``(position, velocity)``, each a new float32 array of shape ``(J,)``
        in ``joint_names`` order.

    Raises:
        MissingJointsError: If any requested joint is absent (see ``.missing``).
        JointStateError: If ``name`` and ``position`` lengths differ, a
            non-empty ``velocity`` does not match ``name``, names are
            duplicated, or a requested value is NaN/inf (also after the cast
            to float32).
    """
    wanted = _check_names(joint_names, 'joint_names')
    names = _check_names(list(msg.name), 'JointState.name')
    position = np.asarray(msg.position, dtype=np.float64).reshape(-1)
    velocity = np.asarray(msg.velocity, dtype=np.float64).reshape(-1)
    if position.size != len(names):
        raise JointStateError(
            f'JointState has {len(names)} names but {position.size} positions')
    if velocity.size not in (0, len(names)):
        raise JointStateError(
            f'JointState has {len(names)} names but {velocity.size} velocities '
            '(expected the same number or none)')
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in wanted if name not in index]
    if missing:
        raise MissingJointsError(missing, names)
    idx = np.fromiter((index[name] for name in wanted), dtype=np.intp, count=len(wanted))
    with np.errstate(over='ignore'):
        pos_out = position[idx].astype(np.float32)
        vel_out = (velocity[idx].astype(np.float32) if velocity.size
                   else np.zeros(len(wanted), dtype=np.float32))
    for field, values in (('position', pos_out), ('velocity', vel_out)):
        bad = _non_finite(wanted, values)
        if bad:
            raise JointStateError(f'non-finite {field} (NaN, inf or float32 overflow) '
                                  f'for joints {bad}')
    return pos_out, vel_out


def arrays_to_joint_state(joint_names: Sequence[str], position: Any,
                          velocity: Optional[Any] = None,
                          header: Optional[Header] = None) -> JointState:
    """Build a ``sensor_msgs/JointState`` from names and value arrays.

    Args:
        joint_names: Joint names, one per value.
        position: Positions, array-like of shape ``(J,)``.
        velocity: Optional velocities of shape ``(J,)``; if None the
            message's ``velocity`` field is left empty.
        header: Optional header to copy into the message.

    Returns:
        The joint state message (``effort`` is left empty).

    Raises:
        JointStateError: On duplicate names or arrays that are not 1-D with
            one value per name.
    """
    names = _check_names(joint_names, 'joint_names')
    pos = np.asarray(position, dtype=np.float64)
    if pos.shape != (len(names),):
        raise JointStateError(
            f'position has shape {pos.shape}, expected ({len(names)},) for joints {names}')
    msg = JointState()
    if header is not None:
        msg.header = header
    msg.name = names
    msg.position = pos.tolist()
    if velocity is not None:
        vel = np.asarray(velocity, dtype=np.float64)
        if vel.shape != (len(names),):
            raise JointStateError(
                f'velocity has shape {vel.shape}, expected ({len(names)},) for joints {names}')
        msg.velocity = vel.tolist()
    return msg


def stamp_to_seconds(stamp: Any) -> float:
    """Convert a ``builtin_interfaces/Time`` (or anything with sec/nanosec) to seconds.

    Args:
        stamp: The time stamp.

    Returns:
        ``sec + nanosec * 1e-9`` as a float.
    """
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def seconds_to_stamp(t: float) -> Time:
    """Convert seconds to a ``builtin_interfaces/Time``.

    Negative times are represented the ROS way: ``sec`` is the floor and
    ``nanosec`` the non-negative remainder (so -0.25 s is sec=-1,
    nanosec=750000000). Nanoseconds are rounded to the nearest integer.

    Args:
        t: Time in seconds.

    Returns:
        The time stamp.

    Raises:
        ValueError: If ``t`` is not finite or does not fit a signed 32-bit
            ``sec`` field.
    """
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f'cannot convert non-finite time {t} to a stamp')
    sec = math.floor(t)
    nanosec = int(round((t - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec += 1
        nanosec -= 1_000_000_000
    if not _INT32_MIN <= sec <= _INT32_MAX:
        raise ValueError(f'time {t} s does not fit a 32-bit stamp')
    return Time(sec=int(sec), nanosec=nanosec)
