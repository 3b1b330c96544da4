"""Drive a simulated robot with an exploration policy and record it as a rosbag2.

Robots share one small API, the one ``jepa_world_model.sim``'s MuJoCo robots implement:
``reset(seed) -> obs``, ``step(action) -> obs`` with ``obs.time`` (s since reset),
``obs.image`` (uint8 [H, W, 3]), ``obs.q``, ``obs.dq``, ``obs.contact``, ``obs.collision``;
attributes ``joint_names``, ``action_names``, ``action_low``, ``action_high`` and ``dt``.
``gantry`` is built in (the generated scenes of ``core/training/synthetic.py``, rendered step
by step);
``arm``, ``mobile_base`` and ``tabletop`` come from ``jepa_world_model.sim.robots`` (MuJoCo)
when it is importable, with policies from ``jepa_world_model.sim.exploration`` (random,
scripted, noisy). The tabletop's object poses go into the bag on ``/ground_truth/<name>``
(PoseStamped) and its cube's material on ``/ground_truth/cube_material`` (std_msgs/String,
every frame), for evaluation read-outs only.

Episodes go into one bag, one after the other, separated by a pause of ``episode_gap_s``
(10 s) in the stamps: longer than the reader's ``max_gap_s`` (0.5 s by default), so reading
splits them there, exactly as it would split a real recording at a pause.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
import json
from pathlib import Path
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..core.config import BagConfig
from ..core.training.synthetic import _background, JOINT_NAMES, render, SceneSpec
from .errors import RecordError
from .writer import BagRecorder, RecorderTopics, TWIST_FIELDS

__all__ = ['Observation', 'GantryRobot', 'RandomHoldPolicy', 'RecordError', 'ROBOTS',
           'make_robot', 'make_policy', 'topics_for', 'record', 'EPISODE_GAP_S']

ROBOTS = ('gantry', 'arm', 'mobile_base', 'tabletop')
BASE_ROBOTS = ('mobile_base',)        # recorded with TwistStamped on /cmd_vel and odometry
#: Prefix of the ground-truth object pose topics of robots that report ``obs.objects``.
OBJECT_TOPIC_PREFIX = '/ground_truth'
EPISODE_GAP_S = 10.0


@dataclass
class Observation:
    """What a robot reports after reset or a step."""

    time: float
    image: np.ndarray
    q: np.ndarray
    dq: np.ndarray
    contact: bool = False
    collision: bool = False


class GantryRobot:
    """The 2-DoF gantry of ``core/training/synthetic.py`` behind the simulator API.

    Same scene and dynamics as ``generate_episode``: the command ``a`` in [-1, 1]^2 moves the
    robot by ``max_speed * a`` per step, stopped by the end stops; ``dq`` is the displacement
    of the last step (as in the generated episodes). ``contact``: the robot touches an end
    stop; ``collision``: this step's command was cut short by one.
    """

    def __init__(self, image_size: int = 64, distractor: str = 'moving',
                 dt: float = 0.1) -> None:
        if distractor not in ('moving', 'static', 'none'):
            raise RecordError(f'unknown distractor mode {distractor!r}')
        self.spec = SceneSpec(image_size=image_size)
        self.distractor = distractor
        self.joint_names = list(JOINT_NAMES)
        self.action_names = ['vel_x', 'vel_y']
        self.action_low, self.action_high = -np.ones(2), np.ones(2)
        self.dt = dt
        self._steps = 0

    def reset(self, seed: int) -> Observation:
        """Start an episode: new background, robot and distractor positions."""
        rng = np.random.default_rng(seed)
        # The same draws, in the same order, as core.synthetic.generate_episode.
        self._background = _background(self.spec.image_size, rng)
        self._pos = rng.uniform(0.0, 1.0, size=2)
        self._d_pos = rng.uniform(0.0, 1.0, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        self._d_vel = self.spec.distractor_speed * np.array([np.cos(angle), np.sin(angle)])
        self._vel = np.zeros(2)
        self._steps, self._collision = 0, False
        return self._observe()

    def step(self, action: np.ndarray) -> Observation:
        """Apply one command for one period ``dt``."""
        target = self._pos + self.spec.max_speed * np.clip(action, -1.0, 1.0)
        new_pos = np.clip(target, 0.0, 1.0)
        self._collision = bool(np.any(new_pos != target))
        self._vel, self._pos = new_pos - self._pos, new_pos
        if self.distractor == 'moving':
            self._d_pos = self._d_pos + self._d_vel
            for k in range(2):       # bounce off the walls
                if not 0.0 <= self._d_pos[k] <= 1.0:
                    self._d_vel[k] = -self._d_vel[k]
                    self._d_pos[k] = np.clip(self._d_pos[k], 0.0, 1.0)
        self._steps += 1
        return self._observe()

    def close(self) -> None:
        """Nothing to free; here for the simulator API."""

    def _observe(self) -> Observation:
        shown = None if self.distractor == 'none' else self._d_pos
        return Observation(time=self._steps * self.dt,
                           image=render(self._background, self._pos, shown, self.spec),
                           q=self._pos.copy(), dq=self._vel.copy(),
                           contact=bool(np.any((self._pos <= 0.0) | (self._pos >= 1.0))),
                           collision=self._collision)


class RandomHoldPolicy:
    """Piecewise-constant random commands, each held 2-6 steps.

    Half the commands move along one action dimension only (at 50-100 % of its range), half
    are uniform over the box, like ``core.synthetic``'s exploration: single-axis moves make
    the effect of each action dimension easy to learn.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int) -> None:
        self.low, self.high = np.asarray(low, float), np.asarray(high, float)
        self.rng = np.random.default_rng(seed)
        self._cmd, self._left = np.zeros_like(self.low), 0

    def __call__(self, obs: Any) -> np.ndarray:
        """The command for the frame just observed."""
        if self._left == 0:
            self._left = int(self.rng.integers(2, 7))
            if self.rng.random() < 0.5:
                mid = (self.low + self.high) / 2
                k = int(self.rng.integers(len(mid)))
                side = self.high[k] if self.rng.random() < 0.5 else self.low[k]
                self._cmd = mid.copy()
                self._cmd[k] = mid[k] + self.rng.uniform(0.5, 1.0) * (side - mid[k])
            else:
                self._cmd = self.rng.uniform(self.low, self.high)
        self._left -= 1
        return self._cmd.copy()


