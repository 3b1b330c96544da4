"""Scan in, forecast out: detection, tracking and prediction of agents in one object.

:class:`AgentPipeline` is what the ROS node and the offline experiments both run, so the
evaluation measures the code the robot runs: :meth:`~AgentPipeline.observe` takes one scan
with the base pose at its stamp, :meth:`~AgentPipeline.forecast` predicts the confirmed tracks
given where the robot will be (its plan, or its current twist held: :func:`held_twist_future`).
Without a learned predictor the forecast is constant velocity with a spread that grows with
the horizon (``CV_SPREAD_PER_S``), so the node still publishes something a planner can use.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .features import HISTORY_PERIOD, HISTORY_STEPS, HORIZONS_S, agent_features
from .predictor import AgentForecast, AgentPredictor, constant_velocity
from .scan_detection import DetectionSettings, StaticMask, detect_agents
from .tracking import AgentTracker, Track, TrackerSettings

__all__ = ['AgentPipeline', 'held_twist_future', 'path_future', 'CV_SPREAD_PER_S']

#: Spread [m per s of horizon] of the constant-velocity fallback (no learned predictor):
#: about what constant velocity's error grows by among the simulated people.
CV_SPREAD_PER_S = 0.25


def held_twist_future(pose: Sequence[float], v: float, w: float,
                      horizons: Sequence[float] = HORIZONS_S) -> np.ndarray:
    """``[H, 2]`` positions of a unicycle at ``pose`` (x, y, yaw) holding (v, w)."""
    x, y, yaw = (float(p) for p in pose)
    t = np.asarray(horizons, dtype=np.float64)
    if abs(w) < 1e-6:
        return np.stack([x + v * t * math.cos(yaw), y + v * t * math.sin(yaw)], -1)
    radius = v / w
    return np.stack([x + radius * (np.sin(yaw + w * t) - math.sin(yaw)),
                     y - radius * (np.cos(yaw + w * t) - math.cos(yaw))], -1)


def path_future(times: Sequence[float], xy: np.ndarray, now: float,
                horizons: Sequence[float] = HORIZONS_S) -> np.ndarray:
    """``[H, 2]`` positions of a timed path (``times [P]`` s, ``xy [P, 2]``) at ``now +
    horizons``, linearly interpolated; held at its ends.

    Raises:
        ValueError: An empty path, mismatched lengths or times not increasing.
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(t) == 0 or len(t) != len(xy) or np.any(np.diff(t) <= 0):
        raise ValueError('a path needs >= 1 pose with strictly increasing times')
    query = now + np.asarray(horizons, dtype=np.float64)
    return np.stack([np.interp(query, t, xy[:, 0]), np.interp(query, t, xy[:, 1])], -1)


class AgentPipeline:
    """Detection + tracking + prediction; see the module docstring.

    Args:
        detection: Detection thresholds.
        tracking: Tracker settings.
        predictor: The learned predictor, or None (constant velocity).
        static: The map's static mask, or None (set later with :meth:`set_map`).
    """

    def __init__(self, detection: DetectionSettings = DetectionSettings(),
                 tracking: TrackerSettings = TrackerSettings(),
                 predictor: Optional[AgentPredictor] = None,
                 static: Optional[StaticMask] = None) -> None:
        """Start without tracks."""
        self.detection = detection
        self.tracker = AgentTracker(tracking)
        self.predictor = predictor
        self.static = static
        self.detections = np.zeros((0, 2))   # the last scan's, for inspection

    def set_map(self, static: Optional[StaticMask]) -> None:
        """Use a new map (or none) from the next scan on."""
        self.static = static

    def observe(self, ranges: Sequence[float], angle_min: float, angle_increment: float,
                range_min: float, range_max: float, pose: Sequence[float],
                stamp: float) -> List[Track]:
        """Detect agents in one scan (base ``pose`` (x, y, yaw) in odom at ``stamp`` [s]) and
        update the tracks; the confirmed tracks."""
        self.detections = detect_agents(ranges, angle_min, angle_increment, range_min,
                                        range_max, pose, self.static, self.detection)
        return self.tracker.update(self.detections, stamp)

    def inputs(self, tracks: Sequence[Track], robot_pose: Sequence[float],
               robot_velocity: Sequence[float], robot_future: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(features [K, F], rotation [K, 2, 2], now [K, 2], velocity [K, 2])`` of
        ``tracks`` (:func:`~.features.agent_features`)."""
        histories, covered = [], []
        for track in tracks:
            history, seconds = track.history(HISTORY_STEPS, HISTORY_PERIOD)
            histories.append(history)
            covered.append(seconds)
        k = len(tracks)
        history = np.array(histories).reshape(k, HISTORY_STEPS, 2)
        velocity = np.array([t.velocity for t in tracks]).reshape(k, 2)
        features, rotation = agent_features(history, np.array(covered), velocity,
                                            np.asarray(robot_pose, float),
                                            np.asarray(robot_velocity, float),
                                            robot_future, self.static)
        return features, rotation, history[:, -1, :], velocity

    def forecast(self, tracks: Sequence[Track], robot_pose: Sequence[float],
                 robot_velocity: Sequence[float], robot_future: np.ndarray
                 ) -> AgentForecast:
        """Where ``tracks`` will be at ``HORIZONS_S`` given the robot's ``robot_future [H, 2]``
        (odom) positions at those times."""
        features, rotation, now, velocity = self.inputs(tracks, robot_pose, robot_velocity,
                                                        robot_future)
        ids = np.array([t.track_id for t in tracks], dtype=np.int64)
        if self.predictor is not None:
            return self.predictor.forecast(ids, now, features, rotation)
        horizons = np.asarray(HORIZONS_S)
        positions = now[:, None, :] + constant_velocity(velocity, horizons)
        spread = np.broadcast_to(CV_SPREAD_PER_S * horizons, (len(ids), len(horizons)))
        return AgentForecast(ids, horizons, now, positions, spread.copy())
