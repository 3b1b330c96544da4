"""The demo's driving policy: reach random joint targets, and now and then the obstacle.

Plain numpy, no rclpy and no simulator: it sees what a real controller would (measured
joint positions and the collision flag) and returns joint velocity commands. Every
``obstacle_every``-th goal is an inverse-kinematics target on the green block, so the arm
runs into it, keeps pushing for ``push_steps`` control steps (the stall is what should
surprise the world model) and then backs out to where the reach started. Other goals are
random joint positions within 90 % of the limits, as in the exploration policy the model
was trained with.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

__all__ = ['DemoArmPolicy', 'planar_ik']


def planar_ik(xy: Sequence[float], lengths: Sequence[float], elbow: float = 1.0,
              wrist: float = 0.0) -> Optional[np.ndarray]:
    """Joint angles that put the tip of a planar 3-link arm at ``xy`` with joint3 = ``wrist``.

    Links 2 and 3 with a fixed wrist angle form one virtual link, which reduces the
    problem to the two-link solution. ``elbow`` +1/-1 picks the elbow branch. Returns None
    when ``xy`` is out of reach.
    """
    l1, l2, l3 = (float(v) for v in lengths)
    # The virtual second link: from joint2 to the tip with joint3 fixed.
    vx, vy = l2 + l3 * math.cos(wrist), l3 * math.sin(wrist)
    lv, offset = math.hypot(vx, vy), math.atan2(vy, vx)
    x, y = float(xy[0]), float(xy[1])
    cos_q2 = (x * x + y * y - l1 * l1 - lv * lv) / (2.0 * l1 * lv)
    if abs(cos_q2) > 1.0:
        return None
    phi = math.copysign(math.acos(cos_q2), elbow)
    q1 = math.atan2(y, x) - math.atan2(lv * math.sin(phi), l1 + lv * math.cos(phi))
    return np.array([q1, phi - offset, wrist])


class DemoArmPolicy:
    """P-control toward a sequence of joint goals; some goals are inside the obstacle."""

    def __init__(self, joint_limits: np.ndarray, action_low: np.ndarray,
                 action_high: np.ndarray, obstacle_xy: Sequence[float],
                 link_lengths: Sequence[float], seed: int = 0, obstacle_every: int = 3,
                 gain: float = 2.0, tolerance: float = 0.1, max_steps: int = 30,
                 push_steps: int = 5, noise_fraction: float = 0.05) -> None:
        """Set up the goal generator.

        Args:
            joint_limits: [J, 2] lower and upper joint limits [rad].
            action_low, action_high: [J] command bounds [rad/s].
            obstacle_xy: Centre of the obstacle block in the arm's base frame [m].
            link_lengths: The three link lengths up to the tip [m].
            seed: Seeds goals and noise.
            obstacle_every: Goal i is on the obstacle when ``i % obstacle_every == 1``
                (so the second goal already is: short runs still see a collision).
            gain: P gain [1/s] of the joint-space controller.
            tolerance: A goal is reached when every joint is this close [rad].
            max_steps: Give up on a goal after this many steps.
            push_steps: Keep pushing this many steps after touching the obstacle.
            noise_fraction: Gaussian command noise, as a fraction of the command range.
        """
        self.limits = np.asarray(joint_limits, float)
        self.low, self.high = np.asarray(action_low, float), np.asarray(action_high, float)
        self.obstacle_xy = np.asarray(obstacle_xy, float)
        self.lengths = tuple(float(v) for v in link_lengths)
        self.rng = np.random.default_rng(seed)
        self.obstacle_every = max(1, int(obstacle_every))
        self.gain, self.tolerance = float(gain), float(tolerance)
        self.max_steps, self.push_steps = int(max_steps), int(push_steps)
        self.sigma = float(noise_fraction) * (self.high - self.low)
        self.goal: Optional[np.ndarray] = None
        self.goal_kind = ''
        self.goals = 0
        self._steps = 0
        self._pushed = 0
        self._retreat: Optional[np.ndarray] = None

    def _random_goal(self) -> np.ndarray:
        return self.rng.uniform(0.9 * self.limits[:, 0], 0.9 * self.limits[:, 1])

    def _obstacle_goal(self) -> Optional[np.ndarray]:
        """A joint goal whose tip lies a few cm past the block's centre (seen from the base)."""
        centre = self.obstacle_xy
        direction = centre / max(np.linalg.norm(centre), 1e-9)
        target = centre + direction * self.rng.uniform(0.0, 0.05) + \
            self.rng.normal(0.0, 0.02, size=2)
        for _ in range(8):
            q = planar_ik(target, self.lengths, elbow=self.rng.choice([-1.0, 1.0]),
                          wrist=self.rng.uniform(-0.6, 0.6))
            if q is not None and np.all(np.abs(q) <= 0.95 * self.limits[:, 1]):
                return q
        return None

    def _next_goal(self, q: np.ndarray) -> None:
        previous, self.goal = self.goal_kind, None
        if previous == 'obstacle' and self._retreat is not None:
            # Back out the way it came: the start of the reach was free of contact.
            self.goal, self.goal_kind = self._retreat, 'retreat'
        elif self.goals % self.obstacle_every == 1:
            self.goal, self.goal_kind, self._retreat = self._obstacle_goal(), 'obstacle', q
        if self.goal is None:
            self.goal, self.goal_kind = self._random_goal(), 'random'
        self.goals += 1
        self._steps = self._pushed = 0

    def __call__(self, q: np.ndarray, collision: bool) -> np.ndarray:
        """Velocity command [rad/s] for measured joint positions ``q``."""
        q = np.asarray(q, float)
        if collision:
            self._pushed += 1
        done = self.goal is None or self._steps >= self.max_steps or \
            self._pushed > self.push_steps or \
            np.max(np.abs(self.goal - q)) < self.tolerance
        if done:
            self._next_goal(q)
        self._steps += 1
        action = self.gain * (self.goal - q) + self.rng.normal(0.0, 1.0, len(q)) * self.sigma
        return np.clip(action, self.low, self.high)
