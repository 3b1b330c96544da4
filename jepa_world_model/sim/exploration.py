"""Exploration policies that drive a :class:`~.robots.SimRobot` through varied states.

``make_policy(kind, robot, seed)`` returns a callable ``policy(obs) -> action``:

* ``random``: uniform random actions, each held for 2-8 steps (piecewise constant, so the
  robot actually gets somewhere instead of jittering in place);
* ``scripted``: goal seeking. The arm P-controls its joints toward random joint targets;
  the tabletop robot pushes the block and grasps the cube (:mod:`.tabletop_policies`);
  the base steers toward random free positions (turn, then drive). A new goal is drawn
  when the old one is reached or after a time limit (e.g. when blocked by an obstacle);
  the base also backs off briefly after a collision;
* ``scripted_open_loop`` (tabletop only): ``scripted`` with each grasp's close and lift
  commanded blind, so the commands do not tell whether the cube held
  (:mod:`.tabletop_policies`);
* ``noisy``: ``scripted`` plus Gaussian noise (20% of the action range), clipped;
* ``seek``: ``noisy``, but half of the base's goals are where a person stands, so the
  recording holds many close encounters with people (and bumps into them) to learn from;
* ``seek_wait``: ``seek`` with waits: now and then (3 % of steps) the robot stops and holds
  an exact zero command for 5-20 steps, noise-free, as a robot waiting for a person does.
  ``noisy`` and ``seek`` never command zero (the noise is always on), so a model trained on
  them has not seen what stopping does: rolled out under zero commands for 3.2 s, the
  shipped base model turns by a median 0.27 rad where the robot stops within a step
  (``diagnose hold-drift``, docs/agents.md).

Policies keep their own state and random generator: the same seed and the same
observations give the same actions.
"""

import math
from typing import Callable, Optional

import numpy as np

from .robots import SimObservation, SimRobot
from .tabletop_policies import ScriptedTabletopPolicy

__all__ = ['POLICY_KINDS', 'make_policy', 'RandomPolicy', 'ScriptedArmPolicy',
           'ScriptedBasePolicy', 'NoisyPolicy', 'WaitingPolicy']

POLICY_KINDS = ('random', 'scripted', 'scripted_open_loop', 'noisy', 'seek', 'seek_wait')
Policy = Callable[[SimObservation], np.ndarray]


