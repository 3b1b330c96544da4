"""Velocity, acceleration and joint-position limits on the commands a planner recommends.

A planner's action ``a`` [A] is a velocity command (arm joint velocities in rad/s, or a base
twist such as (linear.x, angular.z)). Before a command leaves the robot's software it must
stay inside hard limits, whatever the model predicted:

* velocity: ``velocity_min <= a <= velocity_max`` per dimension;
* acceleration: ``|a - a_prev| <= acceleration_max * dt`` per dimension, ``a_prev`` being
  the previous command and ``dt`` the time between the two;
* joint position (arms): a velocity that would carry joint ``j`` past ``position_max[j]``
  (or ``position_min[j]``) within ``dt`` is reduced so that ``q + a * dt`` lands exactly on
  the limit, and a joint at or beyond a limit gets no velocity further out (it may move back,
  at no more than the velocity and acceleration limits: it is never snapped onto the limit).

The velocity box and the joint limits are hard. The acceleration limit is met whenever that
is possible together with them; it is not when the previous command lies outside the
velocity box (limits tightened at run time) or a joint is closer to its limit than the
allowed deceleration can handle. Then the command is the hard-feasible value closest to the
allowed acceleration range and ``acceleration_infeasible`` is reported: overshooting a joint
limit or a velocity limit is the worse failure. Zero is required to lie inside the velocity
box, so stopping is always allowed.

Clipping is per dimension (ros2_control's joint limiters work the same way); a twist whose
dimensions are clipped differently changes its curvature. Pure numpy: no ROS imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['LimitError', 'CommandLimits', 'LimitedCommand', 'LimitedSequence',
           'IntegratedPositions', 'limit_command', 'limit_sequence', 'clip_positions',
           'integrate_positions', 'LIMIT_KINDS']

#: Kinds reported in :attr:`LimitedCommand.active`.
LIMIT_KINDS = ('velocity', 'acceleration', 'position', 'acceleration_infeasible')


class LimitError(ValueError):
    """Invalid limits or inputs (NaN, wrong length, inverted limits, dt <= 0)."""


def _vector(values: Optional[Sequence[float]], what: str, size: Optional[int] = None,
            allow_inf: bool = False) -> np.ndarray:
    """``values`` as a 1-D float64 array; a single value broadcasts to ``size``."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise LimitError(f'{what} is empty')
    if size is not None and arr.size == 1:
        arr = np.full(size, arr[0])
    if size is not None and arr.size != size:
        raise LimitError(f'{what} has {arr.size} values, expected 1 or {size}')
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        raise LimitError(f'{what} contains {"NaN" if allow_inf else "NaN or inf"}: '
                         f'{arr.tolist()}')
    return arr


