"""Mobile-base navigation tasks for the closed-loop experiment: seeded goal poses, success.

A task is made from the seed of one simulator episode: an in-process
:class:`~jepa_world_model.sim.robots.MobileBaseSim` reset with that seed gives the start pose
and the people's start positions exactly as ``sim_node``'s ``~/reset`` does. The goal
position is drawn from a separate random stream of the same seed: in free space (the robot's
disc plus ``clearance`` clear of walls and static obstacles), at least ``min_distance`` from
the start and from each person's start position, and reachable: a shortest path for the
robot's disc exists on a ``grid`` metre occupancy grid of the room (the static obstacles;
the people move and are left out). The heading is free. Where no such goal is found (a
crowd), the people may be as close as ``PERSONAL_SPACE`` to the goal. In the scenes built
around a route (``crossing``, ``head_on``, ``stubborn``;
:mod:`jepa_world_model.sim.people_scenes`) the goal is the one the simulator placed the
people around (``MobileBaseSim.scene_goal``).

Success: within ``tolerance`` metres of the goal position, with no collision before.

No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import heapq
import math
import os
from typing import Optional, Tuple

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

import numpy as np  # noqa: E402

from ..sim.robots import MobileBaseSim  # noqa: E402

__all__ = ['GOAL_STREAM', 'BaseGoalSpec', 'BaseTask', 'BaseTaskFactory', 'pose_reached']

GOAL_STREAM = 0xBA5E
#: Fallback goal distance [m] from the people's start positions (robot + person radius +
#: 0.1 m: where a person starts giving way), used only when no goal is min_distance away.
PERSONAL_SPACE = MobileBaseSim.ROBOT_RADIUS + MobileBaseSim.PERSON_RADIUS + 0.1
_MOVES = [(di, dj, math.hypot(di, dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1)
          if (di, dj) != (0, 0)]


@dataclass(frozen=True)
class BaseGoalSpec:
    """How goal positions are drawn.

    Attributes:
        clearance: Free margin [m] around the robot's disc at the goal.
        min_distance: Straight-line distance [m] from the start (and the people) at least.
        path_clearance: Margin [m] around the robot's disc along the reachability path.
        grid: Cell size [m] of the reachability grid.
        max_tries: Rejection-sampling bound.
    """

    clearance: float = 0.1
    min_distance: float = 0.8
    path_clearance: float = 0.03
    grid: float = 0.05
    max_tries: int = 500


@dataclass
class BaseTask:
    """One navigation episode.

    Attributes:
        seed: Simulator episode seed.
        start_pose: [3] (x, y, yaw) after the reset.
        goal_xy: [2] goal position [m] (odom = world frame in the simulator).
        people_xy: [P, 2] the people's start positions (P = 2 in the default scene).
        path_length: Shortest free-space path [m] on the grid from start to goal.
        straight_line_free: Whether the straight segment is free of static obstacles.
    """

    seed: int
    start_pose: np.ndarray
    goal_xy: np.ndarray
    people_xy: np.ndarray
    path_length: float
    straight_line_free: bool

    @property
    def start_distance(self) -> float:
        """Straight-line distance [m] from the start to the goal."""
        return float(np.linalg.norm(self.start_pose[:2] - self.goal_xy))


def pose_reached(xy: np.ndarray, goal_xy: np.ndarray, tolerance: float) -> bool:
    """Whether position ``xy`` [2] lies within ``tolerance`` m of ``goal_xy`` [2]."""
    return bool(np.hypot(*(np.asarray(xy)[:2] - np.asarray(goal_xy)[:2])) <= tolerance)


class BaseTaskFactory:
    """Makes :class:`BaseTask` s; owns one ``MobileBaseSim`` (never rendered)."""

    def __init__(self, control_dt: float = 0.1, spec: BaseGoalSpec = BaseGoalSpec(),
                 scene: str = 'default') -> None:
        """Create the simulator (people of ``scene``) and the static room's occupancy grid."""
        self.sim = MobileBaseSim(image_size=16, control_dt=control_dt, scene=scene)
        self.spec = spec
        half = self.sim.ROOM_HALF_EXTENT
        self._centres = np.arange(-half + 0.5 * spec.grid, half, spec.grid)   # [G]
        radius = self.sim.ROBOT_RADIUS + spec.path_clearance
        self.free = np.array([[self.sim.is_free(np.array([x, y]), radius)
                               for y in self._centres] for x in self._centres])   # [G, G]

    def _cell(self, xy: np.ndarray) -> Tuple[int, int]:
        idx = np.clip(np.round((np.asarray(xy) - self._centres[0]) / self.spec.grid),
                      0, len(self._centres) - 1).astype(int)
        return int(idx[0]), int(idx[1])

    def path_length(self, start_xy: np.ndarray, goal_xy: np.ndarray) -> Optional[float]:
        """Shortest 8-connected path [m] over free cells, or None when there is none."""
        start, goal = self._cell(start_xy), self._cell(goal_xy)
        if not (self.free[start] and self.free[goal]):
            return None
        n = len(self._centres)
        best = {start: 0.0}
        queue = [(0.0, start)]
        while queue:
            cost, (i, j) = heapq.heappop(queue)
            if (i, j) == goal:
                return cost * self.spec.grid
            if cost > best[(i, j)]:
                continue
            for di, dj, step in _MOVES:
                nxt = (i + di, j + dj)
                if not (0 <= nxt[0] < n and 0 <= nxt[1] < n) or not self.free[nxt]:
                    continue
                if cost + step < best.get(nxt, math.inf):
                    best[nxt] = cost + step
                    heapq.heappush(queue, (cost + step, nxt))
        return None

    def make_task(self, seed: int) -> BaseTask:
        """The task of simulator episode ``seed``.

        Raises:
            RuntimeError: No reachable free goal within ``max_tries``.
        """
        obs = self.sim.reset(int(seed), render=False)
        start = np.asarray(obs.base_pose, dtype=np.float64).copy()
        people = self.sim.people_positions()
        rng = np.random.default_rng([int(seed), GOAL_STREAM])
        s = self.spec
        clearance = self.sim.ROBOT_RADIUS + s.clearance
        if self.sim.scene_goal is not None:
            return self._scene_task(int(seed), start, people)
        # A crowd may leave no spot min_distance from everyone: only then (so every task
        # that had a goal keeps it) the people may be as close as their personal space.
        for people_distance in (s.min_distance, PERSONAL_SPACE):
            for _ in range(s.max_tries):
                xy = self.sim.sample_free(rng, clearance)
                if not self.sim.is_free(xy, clearance):
                    continue
                if np.linalg.norm(xy - start[:2]) < s.min_distance or min(
                        np.linalg.norm(xy - p) for p in people) < people_distance:
                    continue
                length = self.path_length(start[:2], xy)
                if length is None:
                    continue
                return BaseTask(seed=int(seed), start_pose=start, goal_xy=xy,
                                people_xy=people, path_length=length,
                                straight_line_free=self.sim.segment_free(
                                    start[:2], xy, self.sim.ROBOT_RADIUS))
        raise RuntimeError(f'no reachable free goal within {s.max_tries} tries (seed {seed})')

    def _scene_task(self, seed: int, start: np.ndarray, people: np.ndarray) -> BaseTask:
        """The task on the route the scene's people were placed around."""
        goal = np.asarray(self.sim.scene_goal, dtype=np.float64).copy()
        length = self.path_length(start[:2], goal)
        if length is None:
            raise RuntimeError(f'scene {self.sim.scene!r} seed {seed}: goal {goal.tolist()} '
                               f'is not reachable on the grid')
        return BaseTask(seed=seed, start_pose=start, goal_xy=goal, people_xy=people,
                        path_length=length, straight_line_free=self.sim.segment_free(
                            start[:2], goal, self.sim.ROBOT_RADIUS))

    def close(self) -> None:
        """Free the simulator's renderer (never started here)."""
        self.sim.close()