def _sim_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RecordError(f'{name} is not importable ({exc}); robots other than gantry need '
                          f'the MuJoCo simulator package') from exc


def make_robot(name: str, image_size: int) -> Any:
    """``gantry`` (built in) or a ``jepa_world_model.sim`` robot, imported only when asked.

    Call ``close()`` on it when done (a simulator robot frees its renderer).
    """
    if name == 'gantry':
        return GantryRobot(image_size=image_size)
    if name not in ROBOTS:
        raise RecordError(f'unknown robot {name!r}; choose one of {list(ROBOTS)}')
    robots = _sim_module('jepa_world_model.sim.robots')
    try:
        return robots.make_robot(name, image_size)
    except ValueError as exc:
        raise RecordError(f'cannot make robot {name!r}: {exc}') from exc


def make_policy(kind: str, robot: Any, seed: int) -> Callable[[Any], np.ndarray]:
    """The gantry's ``random`` policy, or the simulator's ``make_policy(kind, robot, seed)``."""
    if isinstance(robot, GantryRobot):
        if kind != 'random':
            raise RecordError(f'the gantry has only the random policy, not {kind!r}')
        return RandomHoldPolicy(robot.action_low, robot.action_high, seed)
    try:
        return _sim_module('jepa_world_model.sim.exploration').make_policy(kind, robot, seed)
    except ValueError as exc:
        raise RecordError(str(exc)) from exc


