"""Refused input messages: the error that names their counter, and the throttled log.

Every kind of bad input is counted separately under a reason (``image_decode``,
``joint_state_nonfinite``...), which ``/diagnostics`` reports as ``count.<reason>``; a
message stream that is bad at 100 Hz must not flood the log, so each reason is logged at
most once per ``log_throttle_period`` (with its running count).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Dict

from ...core.runtime.streams import Counters

__all__ = ['InputError', 'RejectLog']


class InputError(ValueError):
    """A message was rejected; ``reason`` is the counter name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RejectLog:
    """Counts a rejected input under its reason and logs it, once per throttle period.

    Args:
        counters: The node's counters (``reason`` is incremented, ``message`` kept as the
            last one of that reason).
        warn: Logger function (e.g. ``node.get_logger().warning``).
        period: Returns the current ``log_throttle_period`` (s): read on each call, so a
            parameter change applies at once.
    """

    def __init__(self, counters: Counters, warn: Callable[[str], None],
                 period: Callable[[], float]) -> None:
        self._counters, self._warn, self._period = counters, warn, period
        self._log_times: Dict[str, float] = {}

    def __call__(self, reason: str, message: str) -> None:
        """Count ``reason`` and log ``message`` unless this reason was logged recently."""
        now = time.monotonic()
        count = self._counters.add(reason, message, now)
        if now - self._log_times.get(reason, -math.inf) >= self._period():
            self._log_times[reason] = now
            self._warn(f'{reason} (#{count}): {message}')
