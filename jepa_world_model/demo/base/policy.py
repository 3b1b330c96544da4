"""The demo's mobile-base driver: wander through the room, and now and then bump into things.

Plain numpy, no rclpy and no simulator: it sees what a real robot's controller would
(odometry pose and twist, the collision flag) and the room's map (:class:`~.geometry.
BaseRoom`), and returns ``(v, w)`` commands for ``cmd_vel``. Like the exploration policy
the model was trained with (``ScriptedBasePolicy``), it turns toward a goal and drives
there, slowing down near it. Goals are random free positions it can reach in a straight
line, except every ``bump_every``-th goal: the centre of a piece of furniture or a point
behind a wall, approached at ``bump_speed`` on a free straight line, so the robot runs into
it, keeps pushing for ``push_steps`` control steps (the stall is what should surprise the
world model), then backs off and picks a new goal. The people walk on their own and give
way, but the driver does not see them: it bumps into them by chance and backs off from any
stall, then heads for a goal on the other side.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from .geometry import BaseRoom, wrap_angle

__all__ = ['DemoBasePolicy']


class DemoBasePolicy:
    """Heading control toward random free goals and, every few goals, into an obstacle."""

    def __init__(self, room: BaseRoom, seed: int = 0, bump_every: int = 3,
                 heading_gain: float = 2.0, tolerance: float = 0.15, max_steps: int = 80,
                 bump_speed: float = 0.5, push_steps: int = 4, backoff_steps: int = 6,
                 backoff_speed: float = 0.3, noise_fraction: float = 0.05) -> None:
        """Set up the goal generator.

        Args:
            room: Walls, furniture and command bounds.
            seed: Seeds goals and noise.
            bump_every: Goal i aims into an obstacle when ``i % bump_every == 1`` (so the
                second goal already does: short runs still see a collision).
            heading_gain: P gain [1/s] from heading error to yaw rate.
            tolerance: A goal is reached this close [m].
            max_steps: Give up on a goal after this many steps.
            bump_speed: Forward speed [m/s] when heading into an obstacle.
            push_steps: Keep pushing this many steps after a collision on purpose.
            backoff_steps, backoff_speed: After a stall, move this long and fast [m/s]
                against the direction it was moving (stopped early if blocked there too).
            noise_fraction: Gaussian command noise, as a fraction of the command range.
        """
        self.room = room
        self.low = np.asarray(room.action_low, float)
        self.high = np.asarray(room.action_high, float)
        self.rng = np.random.default_rng(seed)
        self.bump_every = max(1, int(bump_every))
        self.heading_gain, self.tolerance = float(heading_gain), float(tolerance)
        self.max_steps, self.bump_speed = int(max_steps), float(bump_speed)
        self.push_steps, self.backoff_steps = int(push_steps), int(backoff_steps)
        self.backoff_speed = float(backoff_speed)
        self.sigma = float(noise_fraction) * (self.high - self.low)
        self.goal: Optional[np.ndarray] = None
        self.goal_kind = ''
        self.goals = 0
        self.bumps_planned = 0
        self._steps = self._pushed = self._backoff = 0
        self._last_v = 0.0
        self._avoid: Optional[np.ndarray] = None   # direction toward the last stall
        self._backoff_v = 0.0

    # ------------------------------------------------------------------ goals

    def _random_goal(self, start: np.ndarray) -> np.ndarray:
        """A free position at least 0.5 m away, preferably reachable in a straight line.

        After a stall the goal must lie behind the robot (away from what it hit: a person
        who waits for the robot would otherwise be hit again).
        """
        clearance = self.room.robot_radius + 0.1
        half = self.room.half_extent - clearance
        goal = start
        for attempt in range(100):   # the second 50 without the "behind" condition
            goal = self.rng.uniform(-half, half, size=2)
            offset = goal - start
            behind = self._avoid is None or attempt >= 50 or float(offset @ self._avoid) < 0
            if behind and np.linalg.norm(offset) > 0.5 and self.room.is_free(goal, clearance) \
                    and self._clear_path(start, goal):
                break
        self._avoid = None
        return goal

    def _clear_path(self, start: np.ndarray, end: np.ndarray, skip: float = 0.3) -> bool:
        """Whether the robot can drive straight to ``end``, ignoring the first ``skip`` m.

        The robot may start in contact or, with the room's conservative circles around the
        furniture boxes, "inside" one; the way out still has to be free.
        """
        offset = end - start
        length = float(np.linalg.norm(offset))
        if length <= skip:
            return True
        return self.room.segment_free(start + offset * (skip / length), end,
                                      self.room.robot_radius + 0.02)

    def _bump_targets(self) -> list:
        """Candidate (point, reach) pairs: furniture centres and points 0.1 m into a wall."""
        out = [(np.array(c[:2], float), float(c[2])) for c in self.room.obstacles]
        wall = self.room.half_extent + 0.1
        along = self.rng.uniform(-0.8, 0.8, size=4) * self.room.half_extent
        out += [(np.array([wall, along[0]]), 0.1), (np.array([-wall, along[1]]), 0.1),
                (np.array([along[2], wall]), 0.1), (np.array([along[3], -wall]), 0.1)]
        return out

    def _bump_goal(self, start: np.ndarray) -> Optional[np.ndarray]:
        """A target whose straight approach is free up to just before the contact."""
        targets = self._bump_targets()
        for i in self.rng.permutation(len(targets)):
            point, reach = targets[i]
            offset = point - start
            dist = float(np.linalg.norm(offset))
            stop = dist - (reach + self.room.robot_radius + 0.08)
            if stop < 0.4:   # too close for a run-up
                continue
            before = start + offset * (stop / dist)
            if self._clear_path(start, before):
                return point
        return None

    def _next_goal(self, start: np.ndarray) -> None:
        self.goal, self.goal_kind = None, ''
        if self.goals % self.bump_every == 1:
            self.goal, self.goal_kind = self._bump_goal(start), 'bump'
        if self.goal is None:
            self.goal, self.goal_kind = self._random_goal(start), 'random'
        else:
            self.bumps_planned += 1
        self.goals += 1
        self._steps = self._pushed = 0

    # ------------------------------------------------------------------ control

    def __call__(self, pose: Sequence[float], twist: Sequence[float],
                 collision: bool) -> np.ndarray:
        """``(v, w)`` for odometry ``pose`` (x, y, yaw) and ``twist`` (v, w)."""
        x, y, yaw = (float(v) for v in pose)
        here, speed = np.array([x, y]), float(twist[0])
        if self._backoff > 0 and collision and self._backoff < self.backoff_steps and \
                abs(speed) < 0.5 * self.backoff_speed:
            self._backoff, self._avoid = 0, None   # blocked there too: any way out
        elif collision and self._backoff == 0 and self.goal is not None:
            if self.goal_kind == 'bump':
                self._pushed += 1
                if self._pushed > self.push_steps:
                    self._start_backoff(yaw)
            elif abs(self._last_v) > 0.15 and abs(speed) < 0.5 * abs(self._last_v):
                self._start_backoff(yaw)   # stalled against something
        if self._backoff > 0:
            self._backoff -= 1
            return np.clip(np.array([self._backoff_v, 0.0]), self.low, self.high)
        distance = math.inf if self.goal is None else float(np.linalg.norm(self.goal - here))
        if self.goal is None or self._steps >= self.max_steps or \
                (self.goal_kind == 'random' and distance < self.tolerance):
            self._next_goal(here)
            distance = float(np.linalg.norm(self.goal - here))
        self._steps += 1
        v, w = self._steer(here, yaw, distance)
        action = np.array([v, w]) + self.rng.normal(0.0, 1.0, 2) * self.sigma
        action = np.clip(action, self.low, self.high)
        self._last_v = float(action[0])
        return action

    def _start_backoff(self, yaw: float) -> None:
        """Move away from what it ran into: against the last direction of travel."""
        sign = 1.0 if self._last_v >= 0.0 else -1.0
        self._avoid = sign * np.array([math.cos(yaw), math.sin(yaw)])   # toward the contact
        self._backoff, self._backoff_v = self.backoff_steps, -sign * self.backoff_speed
        self._last_v = self._backoff_v
        self.goal, self.goal_kind = None, ''

    def _steer(self, here: np.ndarray, yaw: float, distance: float) -> Tuple[float, float]:
        """Turn toward the goal; drive when roughly facing it (slowing near random goals)."""
        error = float(wrap_angle(math.atan2(self.goal[1] - here[1], self.goal[0] - here[0])
                                 - yaw))
        facing = max(0.0, math.cos(error)) ** 2
        if self.goal_kind == 'bump':
            v = self.bump_speed * facing
        else:
            v = self.high[0] * facing * min(1.0, distance / 0.5)
        return v, self.heading_gain * error
