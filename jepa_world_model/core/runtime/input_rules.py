"""The rules both nodes apply to every input message, on stamps and values only.

Stamps are float seconds on the node clock (ROS time: it follows ``/clock`` with
use_sim_time, and is 0 before the first ``/clock``), values numpy arrays; the ROS layer
(``jepa_world_model.ros.common``) turns messages into these arguments, so the rules are
unit-tested without a ROS graph and ``world_model_node`` and ``planner_node`` cannot drift
apart.

* :func:`stale_problem`: an image further than ``stale_timeout`` from the node clock.
* :func:`stamp_ahead_problem`: a state message stamped more than ``max_future_stamp`` ahead
  of the node clock would make every valid message after it look out of order.
* :func:`magnitude_problem`: finite but absurd values (e.g. 1e30) overflow inside the model.
* :func:`state_message_problem`: the last two, as a counter name and a message.
* :func:`clock_was_reset`: a stamp far behind the history yet fresh on the node clock means
  the clock restarted (simulation reset, bag loop): clear the history instead of refusing
  every new message as out of order.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

import numpy as np

__all__ = ['TIME_RESET_S', 'clock_was_reset', 'stale_problem', 'stamp_ahead_problem',
           'magnitude_problem', 'state_message_problem']

#: A stamp this far (s) behind the newest one, yet fresh on the node clock, means the clock
#: was reset: histories are cleared instead of rejecting forever.
TIME_RESET_S = 1.0


def clock_was_reset(newest: Optional[float], stamp: float, now: float,
                    stale_timeout: float, jump: float = TIME_RESET_S) -> bool:
    """Whether ``stamp`` [s], ``jump`` or more behind the ``newest`` buffered stamp yet fresh
    on the node clock ``now``, means the clock restarted (the history is then cleared)."""
    return newest is not None and stamp < newest - jump and abs(now - stamp) <= stale_timeout


def stale_problem(stamp: float, now: float, stale_timeout: float,
                  what: str = 'image') -> Optional[str]:
    """Why ``stamp`` [s] is too far from the node clock ``now`` [s] to use, or None.

    ``now == 0`` means ROS time has not started (use_sim_time before the first /clock):
    nothing can be used then.
    """
    if now == 0.0:
        return 'ROS time is 0: use_sim_time is set but no /clock yet'
    if not abs(now - stamp) <= stale_timeout:
        where = 'old' if now > stamp else 'in the future'
        return (f'{what} stamp is {abs(now - stamp):.3f} s {where} (stale_timeout '
                f'{stale_timeout} s; clocks in sync? use_sim_time?)')
    return None


def stamp_ahead_problem(stamp: float, now: float, limit: float) -> Optional[str]:
    """Why ``stamp`` [s] is too far ahead of the node clock ``now`` [s], or None.

    ``now == 0`` means ROS time has not started (use_sim_time before the first /clock):
    nothing can be judged then, so nothing is refused.
    """
    ahead = stamp - now
    if now == 0.0 or not ahead > limit:
        return None
    return (f'stamp {stamp:.6f} is {ahead:.3f} s ahead of the node clock {now:.6f} '
            f'(max_future_stamp {limit} s; clocks in sync?)')


def magnitude_problem(values: Any, limit: float, what: str) -> Optional[str]:
    """Why ``values`` (array-like) are not finite or exceed ``limit`` in magnitude, or None."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~(np.abs(arr) <= limit))    # also catches NaN
    if bad.size == 0:
        return None
    return (f'{what} {arr[bad[:4]].tolist()} at index {bad[:4].tolist()} exceed '
            f'max_abs_input {limit} (or are not finite)')


def state_message_problem(what: str, stamp: float, now: float, max_future_stamp: float,
                          max_abs_input: float,
                          values: Iterable[Tuple[Optional[np.ndarray], str]]
                          ) -> Optional[Tuple[str, str]]:
    """``(counter, message)`` if a state message (``what``: 'joint_state', 'odom') is stamped
    more than ``max_future_stamp`` ahead of ``now`` or holds values beyond ``max_abs_input``
    (``values``: (array or None, name) pairs), else None. Such a message must never enter
    a history, where it would block the valid ones after it."""
    problem = stamp_ahead_problem(stamp, now, max_future_stamp)
    if problem:
        return f'{what}_stamp_in_future', f'{what} {problem}'
    for array, name in values:
        problem = None if array is None else magnitude_problem(array, max_abs_input, name)
        if problem:
            return f'{what}_out_of_range', problem
    return None