def topics_for(robot_name: str, robot: Any, base: Optional[BagConfig] = None,
               action_topic: str = '') -> RecorderTopics:
    """Topics for a robot: commands as Float64MultiArray, or TwistStamped for bases."""
    base = base or BagConfig()
    common = dict(image=base.image_topic, joint_states=base.joint_state_topic,
                  contact='/contact', collision='/collision')
    if robot_name not in BASE_ROBOTS:
        objects = OBJECT_TOPIC_PREFIX if hasattr(robot, 'object_poses') else ''
        return RecorderTopics(action=action_topic or base.action_topic,
                              action_type='float64_multi_array', objects=objects, **common)
    names = list(robot.action_names)
    if all(n in TWIST_FIELDS for n in names):
        fields = names
    elif len(names) == 2:          # a differential drive: forward speed and turn rate
        fields = ['linear.x', 'angular.z']
    else:
        raise RecordError(f'cannot map base actions {names} onto Twist fields')
    return RecorderTopics(action=action_topic or '/cmd_vel', action_type='twist_stamped',
                          action_fields=fields, odometry='/odom',
                          scan='/scan' if hasattr(robot, 'scan') else '', **common)


def record(robot: Any, policy_factory: Callable[[int], Callable[[Any], np.ndarray]],
           out: str | Path, episodes: int, steps: int, topics: RecorderTopics,
           storage: str = 'mcap', seed: int = 0, episode_gap_s: float = EPISODE_GAP_S,
           start_ns: Optional[int] = None, info: Optional[Dict[str, Any]] = None
           ) -> Dict[str, Any]:
    """Record ``episodes`` x ``steps`` frames into a new bag at ``out``.

    Frame t of an episode is stamped ``episode start + obs.time`` (start: the wall clock
    when recording began, or ``start_ns``), and the command chosen on seeing it gets the same
    stamp. Episode e uses seed ``seed + e`` for the robot and the policy.

    Returns:
        A summary: path, episodes, frames, message counts per topic.
    """
    if episodes < 1 or steps < 2:
        raise RecordError('need at least 1 episode of at least 2 steps')
    stamp = time.time_ns() if start_ns is None else int(start_ns)
    gap = int(episode_gap_s * 1e9)
    low, high = np.asarray(robot.action_low, float), np.asarray(robot.action_high, float)
    custom = {'jepa_world_model.recording': json.dumps(dict(
        info or {}, episodes=episodes, steps=steps, seed=seed, dt=float(robot.dt),
        joint_names=list(robot.joint_names), action_names=list(robot.action_names),
        episode_gap_s=episode_gap_s))}
    with BagRecorder(out, storage, topics, robot.joint_names, custom) as rec:
        for e in range(episodes):
            obs = robot.reset(seed + e)
            policy = policy_factory(seed + e)
            start, t0 = stamp, float(obs.time)
            for t in range(steps):
                action = np.clip(np.asarray(policy(obs), dtype=float), low, high)
                stamp = start + int(round((float(obs.time) - t0) * 1e9))
                rec.write_step(stamp, obs.image, obs.q, obs.dq, action,
                               contact=bool(obs.contact), collision=bool(obs.collision),
                               odometry=_odometry(obs), scan=getattr(obs, 'scan', None),
                               scan_range_max=float(getattr(robot, 'SCAN_RANGE_MAX', 0.0)),
                               objects=getattr(obs, 'objects', None),
                               labels=getattr(obs, 'labels', None))
                if t + 1 < steps:
                    obs = robot.step(action)
            stamp += gap
        counts = dict(rec.counts)
    return {'bag': str(out), 'episodes': episodes, 'frames': episodes * steps,
            'messages': counts}


def _odometry(obs: Any) -> Optional[List[np.ndarray]]:
    """(pose, twist) for Odometry when the robot reports ``base_pose`` (x, y, yaw) and
    optionally ``base_twist`` (v, w) of a differential drive; None otherwise."""
    pose = getattr(obs, 'base_pose', None)
    if pose is None:
        return None
    twist = getattr(obs, 'base_twist', None)
    v, w = (0.0, 0.0) if twist is None else (float(twist[0]), float(twist[-1]))
    return [np.asarray(pose, float), np.array([v, 0.0, w])]
