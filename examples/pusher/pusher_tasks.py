"""Seeded reach tasks for the Pusher arm: a start, a reachable goal pose and its image.

Episode seed s: gymnasium's reset with seed s (the arm at rest at q = 0, the object and the
goal marker drawn). The goal configuration is where 1 s of random exploration (20 steps of
``RandomHoldPolicy`` torques, the policy the training bag was recorded with, seeded from s)
takes the arm from that start (the first of up to 10 rollouts that ends at least 0.15 m
from the start, so the start never meets the goal): reachable by construction and inside
the training data's distribution. The goal image is the camera frame of that
configuration at rest, with the object and marker where the episode starts (the robot
cannot move them back). Success is judged on the finger tips (body ``tips_arm``): their
distance to the goal configuration's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jepa_world_model.bags.recording import RandomHoldPolicy

from pusher_robot import PusherRobot

__all__ = ['PusherTask', 'PusherTaskFactory', 'GOAL_STREAM']

GOAL_STREAM = 0x60A1        # the goal rollout's random stream, apart from the recording's
MAX_ATTEMPTS = 10


@dataclass
class PusherTask:
    """One episode's task.

    Attributes:
        seed: Episode seed (the robot node's ``~/reset`` reports it).
        q_start, q_goal: [7] joint positions [rad].
        ee_start, ee_goal: [3] finger-tip positions [m].
        goal_image: [S, S, 3] uint8 RGB of the goal configuration.
        start_distance: |ee_goal - ee_start| [m].
    """

    seed: int
    q_start: np.ndarray
    q_goal: np.ndarray
    ee_start: np.ndarray
    ee_goal: np.ndarray
    goal_image: np.ndarray
    start_distance: float


class PusherTaskFactory:
    """Builds tasks in-process on its own :class:`PusherRobot` (no ROS)."""

    def __init__(self, image_size: int = 64, goal_steps: int = 20,
                 min_distance: float = 0.15) -> None:
        if goal_steps < 1 or min_distance < 0:
            raise ValueError(f'goal_steps must be >= 1 and min_distance >= 0, got '
                             f'{goal_steps} and {min_distance}')
        self.robot = PusherRobot(image_size)
        self.goal_steps, self.min_distance = int(goal_steps), float(min_distance)

    def make_task(self, seed: int) -> PusherTask:
        """The task of episode ``seed``; the robot is left at that episode's start.

        Raises:
            RuntimeError: No rollout of ``MAX_ATTEMPTS`` ends ``min_distance`` away.
        """
        robot = self.robot
        for attempt in range(MAX_ATTEMPTS):   # a goal the start already meets tests nothing
            start = robot.reset(seed)
            policy = RandomHoldPolicy(robot.action_low, robot.action_high, seed=int(
                np.random.SeedSequence([seed, GOAL_STREAM, attempt]).generate_state(1)[0]))
            obs = start
            for _ in range(self.goal_steps):
                obs = robot.step(policy(obs))
            if np.linalg.norm(obs.ee - start.ee) >= self.min_distance:
                break
        else:
            raise RuntimeError(f'seed {seed}: no goal {self.min_distance} m from the start '
                               f'in {MAX_ATTEMPTS} rollouts of {self.goal_steps} steps')
        q_goal = obs.q.copy()
        robot.reset(seed)                      # object and marker back at the start
        goal = robot.pose_at(q_goal)
        return PusherTask(seed=int(seed), q_start=start.q.copy(), q_goal=q_goal,
                          ee_start=start.ee.copy(), ee_goal=goal.ee.copy(),
                          goal_image=goal.image,
                          start_distance=float(np.linalg.norm(goal.ee - start.ee)))

    def ee_position(self, q: np.ndarray) -> np.ndarray:
        """[3] finger-tip position of configuration ``q`` [7] (forward kinematics)."""
        return self.robot.pose_at(q, render=False).ee

    def close(self) -> None:
        """Free the renderer."""
        self.robot.close()
