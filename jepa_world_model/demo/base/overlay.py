"""Frames of the base demo's animation (OpenCV into numpy arrays; no rclpy, no GUI).

Left: the overhead camera image, upscaled, with the model's predicted path for the next H
steps (cyan dots, from ``~/predicted_path``; the first dot is where the pose probe puts the
robot now), the constant-velocity arc from odometry (yellow) and the path the robot
actually took (white, odometry). Poses are projected with the fixed camera's pinhole model
(:meth:`~.geometry.BaseRoom.project`). Right: x and y over time (actual, predicted,
constant velocity), then ``~/surprise`` with collisions shaded red.
"""

from __future__ import annotations

from typing import List

import cv2
import numpy as np

from ..analysis import Recording
from ..overlay import (camera_panel, clip_of, COLORS, matched_index, measured_series,
                       pixel_points, side_panel, surprise_row)
from .analysis import odometry_at, PathRecording, unicycle_rollout
from .geometry import BaseRoom

__all__ = ['animation_frames']


def animation_frames(rec: Recording, path: PathRecording, room: BaseRoom, clip: slice,
                     dt: float, scale: int = 4, past_s: float = 4.0,
                     panel_width: int = 320) -> List[np.ndarray]:
    """Frames ``rec.images[clip]`` with the predicted path overlaid (see the module doc)."""
    shown = clip_of(rec, clip, dt)
    frame_t, images = shown.frame_t, shown.images
    if len(frame_t) == 0:
        return []
    gap = 0.5 * dt
    dts = np.asarray(path.path_dt, float)
    pose_now, twist_now, _ = odometry_at(path, frame_t, gap)
    idx = matched_index(path.path_t, frame_t, gap)
    lim = room.half_extent + 0.1
    height = int(images.shape[1]) * scale
    frames = []
    for i, t in enumerate(frame_t):
        pred = path.path_pose[idx[i]] if idx[i] >= 0 else None
        actual = odometry_at(path, t + dts, gap)[0]
        const = unicycle_rollout(pose_now[i], twist_now[i], dts)[0]
        lines = shown.status(i, first=[''])   # a first row would lie on the dark wall
        cam = camera_panel(images[i], scale, None if pred is None else
                           room.project(pred, scale), room.project(actual, scale), None,
                           lines, 'COLLISION' if shown.collision[i] else '')
        pts = pixel_points(room.project(const, scale))
        if len(pts) > 1:
            cv2.polylines(cam, [pts], False, COLORS['cv'], 1, cv2.LINE_AA)
        t_range = (t - past_s, t + 1.2 * (dts[-1] if len(dts) > 1 else 1.0))
        rows = []
        for j, name in enumerate(('x [m]', 'y [m]')):
            series = measured_series(path.odom_t, path.odom_pose[:, j], t_range, t) + [
                (t + dts, const[:, j], COLORS['cv'], 1)]
            if pred is not None:
                series.append((t + dts, pred[:, j], COLORS['pred'], 2))
            rows.append({'label': name, 'y_range': (-lim, lim), 'series': series,
                         'spans': shown.hit_spans, 'hline': 0.0})
        rows.append(surprise_row(rec, shown, t_range, t))
        side = side_panel(panel_width, height, t_range, t, rows,
                          'cyan: model   yellow: const-vel   white/grey: odom')
        frames.append(np.concatenate([cam, side], axis=1))
    return frames
