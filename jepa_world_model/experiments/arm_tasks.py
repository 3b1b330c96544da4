"""Arm reaching tasks for the closed-loop experiment: seeded goals, goal images, success.

A task is made from the seed of one simulator episode: an in-process
:class:`~jepa_world_model.sim.robots.ArmSim` is reset with that seed, which places the red
target ball and the start configuration exactly as ``sim_node``'s ``~/reset`` does for the
same seed. The goal configuration is drawn from a separate random stream of the same seed,
inside ``limit_fraction`` of each joint range, free of any contact (arm links with each
other or with the obstacle block) and with the end effector (site ``ee``) at least
``min_ee_move`` away from where it starts. With ``free_joint_path`` (the default) the
straight line from the start to the goal in joint space must be free of contacts too: a
goal behind the obstacle block, reachable only by folding the arm around it, needs a
detour that no short-horizon planner finds by descending its cost (the V-JEPA 2-AC reach
task has no obstacle either); such goals are drawn only when ``free_joint_path`` is off.
The goal image is the overhead camera frame of that scene with the arm set to the goal
configuration.

Success is geometric: the end effector within ``tolerance`` metres of the goal's.

No ROS here.
"""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

from dataclasses import dataclass  # noqa: E402
from typing import Optional  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from ..sim.robots import ArmSim  # noqa: E402

__all__ = ['GOAL_STREAM', 'ArmGoalSpec', 'ArmTask', 'ArmTaskFactory', 'ee_reached']

#: Second word of the goal generator's seed, so goals never reuse the simulator's draws.
GOAL_STREAM = 0x60A1
EE_SITE = 'ee'


@dataclass(frozen=True)
class ArmGoalSpec:
    """How goal configurations are drawn.

    Attributes:
        limit_fraction: Goals lie within this fraction of each joint's range.
        min_ee_move: The goal end effector is at least this far [m] from the start one.
        free_joint_path: The joint-space straight line start -> goal must be contact-free.
        path_step: Largest joint change [rad] between checked points of that line.
        max_tries: Rejection-sampling bound.
    """

    limit_fraction: float = 0.9
    min_ee_move: float = 0.15
    free_joint_path: bool = True
    path_step: float = 0.05
    max_tries: int = 2000


@dataclass
class ArmTask:
    """One reaching episode.

    Attributes:
        seed: Simulator episode seed (``sim_node`` ``~/reset`` reports it).
        q_start: [3] joint positions after the reset [rad].
        q_goal: [3] goal joint positions [rad].
        ee_start: [3] end-effector position at the start [m].
        ee_goal: [3] end-effector position at the goal [m].
        target_pos: [3] the red ball (scenery; the same in the goal image).
        goal_image: [S, S, 3] uint8 RGB frame of the goal scene, or None.
        joint_path_free: Whether the joint-space straight line start -> goal is free.
    """

    seed: int
    q_start: np.ndarray
    q_goal: np.ndarray
    ee_start: np.ndarray
    ee_goal: np.ndarray
    target_pos: np.ndarray
    goal_image: Optional[np.ndarray] = None
    joint_path_free: bool = True

    @property
    def start_distance(self) -> float:
        """End-effector distance [m] from start to goal."""
        return float(np.linalg.norm(self.ee_start - self.ee_goal))


def ee_reached(ee: np.ndarray, ee_goal: np.ndarray, tolerance: float) -> bool:
    """Whether end-effector position ``ee`` [3] lies within ``tolerance`` m of ``ee_goal``."""
    return bool(np.linalg.norm(np.asarray(ee) - np.asarray(ee_goal)) <= tolerance)


