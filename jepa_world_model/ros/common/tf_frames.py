"""The planner's frames from TF, where tf2_ros is importable (core/planning/frames.py).

:class:`TfFrames` answers :class:`~...core.planning.frames.FrameSource` from a tf2 buffer
(``tf2_ros.Buffer`` filled by a ``tf2_ros.TransformListener``), with
``lookup_transform(target, source, rclpy.time.Time(), timeout=Duration)`` (the latest
transform), checked first with ``can_transform``:

* ``base -> scanner``: from TF; while TF does not know it, the ``scan_mount`` parameter,
  with a throttled warning;
* ``frame -> path frame`` (``map -> odom`` for a Nav2 or RViz goal, a map_server map): from
  TF; while TF does not know it, :class:`FrameLookupError` (the goal or map is refused with
  the reason).

tf2's ``LookupException``, ``ConnectivityException`` and ``ExtrapolationException`` (and
``InvalidArgumentException``) are caught, never raised to a callback. :func:`make_frames`
builds the listener when tf2_ros imports and returns None when it does not: the planner then
uses :class:`ParameterFrames` (no tf2_ros wheel exists on PyPI, so the fallback is what runs
in this repository's tests, where a fake buffer with tf2_ros.Buffer's methods exercises
:class:`TfFrames`). Lookups never wait (timeout 0, the latest transform): they run in
subscription callbacks.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Optional, Tuple

from rclpy.duration import Duration
from rclpy.time import Time

from ...core.model.state_layout import planar_pose
from ...core.planning.frames import FrameLookupError, ParameterFrames, Planar

__all__ = ['TfFrames', 'make_frames', 'tf_errors', 'LOOKUP_TIMEOUT_S']

#: A lookup waits at most this long for a transform (it runs in a callback: not at all).
LOOKUP_TIMEOUT_S = 0.0


def tf_errors() -> Tuple[type, ...]:
    """tf2's lookup exceptions (empty when tf2_ros does not import)."""
    try:
        import tf2_ros
    except ImportError:
        return ()
    return (tf2_ros.LookupException, tf2_ros.ConnectivityException,
            tf2_ros.ExtrapolationException, tf2_ros.InvalidArgumentException)


def planar_of(transform: Any) -> Planar:
    """geometry_msgs/TransformStamped -> its planar part (x, y, yaw)."""
    x, y, yaw = planar_pose(transform.transform.translation, transform.transform.rotation)
    return Planar(float(x), float(y), float(yaw))


class TfFrames:
    """A :class:`FrameSource` over a tf2 buffer, falling back to ``fallback`` for the
    scanner mount.

    Args:
        buffer: ``tf2_ros.Buffer`` (or an object with its ``can_transform`` and
            ``lookup_transform`` methods).
        mount: The ``scan_mount`` parameter now (x, y, yaw), the scanner's fallback.
        warn: Logger function for throttled warnings.
        errors: The exceptions a lookup may raise (:func:`tf_errors`).
        throttle_s: One warning per topic pair and this many seconds.
        timeout_s: Longest wait of one lookup.
    """

    source_name = 'tf'

    def __init__(self, buffer: Any, mount: Callable[[], Tuple[float, float, float]],
                 warn: Callable[[str], None], errors: Tuple[type, ...] = (),
                 throttle_s: float = 5.0, timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self.buffer, self._mount, self._warn = buffer, mount, warn
        self.errors = tuple(errors) + (TimeoutError,)
        self.throttle_s, self.timeout_s = throttle_s, timeout_s
        self._warned: Dict[Tuple[str, str], float] = {}

    def _lookup(self, target: str, source: str) -> Tuple[Optional[Planar], str]:
        """The latest ``target <- source`` transform, or (None, why)."""
        timeout = Duration(seconds=self.timeout_s)
        try:
            if not self.buffer.can_transform(target, source, Time(), timeout=timeout):
                return None, f'TF has no transform from {source!r} to {target!r}'
            planar = planar_of(self.buffer.lookup_transform(target, source, Time(),
                                                            timeout=timeout))
        except self.errors as exc:
            return None, f'TF lookup {source!r} -> {target!r} failed: {exc}'
        if not all(math.isfinite(v) for v in planar.as_tuple()):
            return None, f'TF transform {source!r} -> {target!r} is not finite'
        return planar, ''

    def _throttled(self, key: Tuple[str, str], message: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -math.inf) >= self.throttle_s:
            self._warned[key] = now
            self._warn(message)

    def scan_mount(self, base_frame: str, scan_frame: str) -> Planar:
        fallback = ParameterFrames(tuple(self._mount()))
        if not scan_frame or scan_frame == base_frame:
            return fallback.scan_mount(base_frame, scan_frame)
        planar, why = self._lookup(base_frame, scan_frame)
        if planar is None:
            self._throttled((base_frame, scan_frame),
                            f'{why}: using the scan_mount parameter {fallback.mount}')
            return fallback.scan_mount(base_frame, scan_frame)
        return planar

    def into(self, target_frame: str, source_frame: str) -> Planar:
        if not source_frame or source_frame == target_frame:
            return Planar()
        planar, why = self._lookup(target_frame, source_frame)
        if planar is None:
            self._throttled((target_frame, source_frame), why)
            raise FrameLookupError('frame_unknown', f'{why}: cannot use data in '
                                   f'{source_frame!r} (is the localization, e.g. AMCL, '
                                   f'publishing {source_frame} -> {target_frame}?)')
        return planar


def make_frames(node: Any, mount: Callable[[], Tuple[float, float, float]],
                warn: Callable[[str], None]) -> Tuple[Optional[TfFrames], Any]:
    """``(frames, listener)``: :class:`TfFrames` on a new ``tf2_ros.Buffer`` and
    ``TransformListener`` of ``node`` when tf2_ros imports, else ``(None, None)`` (the
    parameters apply). Keep the listener alive as long as the frames are used."""
    try:
        import tf2_ros
    except ImportError:
        return None, None
    buffer = tf2_ros.Buffer()
    listener = tf2_ros.TransformListener(buffer, node)
    return TfFrames(buffer, mount, warn, tf_errors()), listener