@dataclass(frozen=True)
class CommandLimits:
    """Per-dimension limits of a velocity command ``a`` [A].

    Build it with :meth:`create` (which validates and broadcasts single values).

    Attributes:
        velocity_min: [A] lowest velocity per dimension (<= 0).
        velocity_max: [A] highest velocity per dimension (>= 0, >= velocity_min).
        acceleration_max: [A] largest change per second (> 0; ``inf``: unlimited).
        position_min: [J] lowest joint positions, or None (no joint limits).
        position_max: [J] highest joint positions, or None.
        joint_index: [A] joint moved by each action dimension (index into the J joints),
            -1 for a dimension that moves no limited joint; None without joint limits.
    """

    velocity_min: np.ndarray
    velocity_max: np.ndarray
    acceleration_max: np.ndarray
    position_min: Optional[np.ndarray] = None
    position_max: Optional[np.ndarray] = None
    joint_index: Optional[Tuple[int, ...]] = None

    @classmethod
    def create(cls, velocity_min: Sequence[float], velocity_max: Sequence[float],
               acceleration_max: Sequence[float], action_dim: Optional[int] = None,
               position_min: Optional[Sequence[float]] = None,
               position_max: Optional[Sequence[float]] = None,
               joint_index: Optional[Sequence[int]] = None) -> 'CommandLimits':
        """Validate the limits; one value stands for every dimension.

        Args:
            velocity_min, velocity_max, acceleration_max: 1 or A values each.
            action_dim: A; default: the longest of the three velocity/acceleration lists.
            position_min, position_max: J joint limits each, or both None.
            joint_index: A joint indices (-1: none); default ``range(A)`` (requires J == A).

        Raises:
            LimitError: NaN, wrong lengths, ``velocity_min > velocity_max``, zero outside the
                velocity box, ``acceleration_max <= 0``, ``position_min >= position_max``,
                or a bad ``joint_index``.
        """
        if action_dim is None:
            action_dim = max(np.size(velocity_min), np.size(velocity_max),
                             np.size(acceleration_max))
        v_min = _vector(velocity_min, 'velocity_min', action_dim)
        v_max = _vector(velocity_max, 'velocity_max', action_dim)
        acc = _vector(acceleration_max, 'acceleration_max', action_dim, allow_inf=True)
        if (v_min > v_max).any():
            raise LimitError(f'velocity_min {v_min.tolist()} exceeds velocity_max '
                             f'{v_max.tolist()} (inverted limits)')
        if (v_min > 0).any() or (v_max < 0).any():
            raise LimitError(f'zero must lie inside [velocity_min, velocity_max] so that a '
                             f'stop is allowed, got {v_min.tolist()} and {v_max.tolist()}')
        if (acc <= 0).any():
            raise LimitError(f'acceleration_max must be > 0, got {acc.tolist()}')
        if (position_min is None) != (position_max is None):
            raise LimitError('give both position_min and position_max, or neither')
        if position_min is None:
            return cls(v_min, v_max, acc)
        p_min = _vector(position_min, 'position_min')
        p_max = _vector(position_max, 'position_max', p_min.size)
        if (p_min >= p_max).any():
            raise LimitError(f'position_min {p_min.tolist()} must be below position_max '
                             f'{p_max.tolist()} (inverted limits)')
        index = tuple(range(action_dim)) if joint_index is None else tuple(
            int(i) for i in joint_index)
        if len(index) != action_dim:
            raise LimitError(f'joint_index has {len(index)} entries, expected {action_dim}')
        used = [i for i in index if i >= 0]
        if any(i < -1 or i >= p_min.size for i in index) or len(set(used)) != len(used):
            raise LimitError(f'joint_index {list(index)} must hold distinct joints in '
                             f'[0, {p_min.size}) or -1')
        return cls(v_min, v_max, acc, p_min, p_max, index)

    @property
    def action_dim(self) -> int:
        """A."""
        return int(self.velocity_min.size)

    @property
    def has_positions(self) -> bool:
        """True when joint position limits are set."""
        return self.position_min is not None


@dataclass(frozen=True)
class LimitedCommand:
    """Output of :func:`limit_command`.

    Attributes:
        a: [A] the command within the limits.
        active: ``(kind, dim)`` for every limit the desired command would have exceeded,
            kinds from :data:`LIMIT_KINDS`.
    """

    a: np.ndarray
    active: Tuple[Tuple[str, int], ...]

    @property
    def kinds(self) -> List[str]:
        """Distinct kinds of :attr:`active`, in :data:`LIMIT_KINDS` order."""
        present = {kind for kind, _ in self.active}
        return [kind for kind in LIMIT_KINDS if kind in present]


