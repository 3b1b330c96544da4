"""What the agent predictor sees of one tracked agent, as a fixed-size vector (pure numpy).

Everything is expressed in the agent's own frame: origin at its current position, x along its
heading (its velocity when it walks faster than ``MOVING_SPEED``, else toward the robot:
a person who stands is most often waiting for the robot). So the predictor need not learn the
same motion once per direction, and a prediction made in one part of a map transfers to
another.

Per agent, ``FEATURES`` values:

* its past positions, ``HISTORY_STEPS`` samples ``HISTORY_PERIOD`` s apart relative to now,
  and the share of that window the track really covers (a young track's history is padded);
* its filtered velocity;
* the robot: where it is now, its velocity, and where it will be at each horizon time, from
  the robot's plan (people react to the robot: this is what constant velocity cannot know);
* the static map around it: the free distance along ``MAP_RAYS`` headings, up to
  ``MAP_RAY_MAX`` (people turn before walls and furniture). Without a map: all free.

Targets are the agent's displacements at ``HORIZONS_S`` in the same frame.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from .scan_detection import StaticMask

__all__ = ['HORIZONS_S', 'HISTORY_STEPS', 'HISTORY_PERIOD', 'MAP_RAYS', 'MAP_RAY_MAX',
           'MOVING_SPEED', 'FEATURES', 'VELOCITY_COLUMNS',
           'agent_headings', 'rotations', 'map_rays',
           'agent_features']

HORIZONS_S = (0.5, 1.0, 1.5, 2.0)
HISTORY_STEPS = 10
HISTORY_PERIOD = 0.1
MAP_RAYS = 12
MAP_RAY_MAX = 2.0
MOVING_SPEED = 0.1   # m/s: slower than this, the velocity's direction is mostly noise
_RAY_STEP = 0.05
FEATURES = 2 * HISTORY_STEPS + 1 + 2 + 2 + 2 + 2 * len(HORIZONS_S) + MAP_RAYS
#: Columns holding the filtered velocity in the agent frame (after the history and coverage).
VELOCITY_COLUMNS = slice(2 * HISTORY_STEPS + 1, 2 * HISTORY_STEPS + 3)


def agent_headings(velocity: np.ndarray, position: np.ndarray, robot_xy: np.ndarray
                   ) -> np.ndarray:
    """``[K]`` heading [rad] of each agent's frame (velocity ``[K, 2]``, position
    ``[K, 2]``, robot ``(2,)``); see the module docstring."""
    moving = np.linalg.norm(velocity, axis=-1) > MOVING_SPEED
    toward = robot_xy[None, :] - position
    direction = np.where(moving[:, None], velocity, toward)
    return np.arctan2(direction[:, 1], direction[:, 0])


def rotations(heading: np.ndarray) -> np.ndarray:
    """``[K, 2, 2]`` rotations from the agent frame to the world (odom) frame."""
    c, s = np.cos(heading), np.sin(heading)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def map_rays(static: Optional[StaticMask], position: np.ndarray, heading: np.ndarray
             ) -> np.ndarray:
    """``[K, MAP_RAYS]`` free distance [m] from each agent along headings ``heading + 2 pi j /
    MAP_RAYS`` to the first occupied (not grown) map cell, capped at ``MAP_RAY_MAX``. Off the
    map counts as occupied: nobody walks out of the mapped space."""
    k = len(position)
    if static is None or k == 0:
        return np.full((k, MAP_RAYS), MAP_RAY_MAX)
    steps = np.arange(1, int(round(MAP_RAY_MAX / _RAY_STEP)) + 1) * _RAY_STEP      # [S]
    angles = heading[:, None] + 2.0 * math.pi * np.arange(MAP_RAYS)[None, :] / MAP_RAYS
    xy = (position[:, None, None, :] + steps[None, None, :, None] *
          np.stack([np.cos(angles), np.sin(angles)], -1)[:, :, None, :])       # [K, R, S, 2]
    row, col, inside = static.cells(xy.reshape(-1, 2))
    blocked = (~inside | static.occupied[row, col]).reshape(k, MAP_RAYS, len(steps))
    first = np.where(blocked.any(-1), blocked.argmax(-1), len(steps))
    return np.concatenate([[0.0], steps])[first]


def agent_features(history: np.ndarray, covered: np.ndarray, velocity: np.ndarray,
                   robot_pose: np.ndarray, robot_velocity: np.ndarray,
                   robot_future: np.ndarray, static: Optional[StaticMask]
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """The predictor's input of ``K`` agents at one time.

    Args:
        history: ``[K, HISTORY_STEPS, 2]`` positions (odom), oldest first, last = now.
        covered: ``[K]`` seconds of real history in that window.
        velocity: ``[K, 2]`` filtered velocities (odom) [m/s].
        robot_pose: ``(x, y, yaw)`` of the robot now (odom).
        robot_velocity: ``(2,)`` the robot's velocity (odom) [m/s].
        robot_future: ``[len(HORIZONS_S), 2]`` the robot's planned positions (odom).
        static: The map, or None.

    Returns:
        ``(features [K, FEATURES] float32, rotation [K, 2, 2])``: ``rotation`` turns agent-
        frame vectors into odom-frame ones (its transpose the other way).
    """
    history = np.asarray(history, dtype=np.float64).reshape(-1, HISTORY_STEPS, 2)
    if len(history) == 0:   # no agents (yet): nothing to predict
        return np.zeros((0, FEATURES), np.float32), np.zeros((0, 2, 2))
    velocity = np.asarray(velocity, dtype=np.float64).reshape(-1, 2)
    robot_xy = np.asarray(robot_pose, dtype=np.float64)[:2]
    now = history[:, -1, :]
    heading = agent_headings(velocity, now, robot_xy)
    rot = rotations(heading)
    to_agent = np.swapaxes(rot, -1, -2)                 # world -> agent frame

    def local(vectors: np.ndarray) -> np.ndarray:       # [K, N, 2] world -> agent frame
        return np.einsum('kij,knj->kni', to_agent, vectors)

    k = len(now)
    future = np.asarray(robot_future, dtype=np.float64).reshape(1, -1, 2)
    parts = [
        local(history - now[:, None, :]).reshape(k, -1),
        np.clip(np.asarray(covered, dtype=np.float64).reshape(k, 1) /
                (HISTORY_PERIOD * (HISTORY_STEPS - 1)), 0.0, 1.0),
        local(velocity[:, None, :]).reshape(k, 2),
        local((robot_xy - now)[:, None, :]).reshape(k, 2),
        local(np.broadcast_to(np.asarray(robot_velocity, float).reshape(1, 1, 2),
                              (k, 1, 2))).reshape(k, 2),
        local(future - now[:, None, :]).reshape(k, -1),
        map_rays(static, now, heading),
    ]
    return np.concatenate(parts, axis=-1).astype(np.float32), rot
