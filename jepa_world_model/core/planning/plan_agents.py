"""The people a plan is scored against: the planner's own agent pipeline on the scan it plans
from (for the agent term, :mod:`.agent_term`).

Why the planner runs :class:`~..agents.pipeline.AgentPipeline` itself rather than reading
``agent_predictor_node``'s topics: it already holds the scan and the odometry pose the
obstacle term uses, so the forecast comes from exactly that scan at that pose with no topic
latency or second synchronisation (in a lock-stepped simulation the forecast is never a step
behind), and the robot's future the predictor is conditioned on is the planner's own last
plan, not a ``planned_path`` message that arrives after the next scan. The node stays the
way to publish the forecast for the rest of a stack; both run the same code.

One :class:`PlanAgents` per controller: each new scan (by stamp) updates the tracks once;
a plan from the same scan reuses its forecast. Pure PyTorch/numpy, no ROS.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from torch import Tensor

from ..agents.features import HORIZONS_S
from ..agents.pipeline import AgentPipeline, path_future
from ..agents.predictor import AgentForecast, load_predictor
from ..agents.scan_detection import StaticMask
from .agent_term import agents_at_times, AgentPaths, plan_step_times
from .observation import Observation

__all__ = ['PlanAgents', 'TIME_JUMP_S', 'planned_xy']

#: A scan this much older than the last one means time jumped back (bag loop, sim reset):
#: the tracks are dropped.
TIME_JUMP_S = 1.0


class PlanAgents:
    """Tracks and forecasts the agents in the scans the controller plans from.

    Args:
        pipeline: Detection, tracking and prediction (default: constant velocity).
    """

    def __init__(self, pipeline: Optional[AgentPipeline] = None) -> None:
        """Start without tracks, map or plan."""
        self.pipeline = pipeline if pipeline is not None else AgentPipeline()
        self.forecast: Optional[AgentForecast] = None   # of the newest scan
        self._scan_stamp = -math.inf
        self._map: Any = None
        self._plan: Optional[Tuple[np.ndarray, np.ndarray]] = None   # (times [P], xy [P, 2])
        self._pending: Optional[Tuple[float, np.ndarray]] = None      # (frame stamp, times)

    @classmethod
    def load(cls, model_path: str) -> 'PlanAgents':
        """With the predictor saved at ``model_path`` (empty: constant velocity).

        Raises:
            AgentModelError: A file that cannot be used.
        """
        predictor = load_predictor(model_path) if model_path else None
        return cls(AgentPipeline(predictor=predictor))

    def reset(self) -> None:
        """Forget the tracks, the forecast and the last plan (a new start)."""
        self.pipeline.tracker.reset()
        self.forecast, self._scan_stamp, self._plan = None, -math.inf, None
        self._pending = None

    def set_map(self, static_map: Any, occupied_threshold: int, tolerance: float) -> None:
        """Use ``static_map`` (:class:`~.static_map.StaticMap` or None) to drop the returns it
        explains; only a map in the pose frame (identity placement) or none is used, since a
        rotated mask is not worth it for a filter the tracker tolerates missing."""
        if static_map is self._map:
            return
        self._map = static_map
        place = getattr(static_map, 'placement', None)
        if static_map is None or place is None or (place.x, place.y, place.yaw) != (0, 0, 0):
            self.pipeline.set_map(None)
            return
        occupied = np.asarray(static_map.occupancy) >= occupied_threshold
        self.pipeline.set_map(StaticMask(occupied, static_map.resolution, static_map.origin,
                                         tolerance))

    def for_plan(self, model: Any, z: Tensor, obs: Observation, settings: Any,
                 config: Any, static_map: Any) -> Optional[AgentPaths]:
        """The agents along the plan the controller is about to make, or None without a
        scan: :meth:`paths` at the pose of the frame (odometry, else the model's reading of
        ``z [Z]``) and the step times of ``config`` (a
        :class:`~.planner.PlannerConfig`) under ``settings`` (a
        :class:`~.settings.ControllerSettings`)."""
        if obs.scan is None:
            return None
        self.set_map(static_map if settings.use_map else None,
                     settings.map_occupied_threshold, self.pipeline.detection.map_tolerance)
        pose = (obs.pose if obs.pose is not None else
                model.probe_pose(z).float().cpu().numpy())
        times = plan_step_times(config.horizon, config.action_repeat,
                                settings.command_delay_steps, settings.model_step_period)
        self._pending = (obs.stamp if obs.stamp is not None else obs.scan.stamp, times)
        return self.paths(obs, pose, settings.scan_mount, times)

    def after_plan(self, model: Any, latents: Tensor) -> None:
        """The plan made after :meth:`for_plan`: its latents ``[H, Z]``, read as positions,
        condition the next forecast."""
        if self._pending is not None:
            stamp, times = self._pending
            self.planned(stamp, times, planned_xy(model, latents))
            self._pending = None

    def planned(self, stamp: float, step_times: Sequence[float], xy: np.ndarray) -> None:
        """The plan just made from the frame at ``stamp`` [s]: positions ``xy [H, 2]`` at
        ``step_times [H]`` s after it (the robot future the next forecast is conditioned on)."""
        self._plan = (stamp + np.asarray(step_times, dtype=np.float64),
                      np.asarray(xy, dtype=np.float64).reshape(-1, 2))

    def paths(self, obs: Observation, pose: Sequence[float], mount: Sequence[float],
              step_times: Sequence[float]) -> Optional[AgentPaths]:
        """The agents at ``step_times [H]`` s after the frame, or None without a scan.

        Args:
            obs: The observation (its scan, and its stamp when it has one; else the frame is
                taken to be at the scan's stamp).
            pose: ``(x, y, yaw)`` of the base in the pose frame at the frame.
            mount: ``(x, y, yaw)`` of the scanner in the base frame (the scan's own from TF
                wins).
            step_times: Seconds after the frame of each planned latent
                (:func:`~.agent_term.plan_step_times`).
        """
        scan = obs.scan
        if scan is None:
            return None
        if scan.stamp < self._scan_stamp - TIME_JUMP_S:
            self.reset()
        if scan.stamp > self._scan_stamp:
            self._observe(scan, pose, scan.mount if scan.mount is not None else mount)
        frame = obs.stamp if obs.stamp is not None else scan.stamp
        f = self.forecast
        return agents_at_times(f.now, f.times, f.positions, f.spread,
                               np.asarray(step_times, dtype=np.float64) + (frame - scan.stamp))

    def _observe(self, scan: Any, pose: Sequence[float], mount: Sequence[float]) -> None:
        x, y, yaw = (float(v) for v in pose)
        mx, my, myaw = (float(v) for v in mount)
        scanner = (x + mx * math.cos(yaw) - my * math.sin(yaw),
                   y + mx * math.sin(yaw) + my * math.cos(yaw), yaw + myaw)
        tracks = self.pipeline.observe(scan.ranges, scan.angle_min, scan.angle_increment,
                                       max(scan.range_min, 0.0), scan.range_max, scanner,
                                       scan.stamp)
        future, velocity = self._robot_future(scan.stamp, np.array([x, y]))
        self.forecast = self.pipeline.forecast(tracks, (x, y, yaw), velocity, future)
        self._scan_stamp = scan.stamp

    def _robot_future(self, stamp: float, xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(future [H, 2], velocity [2])``: the last plan from now on (held at its end), or
        standing still without one; velocity toward the plan's first position."""
        if self._plan is None:
            return np.repeat(xy[None], len(HORIZONS_S), axis=0), np.zeros(2)
        times = np.concatenate([[stamp], self._plan[0][self._plan[0] > stamp]])
        points = np.concatenate([xy[None], self._plan[1][self._plan[0] > stamp]])
        if len(times) < 2:
            return np.repeat(xy[None], len(HORIZONS_S), axis=0), np.zeros(2)
        velocity = (points[1] - points[0]) / (times[1] - times[0])
        return path_future(times, points, stamp), velocity


def planned_xy(model: Any, latents: Tensor) -> np.ndarray:
    """``[H, 2]`` base positions the model reads from a plan's latents ``[H, Z]``."""
    return model.probe_pose(latents)[..., :2].float().cpu().numpy()