def _position_bounds(limits: CommandLimits, q: Optional[Sequence[float]], dt: float
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """[A] velocity interval from the joint limits: land on a limit, never move further out."""
    low = np.full(limits.action_dim, -np.inf)
    high = np.full(limits.action_dim, np.inf)
    if not limits.has_positions:
        return low, high
    if q is None:
        raise LimitError('joint positions q are required with joint position limits')
    q = _vector(q, 'q')
    if q.size != limits.position_min.size:
        raise LimitError(f'q has {q.size} values, the limits cover {limits.position_min.size} '
                         'joints')
    for dim, joint in enumerate(limits.joint_index):
        if joint < 0:
            continue
        # max(0, .): at or beyond a limit no outward motion, motion back inside is free.
        high[dim] = max(0.0, (limits.position_max[joint] - q[joint]) / dt)
        low[dim] = min(0.0, (limits.position_min[joint] - q[joint]) / dt)
    return low, high


def limit_command(a: Sequence[float], a_prev: Sequence[float], dt: float,
                  limits: CommandLimits, q: Optional[Sequence[float]] = None,
                  hold: Optional[float] = None) -> LimitedCommand:
    """Clip a desired command ``a`` [A] into the velocity, acceleration and joint limits.

    Args:
        a: [A] desired command.
        a_prev: [A] previous command (the acceleration reference).
        dt: Seconds between ``a_prev`` and ``a``, and how long ``a`` is applied (> 0).
        limits: The limits.
        q: [J] current joint positions (required when ``limits`` has joint limits).
        hold: Seconds the command moves the joints for the joint-limit bound (default
            ``dt``); a trajectory whose first point lies further ahead than ``dt`` needs
            the longer time so that the point does not pass a limit.

    Returns:
        The clipped command and the limits that were active.

    Raises:
        LimitError: NaN/inf in ``a``, ``a_prev`` or ``q``, wrong lengths, bad ``dt`` or
            ``hold``.
    """
    dim = limits.action_dim
    for what, values in (('command a', a), ('previous command a_prev', a_prev)):
        if np.size(values) != dim:   # checked first: one value must not broadcast here
            raise LimitError(f'{what} has {np.size(values)} values, expected {dim}')
    desired = _vector(a, 'command a')
    prev = _vector(a_prev, 'previous command a_prev')
    if not (np.isfinite(dt) and dt > 0):
        raise LimitError(f'dt must be finite and > 0, got {dt!r}')
    hold = dt if hold is None else hold
    if not (np.isfinite(hold) and hold > 0):
        raise LimitError(f'hold must be finite and > 0, got {hold!r}')
    pos_low, pos_high = _position_bounds(limits, q, hold)
    # Hard interval: velocity box and joint limits; both contain 0, so it is never empty.
    hard_low = np.maximum(limits.velocity_min, pos_low)
    hard_high = np.minimum(limits.velocity_max, pos_high)
    step = limits.acceleration_max * dt
    acc_low, acc_high = prev - step, prev + step
    low, high = np.maximum(hard_low, acc_low), np.minimum(hard_high, acc_high)
    infeasible = low > high
    # Without a common point, the hard-feasible value nearest to the acceleration range.
    low = np.where(infeasible, np.where(acc_low > hard_high, hard_high, hard_low), low)
    high = np.where(infeasible, low, high)
    out = np.clip(desired, low, high)
    active: List[Tuple[str, int]] = []
    for i in range(dim):
        x = desired[i]
        if x < limits.velocity_min[i] or x > limits.velocity_max[i]:
            active.append(('velocity', i))
        if x < acc_low[i] or x > acc_high[i]:
            active.append(('acceleration', i))
        if x < pos_low[i] or x > pos_high[i]:
            active.append(('position', i))
        if infeasible[i]:
            active.append(('acceleration_infeasible', i))
    return LimitedCommand(out, tuple(active))


@dataclass(frozen=True)
class LimitedSequence:
    """Output of :func:`limit_sequence`.

    Attributes:
        a: [H, A] limited commands.
        positions: [H, J] joint positions after each command (``q0`` integrated), or None
            without joint limits.
        active: Distinct ``(kind, dim)`` active anywhere in the sequence.
    """

    a: np.ndarray
    positions: Optional[np.ndarray]
    active: Tuple[Tuple[str, int], ...]


def limit_sequence(a_seq: np.ndarray, a_prev: Sequence[float], dt: float,
                   limits: CommandLimits, q0: Optional[Sequence[float]] = None
                   ) -> LimitedSequence:
    """Limit a planned sequence ``a_seq`` [H, A] step by step, integrating the joints.

    Command ``k`` is limited against command ``k - 1`` (``a_prev`` for the first) and the
    joint positions ``q_k = q0 + dt * sum(a_0..a_{k-1})`` it starts from, so every command and
    every predicted position of the result respects the limits.

    Raises:
        LimitError: As :func:`limit_command`, or ``a_seq`` not [H, A].
    """
    a_seq = np.asarray(a_seq, dtype=np.float64)
    if a_seq.ndim != 2 or a_seq.shape[1] != limits.action_dim:
        raise LimitError(f'a_seq must be [H, {limits.action_dim}], got {a_seq.shape}')
    q = None if q0 is None else _vector(q0, 'q0').copy()
    out, positions, active = [], [], []
    prev = np.asarray(a_prev, dtype=np.float64)
    for k in range(a_seq.shape[0]):
        limited = limit_command(a_seq[k], prev, dt, limits, q if limits.has_positions else None)
        prev = limited.a
        out.append(prev)
        active.extend(x for x in limited.active if x not in active)
        if q is not None and limits.has_positions:
            for d, joint in enumerate(limits.joint_index):
                if joint >= 0:
                    q[joint] += prev[d] * dt
            positions.append(q.copy())
    a_out = np.stack(out) if out else np.zeros((0, limits.action_dim))
    pos = np.stack(positions) if positions else None
    return LimitedSequence(a_out, pos, tuple(active))


def clip_positions(positions: np.ndarray, limits: CommandLimits
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Clip joint positions [..., J] into the joint limits.

    Returns:
        ``(clipped [..., J], clipped_mask [..., J])``; unchanged without joint limits.

    Raises:
        LimitError: NaN in ``positions`` or a joint count that does not match.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if np.isnan(positions).any():
        raise LimitError('positions contain NaN')
    if not limits.has_positions:
        return positions.copy(), np.zeros(positions.shape, dtype=bool)
    if positions.shape[-1] != limits.position_min.size:
        raise LimitError(f'positions have {positions.shape[-1]} joints, the limits cover '
                         f'{limits.position_min.size}')
    clipped = np.clip(positions, limits.position_min, limits.position_max)
    return clipped, clipped != positions


@dataclass(frozen=True)
class IntegratedPositions:
    """Output of :func:`integrate_positions`.

    Attributes:
        positions: [H, J] joint positions after each command.
        velocities: [H, A] the commands, reduced where the guard held a joint.
        held: [H, A] True where a command was reduced by more than round-off.
    """

    positions: np.ndarray
    velocities: np.ndarray
    held: np.ndarray


def integrate_positions(velocities: np.ndarray, q0: Sequence[float], dt: float,
                        limits: CommandLimits, tol: float = 1e-9) -> IntegratedPositions:
    """Integrate commands [H, A] from ``q0`` [J], never letting a joint pass a limit.

    Point ``k`` is ``q_k = q_{k-1} + dt * v_k`` (``q_{-1} = q0``). A joint inside its range
    stays inside; a joint that starts beyond a limit may only move inward: its band is
    ``[min(position_min, q0), max(position_max, q0)]`` and shrinks to where the joint has
    got to, so it can never move back out. Positions start at ``q0`` (never snapped onto a
    limit): commands already held to :func:`limit_sequence` pass unchanged. A command that
    would leave the band is reduced to land on its edge (``held``); the returned velocities
    and positions always agree, so a reduced command is what is published.

    Args:
        velocities: [H, A] commands, each applied for ``dt``.
        q0: [J] measured joint positions (``J == A`` without joint limits).
        dt: Seconds per point (> 0).
        limits: The limits (``joint_index`` maps command dims to joints).
        tol: Reductions up to this size (rad) are round-off and leave ``held`` False.

    Raises:
        LimitError: NaN/inf, wrong lengths or a bad ``dt``.
    """
    v = np.array(velocities, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != limits.action_dim:
        raise LimitError(f'velocities must be [H, {limits.action_dim}], got {v.shape}')
    if not np.isfinite(v).all():
        raise LimitError('velocities contain NaN or inf')
    if not (np.isfinite(dt) and dt > 0):
        raise LimitError(f'dt must be finite and > 0, got {dt!r}')
    q = _vector(q0, 'q0').copy()
    held = np.zeros(v.shape, dtype=bool)
    if not limits.has_positions:
        if q.size != v.shape[1]:
            raise LimitError(f'q0 has {q.size} values, expected {v.shape[1]}')
        return IntegratedPositions(q + np.cumsum(v * dt, axis=0), v, held)
    if q.size != limits.position_min.size:
        raise LimitError(f'q0 has {q.size} values, the limits cover '
                         f'{limits.position_min.size} joints')
    dims = np.array([d for d, j in enumerate(limits.joint_index) if j >= 0], dtype=int)
    joints = np.array([limits.joint_index[d] for d in dims], dtype=int)
    p_min, p_max = limits.position_min[joints], limits.position_max[joints]
    low, high = np.minimum(p_min, q[joints]), np.maximum(p_max, q[joints])
    positions = []
    for k in range(v.shape[0]):
        start = q[joints]
        target = start + v[k, dims] * dt
        end = np.clip(target, low, high)
        moved = np.abs(end - target) > tol
        held[k, dims] = moved
        # The reduced command lands on the band's edge; elsewhere keep the command exact.
        v[k, dims] = np.where(moved, (end - start) / dt, v[k, dims])
        q[joints] = end
        # A joint coming back in range may not leave it again (nor go back out further).
        low = np.minimum(p_min, np.maximum(low, end))
        high = np.maximum(p_max, np.minimum(high, end))
        positions.append(q.copy())
    pos = np.stack(positions) if positions else np.zeros((0, q.size))
    return IntegratedPositions(pos, v, held)
