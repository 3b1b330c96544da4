"""Frames of the arm demo's animation, drawn with OpenCV into numpy arrays (no rclpy, no GUI).

Each frame has two panels (the drawing helpers are in ``demo/overlay.py``):

* the camera image, upscaled, with the model's predicted end-effector path for the next
  H steps (cyan dots; the predicted arm pose at t+H as a thin cyan skeleton) and the
  path the end-effector actually took (white), both from forward kinematics of joint
  angles projected with the camera intrinsics;
* time traces around "now": each joint's measured angle (white up to now, grey after),
  the model's predicted trajectory from this frame (cyan) and the constant-velocity
  extrapolation (yellow), then ``~/surprise`` with collisions marked in red.
"""

from __future__ import annotations

from typing import List

import numpy as np

from ..analysis import interpolate_at, Recording
from ..overlay import (camera_panel, clip_of, COLORS, matched_index, measured_series,
                       side_panel, surprise_row)

__all__ = ['animation_frames']


def animation_frames(rec: Recording, kin, clip: slice, dt: float, scale: int = 4,
                     past_s: float = 4.0, panel_width: int = 320) -> List[np.ndarray]:
    """Frames ``rec.images[clip]`` with predictions overlaid (see the module docstring).

    Args:
        rec: The recording (images, joint states, predictions, surprise, flags).
        kin: :class:`~.kinematics.ArmKinematics` for forward kinematics and projection.
        clip: Which frames.
        dt: Model step period [s] (the prediction/measurement matching tolerance is dt/2).
        scale: Camera upscale factor.
        past_s: Seconds of history in the traces.
        panel_width: Width of the trace panel [px].
    """
    shown = clip_of(rec, clip, dt)
    frame_t, images = shown.frame_t, shown.images
    if len(frame_t) == 0:
        return []
    gap = 0.5 * dt
    horizon = np.asarray(rec.pred_dt, float)
    q_now, _ = interpolate_at(rec.joint_t, rec.q, frame_t, gap)
    dq_now, _ = interpolate_at(rec.joint_t, rec.dq, frame_t, gap)
    pred_idx = matched_index(rec.pred_t, frame_t, gap)
    t_end = frame_t[-1] + horizon[-1] if len(horizon) else frame_t[-1]
    window = (rec.joint_t >= frame_t[0] - past_s) & (rec.joint_t <= t_end)
    q_lo = np.nanmin(rec.q[window], axis=0) - 0.15 if window.any() else -np.pi * np.ones(3)
    q_hi = np.nanmax(rec.q[window], axis=0) + 0.15 if window.any() else np.pi * np.ones(3)
    height = int(images.shape[1]) * scale
    frames = []
    for i, t in enumerate(frame_t):
        pred = rec.pred_q[pred_idx[i]] if pred_idx[i] >= 0 else None
        future, _ = interpolate_at(rec.joint_t, rec.q, t + horizon, gap)
        actual_px = kin.project(kin.end_effector(np.vstack([q_now[i:i + 1], future])), scale)
        pred_px = skeleton_px = None
        if pred is not None:
            pred_px = kin.project(kin.end_effector(np.vstack([q_now[i:i + 1], pred])), scale)
            skeleton_px = kin.project(kin.skeleton(pred[-1:])[0], scale)
        cam = camera_panel(images[i], scale, pred_px, actual_px, skeleton_px, shown.status(i),
                           'COLLISION' if shown.collision[i] else '')
        rows = []
        t_range = (t - past_s, t + 1.2 * (horizon[-1] if len(horizon) else 1.0))
        for j, name in enumerate(rec.joint_names):
            series = measured_series(rec.joint_t, rec.q[:, j], t_range, t) + [
                (np.r_[t, t + horizon], np.r_[q_now[i, j], q_now[i, j] + horizon * dq_now[i, j]],
                 COLORS['cv'], 1)]
            if pred is not None:
                series.append((np.r_[t, t + horizon], np.r_[q_now[i, j], pred[:, j]],
                               COLORS['pred'], 2))
            rows.append({'label': f'{name} [rad]', 'y_range': (q_lo[j], q_hi[j]),
                         'series': series, 'spans': shown.hit_spans})
        rows.append(surprise_row(rec, shown, t_range, t))
        side = side_panel(panel_width, height, t_range, t, rows,
                          'cyan: model   yellow: const-vel   white/grey: actual')
        frames.append(np.concatenate([cam, side], axis=1))
    return frames