class ArmTaskFactory:
    """Makes :class:`ArmTask` s and measures the end effector; owns one ``ArmSim``.

    The same ``ArmSim`` serves the pixel planner (:mod:`.pixel_planner`) as its oracle:
    after :meth:`make_task` its scene (target ball) is the episode's.
    """

    def __init__(self, image_size: int = 64, control_dt: float = 0.1,
                 spec: ArmGoalSpec = ArmGoalSpec()) -> None:
        """Create the simulator (``control_dt`` must match ``sim_node``'s 1 / rate_hz)."""
        self.sim = ArmSim(image_size=image_size, control_dt=control_dt)
        self.spec = spec
        self._scratch = mujoco.MjData(self.sim.model)   # FK and contact checks
        self._site = self.sim.model.site(EE_SITE).id
        self.joint_limits = self.sim.joint_limits.copy()   # [3, 2]

    def _pose(self, q: np.ndarray) -> mujoco.MjData:
        d = self._scratch
        d.qpos[self.sim._qadr] = q
        d.qvel[:] = 0.0
        mujoco.mj_forward(self.sim.model, d)
        return d

    def ee_position(self, q: np.ndarray) -> np.ndarray:
        """End-effector (site ``ee``) position [3] at joint positions ``q`` [3]."""
        return self._pose(np.asarray(q, dtype=np.float64)).site_xpos[self._site].copy()

    def in_contact(self, q: np.ndarray) -> bool:
        """Whether the arm at ``q`` touches itself or the obstacle (the table, pedestal and
        ball are visual only, so every MuJoCo contact is one of these)."""
        return self._pose(np.asarray(q, dtype=np.float64)).ncon > 0

    def within_limits(self, q: np.ndarray) -> bool:
        """Whether ``q`` [3] lies inside the joint ranges."""
        q = np.asarray(q)
        return bool(np.all(q >= self.joint_limits[:, 0]) and np.all(q <= self.joint_limits[:, 1]))

    def joint_path_free(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        """Whether the straight joint-space line from ``q0`` to ``q1`` [3] is contact-free
        (checked every ``path_step`` rad of the largest joint change)."""
        q0, q1 = np.asarray(q0, np.float64), np.asarray(q1, np.float64)
        n = max(2, int(np.ceil(np.max(np.abs(q1 - q0)) / self.spec.path_step)) + 1)
        return not any(self.in_contact(q0 + t * (q1 - q0)) for t in np.linspace(0, 1, n))

    def sample_goal(self, seed: int, q_start: np.ndarray) -> np.ndarray:
        """A goal configuration [3] for episode ``seed`` (see the module docstring).

        Raises:
            RuntimeError: No configuration met the conditions within ``max_tries``.
        """
        rng = np.random.default_rng([int(seed), GOAL_STREAM])
        frac = self.spec.limit_fraction
        low, high = frac * self.joint_limits[:, 0], frac * self.joint_limits[:, 1]
        ee_start = self.ee_position(q_start)
        for _ in range(self.spec.max_tries):
            q = rng.uniform(low, high)
            if self.in_contact(q):
                continue
            if np.linalg.norm(self.ee_position(q) - ee_start) < self.spec.min_ee_move:
                continue
            if not self.spec.free_joint_path or self.joint_path_free(q_start, q):
                return q
        raise RuntimeError(f'no collision-free goal {self.spec.min_ee_move} m from the start '
                           f'within {self.spec.max_tries} tries (seed {seed})')

    def render_configuration(self, q: np.ndarray) -> np.ndarray:
        """Overhead frame [S, S, 3] uint8 of the current scene with the arm at ``q``, at rest.

        Leaves the factory's simulator in that state.
        """
        d = self.sim.data
        d.qpos[self.sim._qadr] = q
        d.qvel[:] = 0.0
        mujoco.mj_forward(self.sim.model, d)
        return self.sim.render()

    def make_task(self, seed: int, render: bool = True) -> ArmTask:
        """The task of simulator episode ``seed``; with ``render`` its goal image too."""
        obs = self.sim.reset(int(seed), render=False)
        q_goal = self.sample_goal(seed, obs.q)
        image = self.render_configuration(q_goal) if render else None
        return ArmTask(seed=int(seed), q_start=obs.q.copy(), q_goal=q_goal,
                       ee_start=self.ee_position(obs.q), ee_goal=self.ee_position(q_goal),
                       target_pos=np.asarray(obs.target_pos).copy(), goal_image=image,
                       joint_path_free=self.joint_path_free(obs.q, q_goal))

    def close(self) -> None:
        """Free the renderer."""
        self.sim.close()
