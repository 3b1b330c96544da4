"""Pure helpers for running a model on live sensor streams: time sync, statistics, counters.

Nothing here knows about ROS messages; stamps are float seconds and states numpy arrays, so
the logic is unit-tested without a ROS graph. The ROS layer (``jepa_world_model.ros``) turns
messages into these arguments.

* :class:`JointStateBuffer`: a short, strictly time-ordered history of joint states that is
  sampled at an image stamp (nearest sample or linear interpolation) with a maximum skew.
* :class:`WindowStats`: percentiles (p50/p99) of the last N values, e.g. latencies.
* :class:`RateMeter`: message rate over a sliding time window.
* :class:`Counters`: thread-safe named event counters (rejections, drops).
* :class:`FrameSlot`: the newest camera frame only; a frame replaced before it was taken
  is a dropped frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading
from typing import Deque, Dict, Generic, Optional, Tuple, TypeVar

import numpy as np

__all__ = ['SyncError', 'JointSample', 'JointStateBuffer', 'WindowStats', 'RateMeter',
           'Counters', 'FrameSlot']

Frame = TypeVar('Frame')


class SyncError(ValueError):
    """No joint state can be paired with an image stamp.

    Attributes:
        reason: ``'no_joint_state'`` (buffer empty) or ``'skew'`` (nearest sample too far).
        skew: The distance in seconds to the nearest sample (``inf`` when empty).
    """

    def __init__(self, reason: str, message: str, skew: float = float('inf')) -> None:
        super().__init__(message)
        self.reason = reason
        self.skew = skew


@dataclass
class JointSample:
    """A joint state sampled at a requested stamp.

    Attributes:
        position: [J] float32 positions in the buffer's joint order.
        velocity: [J] float32 velocities.
        skew: Seconds between the requested stamp and the nearest real sample used (>= 0).
        interpolated: True when two samples around the stamp were blended.
    """

    position: np.ndarray
    velocity: np.ndarray
    skew: float
    interpolated: bool


class JointStateBuffer:
    """Time-ordered joint-state history for pairing images with joint states.

    Samples must arrive with strictly increasing stamps: an equal stamp is counted as a
    duplicate and an older one as out of order, and both are rejected, because a
    non-monotonic history would make interpolation ambiguous. Samples older than
    ``history`` seconds behind the newest are dropped.

    Args:
        num_joints: J, the length of every position/velocity vector.
        max_skew: Largest allowed distance (s) between an image stamp and the joint sample(s)
            used for it.
        interpolate: Blend the two samples around a stamp linearly (otherwise nearest).
        history: Seconds of history kept (must cover ``max_skew`` and any look-back such as
            a joint-delta action over one model step).
        label: What the samples are, for error messages ('joint state', 'odometry').
    """

    def __init__(self, num_joints: int, max_skew: float = 0.05, interpolate: bool = True,
                 history: float = 2.0, label: str = 'joint state') -> None:
        if num_joints < 0:
            raise ValueError(f'num_joints must be >= 0, got {num_joints}')
        if history <= 0:
            raise ValueError(f'history must be > 0, got {history}')
        self.num_joints = int(num_joints)
        self.max_skew = float(max_skew)
        self.interpolate = bool(interpolate)
        self.history = float(history)
        self.label = label
        self._stamps: Deque[float] = deque()
        self._positions: Deque[np.ndarray] = deque()
        self._velocities: Deque[np.ndarray] = deque()
        self.accepted = 0
        self.out_of_order = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def latest_stamp(self) -> Optional[float]:
        """Stamp (s) of the newest sample, or None when empty."""
        return self._stamps[-1] if self._stamps else None

    def clear(self) -> None:
        """Forget every sample (e.g. after the clock jumped back); counters are kept."""
        self._stamps.clear()
        self._positions.clear()
        self._velocities.clear()

    def push(self, stamp: float, position: np.ndarray,
             velocity: Optional[np.ndarray] = None) -> str:
        """Add one sample.

        Args:
            stamp: Time (s) of the measurement.
            position: [J] joint positions.
            velocity: [J] joint velocities, or None to estimate them by a backward finite
                difference to the previous sample (zeros for the first one).

        Returns:
            ``'ok'``, ``'duplicate'`` or ``'out_of_order'`` (the last two are not stored).

        Raises:
            ValueError: If a vector does not have J finite entries.
        """
        position = self._vector(position, 'position')
        last = self.latest_stamp
        if last is not None and stamp == last:
            self.duplicates += 1
            return 'duplicate'
        if last is not None and stamp < last:
            self.out_of_order += 1
            return 'out_of_order'
        if velocity is None:
            if last is None:
                velocity = np.zeros(self.num_joints, dtype=np.float32)
            else:
                velocity = ((position - self._positions[-1]) / (stamp - last)).astype(np.float32)
        else:
            velocity = self._vector(velocity, 'velocity')
        self._stamps.append(float(stamp))
        self._positions.append(position)
        self._velocities.append(velocity)
        self.accepted += 1
        while self._stamps and self._stamps[0] < stamp - self.history:
            self._stamps.popleft()
            self._positions.popleft()
            self._velocities.popleft()
        return 'ok'

    def _vector(self, values: np.ndarray, what: str) -> np.ndarray:
        out = np.asarray(values, dtype=np.float32).reshape(-1)
        if out.shape != (self.num_joints,):
            raise ValueError(f'{what} has {out.size} values, expected {self.num_joints}')
        if not np.isfinite(out).all():
            raise ValueError(f'{what} contains NaN or inf')
        return out.copy()

    def sample(self, stamp: float, max_skew: Optional[float] = None) -> JointSample:
        """Joint state at ``stamp``.

        Between two samples (and with interpolation on) the result is their linear blend and
        the skew is the distance to the closer one; outside the stored span the nearest sample
        is used as is. Either way the skew must not exceed ``max_skew``.

        Args:
            stamp: Time (s) to sample at, normally an image stamp.
            max_skew: Override of the buffer's ``max_skew`` for this call.

        Returns:
            The sampled joint state.

        Raises:
            SyncError: Empty buffer, or the nearest sample is more than ``max_skew`` away.
        """
        limit = self.max_skew if max_skew is None else float(max_skew)
        if not self._stamps:
            raise SyncError('no_joint_state', f'no {self.label} received yet')
        stamps = self._stamps
        # Index of the first sample at or after the stamp (the deque is sorted).
        hi = int(np.searchsorted(np.fromiter(stamps, dtype=np.float64, count=len(stamps)),
                                 stamp))
        if hi < len(stamps) and stamps[hi] == stamp:
            return JointSample(self._positions[hi].copy(), self._velocities[hi].copy(), 0.0,
                               False)
        if 0 < hi < len(stamps):
            t0, t1 = stamps[hi - 1], stamps[hi]
            skew = min(stamp - t0, t1 - stamp)
            self._check_skew(skew, limit, stamp)
            if self.interpolate:
                w = (stamp - t0) / (t1 - t0)
                pos = (1 - w) * self._positions[hi - 1] + w * self._positions[hi]
                vel = (1 - w) * self._velocities[hi - 1] + w * self._velocities[hi]
                return JointSample(pos.astype(np.float32), vel.astype(np.float32), skew, True)
            near = hi - 1 if stamp - t0 <= t1 - stamp else hi
            return JointSample(self._positions[near].copy(), self._velocities[near].copy(),
                               skew, False)
        near = 0 if hi == 0 else len(stamps) - 1
        skew = abs(stamp - stamps[near])
        self._check_skew(skew, limit, stamp)
        return JointSample(self._positions[near].copy(), self._velocities[near].copy(), skew,
                           False)

    def _check_skew(self, skew: float, limit: float, stamp: float) -> None:
        if skew > limit:
            newest = self._stamps[-1]
            raise SyncError('skew', f'nearest {self.label} is {skew * 1e3:.1f} ms from the '
                            f'image stamp (limit {limit * 1e3:.1f} ms; newest {self.label} '
                            f'is {(stamp - newest) * 1e3:+.1f} ms before the image)', skew)


class WindowStats:
    """Percentiles of the last ``window`` values (not thread-safe; guard it with a lock).

    Args:
        window: Number of most recent values kept.
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 1:
            raise ValueError(f'window must be >= 1, got {window}')
        self._values: Deque[float] = deque(maxlen=int(window))
        self.total = 0

    def add(self, value: float) -> None:
        """Record one value."""
        self._values.append(float(value))
        self.total += 1

    def __len__(self) -> int:
        return len(self._values)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the window, NaN when empty."""
        if not self._values:
            return float('nan')
        return float(np.percentile(np.fromiter(self._values, dtype=np.float64), q))

    def summary(self) -> Dict[str, float]:
        """``{'p50', 'p99', 'max', 'count'}`` over the window (NaN when empty)."""
        if not self._values:
            nan = float('nan')
            return {'p50': nan, 'p99': nan, 'max': nan, 'count': 0}
        arr = np.fromiter(self._values, dtype=np.float64)
        p50, p99 = np.percentile(arr, [50, 99])
        return {'p50': float(p50), 'p99': float(p99), 'max': float(arr.max()),
                'count': len(arr)}

    def clear(self) -> None:
        """Forget the window (the running total is kept)."""
        self._values.clear()


class RateMeter:
    """Event rate (Hz) over a sliding time window of ``window`` seconds.

    Times are whatever monotonic clock the caller uses (``time.monotonic()`` for wall rates).
    """

    def __init__(self, window: float = 5.0, max_events: int = 10000) -> None:
        if window <= 0:
            raise ValueError(f'window must be > 0, got {window}')
        self.window = float(window)
        self._times: Deque[float] = deque(maxlen=int(max_events))
        self.total = 0

    def tick(self, now: float) -> None:
        """Record one event at time ``now``."""
        self._times.append(float(now))
        self.total += 1
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()

    def rate(self, now: float) -> float:
        """Events per second in the window ending at ``now`` (0.0 with fewer than 2 events)."""
        self._prune(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def last(self) -> Optional[float]:
        """Time of the most recent event still in the window, or None."""
        return self._times[-1] if self._times else None


class Counters:
    """Named, thread-safe event counters that remember the last message per name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {}
        self._last: Dict[str, Tuple[str, float]] = {}

    def add(self, name: str, message: str = '', when: float = 0.0, n: int = 1) -> int:
        """Increment ``name`` by ``n``; store ``message`` and ``when``; return the new count."""
        with self._lock:
            count = self._counts.get(name, 0) + n
            self._counts[name] = count
            if message:
                self._last[name] = (message, when)
            return count

    def get(self, name: str) -> int:
        """Current count of ``name`` (0 if never incremented)."""
        with self._lock:
            return self._counts.get(name, 0)

    def snapshot(self) -> Dict[str, int]:
        """Copy of all counts."""
        with self._lock:
            return dict(self._counts)

    def last_messages(self) -> Dict[str, Tuple[str, float]]:
        """Copy of ``{name: (last message, when)}``."""
        with self._lock:
            return dict(self._last)

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._counts.clear()
            self._last.clear()


class FrameSlot(Generic[Frame]):
    """The newest frame only, thread-safe: a reference swap under a lock, never a queue.

    A consumer that falls behind sees the newest frame and never a backlog. A frame replaced
    before anything :meth:`take` -s it is reported by :meth:`put` as dropped; :attr:`newest`
    stays readable after a take (e.g. for a goal captured from the current view).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: Optional[Frame] = None
        self._waiting = False   # the newest frame has not been taken yet

    def put(self, frame: Frame) -> bool:
        """Make ``frame`` the newest; True if it replaced one that was never taken."""
        with self._lock:
            dropped = self._waiting
            self._newest, self._waiting = frame, True
        return dropped

    def take(self) -> Optional[Frame]:
        """The newest frame if it was not taken before (then it counts as taken), else None."""
        with self._lock:
            if not self._waiting:
                return None
            self._waiting = False
            return self._newest

    @property
    def newest(self) -> Optional[Frame]:
        """The newest frame, taken or not (None before the first)."""
        return self._newest

    def clear(self) -> None:
        """Forget the frame."""
        with self._lock:
            self._newest, self._waiting = None, False
