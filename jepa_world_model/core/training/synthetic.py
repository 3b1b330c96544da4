"""Generated scenes with known ground truth: a 2-DoF gantry robot plus a salient distractor.

The robot is a small red end effector on two prismatic joints (``joint_x``, ``joint_y``, metres
on a 1 m x 1 m gantry) driven by velocity commands ``a`` in [-1, 1]^2. A large object that the
action does not control either bounces around on its own (``moving``) or sits still
(``static``). It covers ~6x more pixels than the robot on purpose: our calibration run showed a
small image-only JEPA happily learning such a distractor while ignoring the robot
(../shared/reference/calibration.md), and these scenes let the tests measure both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from .data import Episode

JOINT_NAMES = ['joint_x', 'joint_y']
DIRECTIONS = ['+x', '-x', '+y', '-y']   # class ids 0..3 for the motion-direction probe


@dataclass
class SceneSpec:
    """Geometry of the generated scene."""

    image_size: int = 64
    robot_fraction: float = 0.16        # side of the robot square / image side
    distractor_fraction: float = 0.34   # side of the distractor / image side
    max_speed: float = 0.10             # joint displacement per step at |a| = 1
    distractor_speed: float = 0.05


def _pixel_box(pos: np.ndarray, side: int, size: int) -> tuple:
    top_left = np.round(pos * (size - side)).astype(int)
    return top_left[1], top_left[0]     # row (y), col (x)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Dim checkerboard with mild noise, the same kind of clutter a lab floor gives."""
    cell = max(size // 8, 1)
    yy, xx = np.mgrid[0:size, 0:size]
    checker = ((yy // cell + xx // cell) % 2).astype(np.float32)
    base = 40 + 25 * checker[..., None] + rng.normal(0, 3, (size, size, 1))
    tint = np.array([1.0, 1.05, 1.1], dtype=np.float32)
    return np.clip(base * tint, 0, 255).astype(np.uint8)


def render(background: np.ndarray, robot_pos: np.ndarray, distractor_pos: np.ndarray | None,
           spec: SceneSpec) -> np.ndarray:
    """Draw one frame: uint8 [H, W, 3]. Positions are in [0, 1]^2 (x right, y down)."""
    size = spec.image_size
    frame = background.copy()
    if distractor_pos is not None:
        side = max(int(round(spec.distractor_fraction * size)), 2)
        r, c = _pixel_box(distractor_pos, side, size)
        frame[r:r + side, c:c + side] = (60, 140, 230)
        frame[r + side // 4:r + 3 * side // 4, c + side // 4:c + 3 * side // 4] = (240, 240, 90)
    side = max(int(round(spec.robot_fraction * size)), 2)
    r, c = _pixel_box(robot_pos, side, size)
    frame[r:r + side, c:c + side] = (230, 40, 40)
    return frame


def _exploration_actions(steps: int, rng: np.random.Generator) -> np.ndarray:
    """Piecewise-constant commands: half along one axis (cardinal), half free, held 2-6 steps."""
    actions = np.zeros((steps, 2), dtype=np.float32)
    t = 0
    while t < steps:
        hold = int(rng.integers(2, 7))
        if rng.random() < 0.5:
            axis, sign = int(rng.integers(0, 2)), rng.choice([-1.0, 1.0])
            cmd = np.zeros(2)
            cmd[axis] = sign * rng.uniform(0.5, 1.0)
        else:
            cmd = rng.uniform(-1.0, 1.0, size=2)
        actions[t:t + hold] = cmd
        t += hold
    return actions


def generate_episode(steps: int, rng: np.random.Generator, spec: SceneSpec,
                     distractor: str = 'moving') -> Episode:
    """Simulate and render one episode of ``steps`` frames.

    Extras: ``robot_pos`` [T, 2], ``distractor_pos`` [T, 2] (nan when absent).
    """
    if distractor not in ('moving', 'static', 'none'):
        raise ValueError(f'unknown distractor mode {distractor!r}')
    background = _background(spec.image_size, rng)
    pos = rng.uniform(0.0, 1.0, size=2)
    d_pos = rng.uniform(0.0, 1.0, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    d_vel = spec.distractor_speed * np.array([np.cos(angle), np.sin(angle)])
    actions = _exploration_actions(steps, rng)
    images, states, robot, other = [], [], [], []
    vel = np.zeros(2)
    for t in range(steps):
        shown = None if distractor == 'none' else d_pos
        images.append(render(background, pos, shown, spec))
        states.append(np.concatenate([pos, vel]))
        robot.append(pos.copy())
        other.append(d_pos.copy() if shown is not None else np.full(2, np.nan))
        # The gantry's joints stop at their limits, so the velocity is what actually happened.
        new_pos = np.clip(pos + spec.max_speed * actions[t], 0.0, 1.0)
        vel, pos = new_pos - pos, new_pos
        if distractor == 'moving':
            d_pos = d_pos + d_vel
            for k in range(2):     # bounce off the walls
                if not 0.0 <= d_pos[k] <= 1.0:
                    d_vel[k] = -d_vel[k]
                    d_pos[k] = np.clip(d_pos[k], 0.0, 1.0)
    return Episode(images=np.stack(images), s=np.asarray(states, dtype=np.float32),
                   a=actions, extras={'robot_pos': np.asarray(robot, dtype=np.float32),
                                      'distractor_pos': np.asarray(other, dtype=np.float32)})


def generate_episodes(num_episodes: int, steps: int, seed: int, spec: SceneSpec | None = None,
                      distractor: str = 'moving') -> List[Episode]:
    """A seeded list of episodes; the same seed always gives identical data."""
    spec = spec or SceneSpec()
    rng = np.random.default_rng(seed)
    return [generate_episode(steps, rng, spec, distractor) for _ in range(num_episodes)]


def motion_direction_labels(episode: Episode, min_step: float = 0.03,
                            dominance: float = 2.0) -> np.ndarray:
    """Class of the robot's motion from frame t to t + 1 (0..3 as DIRECTIONS), -1 if ambiguous.

    A transition counts only when the robot clearly moved along one axis: displacement above
    ``min_step`` and ``dominance`` times larger than the other axis.
    """
    pos = episode.extras['robot_pos']
    d = np.diff(pos, axis=0)                      # [T-1, 2]
    labels = np.full(len(d), -1, dtype=np.int64)
    ax, ay = np.abs(d[:, 0]), np.abs(d[:, 1])
    along_x = (ax > min_step) & (ax > dominance * ay)
    along_y = (ay > min_step) & (ay > dominance * ax)
    labels[along_x & (d[:, 0] > 0)] = 0
    labels[along_x & (d[:, 0] < 0)] = 1
    labels[along_y & (d[:, 1] > 0)] = 2
    labels[along_y & (d[:, 1] < 0)] = 3
    return labels
