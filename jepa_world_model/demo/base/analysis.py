"""What the base demo measures on the predicted path, as pure numpy (no rclpy).

``world_model_node`` publishes, for every frame at stamp t, ``~/predicted_path``: H + 1
poses (x, y, yaw) for ``t + k * dt``, k = 0..H, decoded by the model's pose probe (k = 0
is the current frame). :func:`path_errors` compares them with the odometry at those times,
next to two baselines from the same odometry samples:

* constant velocity: the odometry twist (v, w) at t held for k steps (a unicycle arc from
  the odometry pose at t, :func:`unicycle_rollout`);
* nothing changes: the odometry pose at t.

Both baselines start from the true pose; the model starts from what it sees in a 64x64
image (5 cm per pixel). ``model_anchored`` therefore also scores the model's predicted
*motion*: the odometry pose at t plus the predicted change ``pose_k - pose_0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Dict, List

import numpy as np

from ..analysis import interpolate_at
from .geometry import wrap_angle

__all__ = ['PathRecording', 'unicycle_rollout', 'odometry_at', 'path_errors',
           'format_path_summary']

_KEYS = ('model', 'model_anchored', 'constant_velocity', 'nothing_changes')


@dataclass
class PathRecording:
    """Odometry and predicted paths of one run, sorted by stamp (seconds of sim time).

    Attributes:
        odom_t: [N] odometry stamps.
        odom_pose: [N, 3] (x, y, yaw) [m, rad].
        odom_twist: [N, 2] (v, w) in base_link [m/s, rad/s].
        path_t: [P] header stamps of ``~/predicted_path`` (= the frame's stamp).
        path_pose: [P, H + 1, 3] predicted poses for ``path_t + path_dt``.
        path_dt: [H + 1] offsets of the poses from the header stamp (0, dt, ..., H dt).
    """

    odom_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    odom_pose: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    odom_twist: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    path_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    path_pose: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 3)))
    path_dt: np.ndarray = field(default_factory=lambda: np.zeros(1))


def unicycle_rollout(pose: np.ndarray, twist: np.ndarray, dts: np.ndarray) -> np.ndarray:
    """Poses after holding (v, w) for each time in ``dts``: [N, 3] x [N, 2] x [K] -> [N, K, 3].

    The exact arc of a differential drive: ``x + v/w (sin(yaw + w t) - sin yaw)``, ...; a
    straight line where ``|w|`` is tiny.
    """
    pose, twist = np.atleast_2d(pose).astype(float), np.atleast_2d(twist).astype(float)
    t = np.asarray(dts, float)[None, :]
    x, y, yaw = (pose[:, i:i + 1] for i in range(3))
    v, w = twist[:, 0:1], twist[:, 1:2]
    yaw_t = yaw + w * t
    straight = np.abs(w) < 1e-6
    w_safe = np.where(straight, 1.0, w)
    dx = np.where(straight, v * t * np.cos(yaw), v / w_safe * (np.sin(yaw_t) - np.sin(yaw)))
    dy = np.where(straight, v * t * np.sin(yaw), -v / w_safe * (np.cos(yaw_t) - np.cos(yaw)))
    return np.stack([x + dx, y + dy, wrap_angle(yaw_t)], axis=-1)


def odometry_at(rec: PathRecording, query: np.ndarray, max_gap: float) -> tuple:
    """Pose [Q, 3], twist [Q, 2] and validity [Q] at ``query`` times (yaw interpolated
    along the shortest turn; gaps longer than ``max_gap`` are not bridged)."""
    pose = np.asarray(rec.odom_pose, float).reshape(-1, 3).copy()
    pose[:, 2] = np.unwrap(pose[:, 2])
    at, ok = interpolate_at(rec.odom_t, pose, query, max_gap)
    twist, ok_twist = interpolate_at(rec.odom_t, np.asarray(rec.odom_twist, float)
                                     .reshape(-1, 2), query, max_gap)
    at[:, 2] = wrap_angle(at[:, 2])
    return at, twist, ok & ok_twist


def _scores(pred: np.ndarray, truth: np.ndarray) -> tuple:
    """Mean position error [m] and mean absolute yaw error [rad] over rows."""
    xy = np.hypot(pred[:, 0] - truth[:, 0], pred[:, 1] - truth[:, 1])
    yaw = np.abs(wrap_angle(pred[:, 2] - truth[:, 2]))
    return float(xy.mean()), float(yaw.mean())


def path_errors(rec: PathRecording, max_gap: float) -> Dict[str, Any]:
    """Position and yaw error of the predicted path per horizon, model vs baselines.

    Pair (i, k) counts when the odometry at ``path_t[i]`` and at ``path_t[i] +
    path_dt[k]`` was measured; all predictors are scored on the same pairs.

    Returns:
        ``horizon_steps`` and ``horizon_s`` (k = 1..H), ``pairs``, then for each of
        ``model``, ``model_anchored``, ``constant_velocity``, ``nothing_changes`` the mean
        position error [m] per horizon, the same with the suffix ``_yaw`` [rad], and
        ``model_now`` / ``model_now_yaw``: the pose probe's error on the current frame
        (k = 0), with ``pairs_now``. Empty horizons give NaN.
    """
    path_t = np.asarray(rec.path_t, float)
    poses = np.asarray(rec.path_pose, float)
    dts = np.asarray(rec.path_dt, float)
    start, twist, ok0 = odometry_at(rec, path_t, max_gap)
    out: Dict[str, Any] = {'horizon_steps': list(range(1, len(dts))),
                           'horizon_s': [float(d) for d in dts[1:]], 'pairs': []}
    for key in _KEYS:
        out[key], out[key + '_yaw'] = [], []
    now = ok0.copy()
    out['pairs_now'] = int(now.sum())
    out['model_now'], out['model_now_yaw'] = (
        _scores(poses[now, 0], start[now]) if now.any() else (math.nan, math.nan))
    cv = unicycle_rollout(start, twist, dts) if len(path_t) else np.zeros((0, len(dts), 3))
    for k in range(1, len(dts)):
        truth, ok = odometry_at(rec, path_t + dts[k], max_gap)[0::2]
        use = ok & ok0
        out['pairs'].append(int(use.sum()))
        if not use.any():
            for key in _KEYS:
                out[key].append(math.nan)
                out[key + '_yaw'].append(math.nan)
            continue
        anchored = start[use] + (poses[use, k] - poses[use, 0])
        preds = {'model': poses[use, k], 'model_anchored': anchored,
                 'constant_velocity': cv[use, k], 'nothing_changes': start[use]}
        for key in _KEYS:
            xy, yaw = _scores(preds[key], truth[use])
            out[key].append(xy)
            out[key + '_yaw'].append(yaw)
    return out


def format_path_summary(errors: Dict[str, Any]) -> List[str]:
    """The lines the base demo prints for the predicted path."""
    def fmt(value):
        return 'n/a' if value is None or not math.isfinite(value) else f'{value:.3f}'
    lines = [f'predicted path (~/predicted_path vs odom), mean position error [m]; pose probe '
             f'on the current frame: {fmt(errors["model_now"])} m, '
             f'{fmt(errors["model_now_yaw"])} rad yaw:',
             f'  {"h":>3} {"t+[s]":>6} {"model":>8} {"anchored":>9} {"const-vel":>10} '
             f'{"no-change":>10} {"pairs":>6}']
    for i, h in enumerate(errors['horizon_steps']):
        lines.append(f'  {h:>3} {errors["horizon_s"][i]:>6.2f} {fmt(errors["model"][i]):>8} '
                     f'{fmt(errors["model_anchored"][i]):>9} '
                     f'{fmt(errors["constant_velocity"][i]):>10} '
                     f'{fmt(errors["nothing_changes"][i]):>10} {errors["pairs"][i]:>6}')
    return lines
