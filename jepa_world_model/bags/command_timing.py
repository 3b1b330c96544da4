"""Timing between camera frames, joint states and commands, measured in a recording: how far
each frame is from its nearest joint state, how long after a frame the command computed from
it is stamped, and the ``action_alignment`` (bags/command_alignment.py) that delay calls for.

Stamps are int64 ns; pure numpy. ``bags/inspection.py`` applies these to whole bags.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np

from .time_alignment import nearest_index

__all__ = ['command_delays', 'recommend_alignment', 'frame_skews', 'timing_summary',
           'AFTER_FRAME_FRACTION', 'MAX_AFTER_FRAME_DELAY_S', 'MAX_WINDOW_FRACTION']

#: ``after_frame`` is recommended when 90 % of the commands follow their frame within this
#: fraction of a frame period (and at most MAX_AFTER_FRAME_DELAY_S): a controller that
#: publishes on seeing the frame. An independent command stream has delays spread over the
#: whole period (90 % within ~0.9 periods).
AFTER_FRAME_FRACTION = 0.5
MAX_AFTER_FRAME_DELAY_S = 0.1
#: The window stays under this fraction of a period: the next frame's command must not fit.
MAX_WINDOW_FRACTION = 0.75


def command_delays(frame_t: np.ndarray, cmd_t: np.ndarray, period_s: float) -> np.ndarray:
    """Command stamp minus the stamp of the latest frame at or before it, for the commands
    less than one frame period after that frame. [K] int64 ns (frame_t, cmd_t: sorted ns)."""
    if len(frame_t) == 0 or len(cmd_t) == 0:
        return np.zeros(0, dtype=np.int64)
    k = np.searchsorted(frame_t, cmd_t, side='right') - 1
    delays = cmd_t[k >= 0] - frame_t[k[k >= 0]]
    return delays[delays < max(int(period_s * 1e9), 1)]


def recommend_alignment(delays_s: np.ndarray, period_s: float) -> Dict[str, Any]:
    """The ``action_alignment`` (and window) the measured frame -> command delays call for.

    Commands stamped with their frame (median delay 0) or not tied to frames (90 % of the
    delays above half a period or 100 ms): ``at_or_before``. Commands a few ms after their
    frame: ``after_frame``, with a window of twice the 99th-percentile delay (at least that
    delay + 2 ms, rounded up to the ms), at most 3/4 of a frame period.
    """
    delays_s = np.asarray(delays_s, dtype=np.float64)
    if delays_s.size == 0 or period_s <= 0:
        return {'action_alignment': 'at_or_before', 'action_alignment_window_s': 0.0,
                'reason': 'no command follows a frame within a frame period'}
    median, p90 = float(np.median(delays_s)), float(np.percentile(delays_s, 90))
    if median < 1e-6:
        return {'action_alignment': 'at_or_before', 'action_alignment_window_s': 0.0,
                'reason': 'commands are stamped with their frames (median delay 0)'}
    limit = min(AFTER_FRAME_FRACTION * period_s, MAX_AFTER_FRAME_DELAY_S)
    if p90 > limit:
        return {'action_alignment': 'at_or_before', 'action_alignment_window_s': 0.0,
                'reason': f'commands are not tied to frames: 90 % follow a frame within '
                          f'{p90 * 1e3:.1f} ms, above {limit * 1e3:.1f} ms'}
    p99 = float(np.percentile(delays_s, 99))
    window = min(math.ceil(max(2 * p99, p99 + 0.002) * 1e3) / 1e3,
                 MAX_WINDOW_FRACTION * period_s)
    return {'action_alignment': 'after_frame', 'action_alignment_window_s': window,
            'reason': f'the command computed from a frame follows it by {median * 1e3:.1f} ms '
                      f'(median; 90 % within {p90 * 1e3:.1f} ms): with at_or_before every '
                      f'frame would get the previous step\'s command'}


def frame_skews(image_t: List[int], joint_t: List[int]) -> np.ndarray:
    """|frame stamp - nearest joint-state stamp| per frame. [F] int64 ns."""
    frames = np.asarray(image_t, dtype=np.int64)
    states = np.sort(np.asarray(joint_t, dtype=np.int64))
    if len(frames) == 0 or len(states) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.abs(states[nearest_index(states, frames)] - frames)


def timing_summary(values: np.ndarray) -> Dict[str, float]:
    """count, median, p90, p99 and max of ``values`` (empty: count 0 only)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {'count': 0}
    return {'count': int(values.size), 'median': float(np.median(values)),
            'p90': float(np.percentile(values, 90)), 'p99': float(np.percentile(values, 99)),
            'max': float(values.max())}