def _wrap(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class RandomPolicy:
    """Piecewise-constant uniform random actions, held for ``hold`` steps each."""

    def __init__(self, robot: SimRobot, seed: int, hold=(2, 8)) -> None:
        """``hold``: inclusive range of steps an action is kept."""
        self.low, self.high = robot.action_low, robot.action_high
        self.rng = np.random.default_rng(seed)
        self.hold = hold
        self._action = np.zeros(len(self.low))
        self._left = 0

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """Next action (``obs`` is not needed)."""
        if self._left <= 0:
            self._action = self.rng.uniform(self.low, self.high)
            self._left = int(self.rng.integers(self.hold[0], self.hold[1] + 1))
        self._left -= 1
        return self._action.copy()


class ScriptedArmPolicy:
    """P-control of the joints toward random joint-space targets."""

    def __init__(self, robot: SimRobot, seed: int, gain: float = 2.0,
                 tolerance: float = 0.1, max_steps: int = 30) -> None:
        """``max_steps``: give up on a target (e.g. blocked by the obstacle) after this."""
        self.robot = robot
        self.rng = np.random.default_rng(seed)
        self.gain, self.tolerance, self.max_steps = gain, tolerance, max_steps
        self.goal: Optional[np.ndarray] = None
        self._steps = 0

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """Velocity command toward the current joint target."""
        # Blocked by the obstacle: push a little (contact data), then try another goal.
        blocked = obs.collision and self._steps >= 3
        if self.goal is None or self._steps >= self.max_steps or blocked or \
                np.max(np.abs(self.goal - obs.q)) < self.tolerance:
            self.goal = self.robot.sample_waypoint(self.rng)
            self._steps = 0
        self._steps += 1
        action = self.gain * (self.goal - obs.q)
        return np.clip(action, self.robot.action_low, self.robot.action_high)


class ScriptedBasePolicy:
    """Turn toward a random free position and drive there; back off after collisions."""

    def __init__(self, robot: SimRobot, seed: int, heading_gain: float = 2.0,
                 tolerance: float = 0.15, max_steps: int = 120, backoff_steps: int = 3,
                 person_goal_prob: float = 0.0) -> None:
        """``max_steps``: give up on a goal (e.g. blocked by a person) after this;
        ``person_goal_prob``: chance that a new goal is a person's current position."""
        if not 0.0 <= person_goal_prob <= 1.0:
            raise ValueError(f'person_goal_prob must be in [0, 1], got {person_goal_prob!r}')
        self.robot = robot
        self.rng = np.random.default_rng(seed)
        self.heading_gain, self.tolerance = heading_gain, tolerance
        self.max_steps, self.backoff_steps = max_steps, backoff_steps
        self.person_goal_prob = person_goal_prob
        self.goal: Optional[np.ndarray] = None
        self._steps = 0
        self._backoff = 0
        self._last_v = 0.0

    def _reachable_goal(self, start: np.ndarray) -> np.ndarray:
        """A random free goal, preferably one reachable in a straight line (no planner), or
        (``person_goal_prob``) where a person stands now."""
        people = getattr(self.robot, 'people_positions', None)
        if people is not None and self.rng.random() < self.person_goal_prob:
            here = people()
            return here[int(self.rng.integers(len(here)))].copy()
        goal = self.robot.sample_waypoint(self.rng)
        check = getattr(self.robot, 'segment_free', None)
        for _ in range(20):
            if check is None or check(start, goal, 0.2):
                break
            goal = self.robot.sample_waypoint(self.rng)
        return goal

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """(v, w) toward the current goal."""
        low, high = self.robot.action_low, self.robot.action_high
        if obs.base_pose is None:
            raise ValueError('ScriptedBasePolicy needs observations with base_pose')
        x, y, yaw = obs.base_pose
        if obs.collision and self._backoff == 0:
            # Blocked ahead: commanded forward but stalled. Back off and pick another goal.
            # (A contact while already moving away, or when reversing, needs no back-off.)
            speed = obs.base_twist[0] if obs.base_twist is not None else 0.0
            if self._last_v > 0.05 and speed < 0.5 * self._last_v:
                self._backoff = self.backoff_steps
                self.goal = None
        if self._backoff > 0:
            self._backoff -= 1
            self._last_v = low[0]
            return np.array([low[0], 0.0])
        distance = math.inf if self.goal is None else math.hypot(self.goal[0] - x,
                                                                 self.goal[1] - y)
        if distance < self.tolerance or self._steps >= self.max_steps:
            self.goal = None
        if self.goal is None:
            self.goal = self._reachable_goal(np.array([x, y]))
            self._steps = 0
            distance = math.hypot(self.goal[0] - x, self.goal[1] - y)
        self._steps += 1
        error = _wrap(math.atan2(self.goal[1] - y, self.goal[0] - x) - yaw)
        # Drive only when roughly facing the goal, slow down near it.
        v = high[0] * max(0.0, math.cos(error)) ** 2 * min(1.0, distance / 0.5)
        w = self.heading_gain * error
        action = np.clip(np.array([v, w]), low, high)
        self._last_v = float(action[0])
        return action


class NoisyPolicy:
    """Another policy's action plus Gaussian noise, clipped to the bounds."""

    def __init__(self, inner: Policy, robot: SimRobot, seed: int,
                 noise_fraction: float = 0.2) -> None:
        """Noise std = ``noise_fraction`` x (action_high - action_low)."""
        self.inner = inner
        self.low, self.high = robot.action_low, robot.action_high
        self.sigma = noise_fraction * (self.high - self.low)
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """Noisy version of the inner policy's action."""
        action = self.inner(obs) + self.rng.normal(0.0, 1.0, size=len(self.low)) * self.sigma
        return np.clip(action, self.low, self.high)


class WaitingPolicy:
    """Another policy, with waits: at each step, with probability ``wait_prob``, a wait
    of ``hold`` steps (inclusive range) starts, during which the command is exactly zero.
    The inner policy is not called while waiting (its goal and timers pause too)."""

    def __init__(self, inner: Policy, robot: SimRobot, seed: int, wait_prob: float = 0.03,
                 hold=(5, 20)) -> None:
        if not 0.0 <= wait_prob <= 1.0:
            raise ValueError(f'wait_prob must be in [0, 1], got {wait_prob!r}')
        if not 1 <= hold[0] <= hold[1]:
            raise ValueError(f'hold must be (low, high) with 1 <= low <= high, got {hold!r}')
        self.inner, self.wait_prob, self.hold = inner, float(wait_prob), hold
        self.size = len(robot.action_low)
        self.rng = np.random.default_rng(seed)
        self._left = 0

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """Zero while a wait lasts, else the inner policy's action."""
        if self._left == 0 and self.rng.random() < self.wait_prob:
            self._left = int(self.rng.integers(self.hold[0], self.hold[1] + 1))
        if self._left > 0:
            self._left -= 1
            return np.zeros(self.size)
        return self.inner(obs)


def _scripted(robot: SimRobot, seed: int, person_goal_prob: float = 0.0) -> Policy:
    if robot.name == 'tabletop':
        return ScriptedTabletopPolicy(robot, seed)
    if robot.name == 'mobile_base':
        return ScriptedBasePolicy(robot, seed, person_goal_prob=person_goal_prob)
    if robot.name == 'arm':
        return ScriptedArmPolicy(robot, seed)
    raise ValueError(f'no scripted policy for robot {robot.name!r}')


def make_policy(kind: str, robot: SimRobot, seed: int = 0) -> Policy:
    """Exploration policy ``kind`` (one of :data:`POLICY_KINDS`) for ``robot``."""
    if kind == 'random':
        return RandomPolicy(robot, seed)
    if kind == 'scripted':
        return _scripted(robot, seed)
    if kind == 'scripted_open_loop':
        if robot.name != 'tabletop':
            raise ValueError(f"policy 'scripted_open_loop' is for the tabletop robot (its "
                             f'grasps), not {robot.name!r}')
        return ScriptedTabletopPolicy(robot, seed, open_loop_grasp=True)
    if kind in ('noisy', 'seek', 'seek_wait'):
        # Separate streams for goals and noise (and waits), all derived from ``seed``;
        # noisy and seek draw exactly what they drew before seek_wait existed.
        inner_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
        inner = _scripted(robot, int(inner_seed), 0.0 if kind == 'noisy' else 0.5)
        noisy = NoisyPolicy(inner, robot, int(noise_seed))
        if kind != 'seek_wait':
            return noisy
        wait_seed = np.random.SeedSequence([seed, 1]).generate_state(1)[0]
        return WaitingPolicy(noisy, robot, int(wait_seed))
    raise ValueError(f'unknown policy kind {kind!r}; choose one of {list(POLICY_KINDS)}')
